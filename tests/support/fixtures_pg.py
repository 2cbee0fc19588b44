"""A throwaway PostgreSQL server for the test session (pytest plugin).

Use it from a conftest with ``from tests.support.fixtures_pg import pg_server  # noqa: F401``.
``pg_server`` (session-scoped) is a :class:`PgServer`: ``.url`` (the
``postgres`` database), ``.new_database() -> str`` (URL of a fresh, empty
database), ``.stop()`` / ``.start()`` (to take the server down mid-test; same
port and data) and ``.running``. Without PostgreSQL binaries the tests that use
it are skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (Debian layout, or on PATH)."""
    candidates = sorted(glob.glob(PG_BIN_GLOB), key=lambda p: int(Path(p).parent.name))
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PgServer:
    """One PostgreSQL cluster in a temporary directory, on a loopback port, trust auth."""

    def __init__(self, bin_dir: Path, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="provproxy-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.running = False
        # initdb refuses to run as root: run the server as the postgres OS user then.
        self._user = "postgres" if os.geteuid() == 0 else None
        self._durable = durable

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.data.mkdir()
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chmod(self.base, 0o755)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.base}'",
            "max_connections = 100",
        ]
        if not self._durable:  # tests check logic, not the disk: skip PostgreSQL's own fsyncs
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n".join(settings) + "\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "30", "start")
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def dump(self, database_url: str) -> bytes:
        """``pg_dump`` of a database, to check what it holds byte for byte."""
        database = database_url.rsplit("/", 1)[1]
        command = [str(self.bin_dir / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", database]
        return subprocess.run(command, check=True, capture_output=True).stdout

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stdout}{result.stderr}")


def skip_or_fail(reason: str) -> None:
    """Skip with the reason; on CI a missing PostgreSQL is a failure, never a silent skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests must run on CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        skip_or_fail(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and PATH); "
            "install the Debian package `postgresql` to run these tests"
        )
        raise AssertionError("unreachable")
    server = PgServer(bin_dir)
    try:
        server.init()
        server.start()
    except Exception:
        server.destroy()
        raise
    try:
        yield server
    finally:
        server.destroy()
