"""Pytest plugin: the proxy itself, started as ``provproxy serve`` on a loopback port.

The proxy runs in its own process (as in production), configured only through
``PROVPROXY_*`` environment variables, so tests see exactly what users see and
can kill it (``kill -9``) to test durability.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from proxy.store.db import create_db_engine
from proxy.store.queries import EventFilter, get_event, list_events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ProxyProcess:
    """A running ``provproxy serve``; ``url`` is its base URL."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_port = free_port()
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"  # /metrics
        self.log_path = workdir / f"proxy-{self.port}.log"
        self.env = {
            **os.environ,
            **env,
            "PROVPROXY_HOST": "127.0.0.1",
            "PROVPROXY_PORT": str(self.port),
            "PROVPROXY_ADMIN_HOST": "127.0.0.1",
            "PROVPROXY_ADMIN_PORT": str(self.admin_port),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ProxyProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve"],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"proxy did not become healthy:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def database_url(self) -> str:
        return self.env["PROVPROXY_DATABASE_URL"]

    def events(self, at_least: int = 1, timeout: float = 15.0, **filters: Any) -> list[dict[str, Any]]:
        """Recorded events (oldest first), once at least ``at_least`` match ``filters``."""
        engine = create_db_engine(self.database_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                with Session(engine) as session:
                    found = list_events(session, EventFilter(limit=10_000, **filters))
                if len(found) >= at_least or time.monotonic() > deadline:
                    return sorted(found, key=lambda e: e["id"])
                time.sleep(0.05)
        finally:
            engine.dispose()

    def event(self, event_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """One recorded event with its bodies, waiting for the writer to load it."""
        engine = create_db_engine(self.database_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                with Session(engine) as session:
                    found = get_event(session, event_id)
                if found is not None:
                    return found
                if time.monotonic() > deadline:
                    raise AssertionError(f"event {event_id} was not recorded within {timeout} s")
                time.sleep(0.05)
        finally:
            engine.dispose()


class ProxyFactory:
    """Starts proxies with per-test settings and stops them all at teardown."""

    def __init__(self, workdir: Path, upstream_url: str) -> None:
        self.workdir = workdir
        self.upstream_url = upstream_url
        self.started: list[ProxyProcess] = []

    def __call__(self, **settings: str) -> ProxyProcess:
        env = {
            "PROVPROXY_UPSTREAM_ANTHROPIC": self.upstream_url,
            "PROVPROXY_UPSTREAM_OPENAI": self.upstream_url,
            "PROVPROXY_UPSTREAM_GEMINI": self.upstream_url,
            "PROVPROXY_DATABASE_URL": f"sqlite:///{self.workdir / 'provproxy.db'}",
            "PROVPROXY_SPOOL_DIR": str(self.workdir / "spool"),
            "PROVPROXY_SIGNING_KEY_FILE": str(self.workdir / "signing-key.pem"),
            "PROVPROXY_CHECKPOINT_DIR": str(self.workdir / "checkpoints"),
            "PROVPROXY_KEY_SALT": "test-salt-0123456789abcdef",
        }
        env.update({f"PROVPROXY_{k.upper()}": v for k, v in settings.items()})
        proc = ProxyProcess(self.workdir, env).start()
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            proc.stop()


@pytest.fixture
def start_proxy(tmp_path: Path, fake_vendor: object) -> Iterator[ProxyFactory]:
    """``start_proxy(**settings)`` → a running proxy whose upstreams are the fake vendor."""
    factory = ProxyFactory(tmp_path, fake_vendor.url)  # type: ignore[attr-defined]
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def shared_proxy(tmp_path_factory: pytest.TempPathFactory, fake_vendor: object) -> Iterator[ProxyProcess]:
    """One proxy (default settings) shared by a module's read-only tests."""
    factory = ProxyFactory(tmp_path_factory.mktemp("proxy"), fake_vendor.url)  # type: ignore[attr-defined]
    yield factory()
    factory.stop_all()
