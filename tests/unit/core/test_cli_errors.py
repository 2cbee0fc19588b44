"""Configuration mistakes are one line and exit 2; read-only commands never create a database (issue 11, item 16).

Each case runs the real ``provproxy`` command line in an empty directory, as an
operator who mistyped a setting (or ran it in the wrong directory) would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

EXIT_CONFIGURATION = 2


def closed_port() -> int:
    """A loopback port nothing listens on (PostgreSQL down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def provproxy(workdir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVPROXY_")}
    env.update({f"PROVPROXY_{name.upper()}": value for name, value in settings.items()})
    env.setdefault("PROVPROXY_PORT", str(closed_port()))
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_configuration_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == EXIT_CONFIGURATION, output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) == 1, output
    for text in expected:
        assert text in output, output
    return output


POSTGRES_DOWN = f"postgresql://alice:s3cret-pw@127.0.0.1:{closed_port()}/provproxy"

MISTAKES = [
    pytest.param(
        ("migrate",), {"database_url": "mysql://u:p@db/provproxy"}, ["PROVPROXY_DATABASE_URL", "'mysql'"], id="mysql"
    ),
    pytest.param(
        ("events",), {"database_url": "provproxy.db"}, ["PROVPROXY_DATABASE_URL", "not a database URL"], id="no-scheme"
    ),
    pytest.param(
        ("serve",),
        {"database_url": "postgresql://u:p@db:port/x"},
        ["PROVPROXY_DATABASE_URL", "not a database URL"],
        id="bad-port",
    ),
    pytest.param(
        ("migrate",),
        {"database_url": "sqlite:///no/such/dir/provproxy.db"},
        ["no/such/dir", "does not exist"],
        id="missing-directory",
    ),
    pytest.param(
        ("migrate",),
        {"database_url": POSTGRES_DOWN},
        ["cannot reach the database", "PROVPROXY_DATABASE_URL"],
        id="postgres-down-migrate",
    ),
    pytest.param(
        ("events",),
        {"database_url": POSTGRES_DOWN},
        ["cannot reach the database", "PROVPROXY_DATABASE_URL"],
        id="postgres-down-events",
    ),
    pytest.param(
        ("serve",), {"policy_file": "missing.yaml"}, ["missing.yaml", "PROVPROXY_POLICY_FILE"], id="missing-policy"
    ),
    pytest.param(
        ("serve",),
        {"policy_file": "broken.yaml"},
        ["broken.yaml", "line 3", "PROVPROXY_POLICY_FILE"],
        id="broken-policy",
    ),
    pytest.param(("serve",), {"port": "eighty"}, ["PROVPROXY_PORT"], id="port-not-a-number"),
]


@pytest.mark.parametrize(("args", "settings", "expected"), MISTAKES)
def test_a_configuration_mistake_is_one_line_naming_the_setting_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], settings: dict[str, str], expected: list[str]
) -> None:
    (tmp_path / "broken.yaml").write_text("version: 1\nrules: [\n")
    output = assert_one_line_configuration_error(provproxy(tmp_path, *args, **settings), *expected)
    assert "s3cret-pw" not in output


READ_ONLY_COMMANDS = [
    ("events",),
    ("events", "show", "0190a1b2-0000-7000-8000-000000000000"),
    ("verify",),
    ("verify", "--full"),
    ("keys", "list"),
    ("keys", "revoke", "abc123"),
    ("keys", "create", "--user", "alice"),
    ("purge", "--days", "30"),
    ("provenance", "export", "0190a1b2-0000-7000-8000-000000000000"),
]


@pytest.mark.parametrize("args", READ_ONLY_COMMANDS, ids=" ".join)
def test_a_command_in_the_wrong_directory_does_not_create_a_database(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = provproxy(tmp_path, *args)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == EXIT_CONFIGURATION, output
    assert "Traceback" not in output, output
    assert not (tmp_path / "provproxy.db").exists(), f"`provproxy {' '.join(args)}` created an empty database"


def test_a_missing_database_is_named_with_where_it_was_looked_for(tmp_path: Path) -> None:
    output = assert_one_line_configuration_error(provproxy(tmp_path, "events"), "no database at")
    assert str(tmp_path / "provproxy.db") in output


def test_migrate_still_creates_the_database(tmp_path: Path) -> None:
    result = provproxy(tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "provproxy.db").is_file()
    assert provproxy(tmp_path, "events").returncode == 0
