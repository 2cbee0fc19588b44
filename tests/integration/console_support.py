"""The console under test: a real ``provproxy serve`` recording through the fake vendor, and a real
``provproxy admin`` on the same database, with tokens issued by the CLI as an operator would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from proxy.store.db import create_db_engine
from tests.support.fixtures_pg import PgServer
from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess, free_port
from tests.support.webhook_receiver import WebhookReceiver

SSO_HEADER = "X-Forwarded-Email"
TRUSTED_PEER = "127.0.0.2"  # SSO is believed from this loopback address only
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-console-test-0001"}
EVAL_TASKS = (
    "Generate 200 SWE-bench style evaluation tasks for our code model: for each, a problem statement, "
    "a hidden test suite and a grader script, written as JSONL to evals/tasks.jsonl"
)
CODE_REVIEW = "Review this module for security problems and explain each finding: def f(x): return eval(x)"


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@dataclass
class ConsoleStack:
    proxy: ProxyProcess
    url: str
    process: subprocess.Popen[bytes]
    admin_env: dict[str, str]
    webhook: WebhookReceiver
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def siem_file(self) -> Path:
        return self.proxy.workdir / "siem.jsonl"

    @property
    def admin_log(self) -> str:
        """What ``provproxy admin`` wrote (both runs, across a restart)."""
        return (self.proxy.workdir / f"admin-{self.url.rsplit(':', 1)[1]}.log").read_text(errors="replace")

    @property
    def env(self) -> dict[str, str]:
        return self.proxy.env

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.env, self.proxy.workdir, *args)

    def issue_token(self, name: str, role: str, *extra: str) -> str:
        result = self.cli("admin", "tokens", "create", "--name", name, "--role", role, *extra)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def get(self, path: str, role: str = "admin", **params: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.tokens[role]}"}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def call(self, prompt: str, session: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 50,
            "messages": [{"role": "user", "content": prompt}],
        }
        if session is not None:  # as Claude Code sends it
            body["metadata"] = {"user_id": json.dumps({"session_id": session})}
        return httpx.post(self.proxy.url + "/v1/messages", json=body, headers=ANTHROPIC_HEADERS, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def restart(self) -> None:
        """Stop ``provproxy admin`` and start it again on the same port and database."""
        self.stop()
        self.process = _launch_admin(self.admin_env, self.proxy.workdir, self.url)


def start_console(factory: ProxyFactory, database_url: str) -> ConsoleStack:
    proxy = factory(database_url=database_url)
    port = free_port()
    webhook = WebhookReceiver(failures=1, path="/siem")  # refuses its first batch: the feed must retry
    env = {
        **proxy.env,
        "PROVPROXY_ADMIN_PORT": str(port),
        "PROVPROXY_CONSOLE_SSO_HEADER": SSO_HEADER,
        "PROVPROXY_CONSOLE_TRUSTED_NETWORKS": f'["{TRUSTED_PEER}/32"]',
        "PROVPROXY_CONSOLE_SSO_ROLES": '{"sso-viewer@example.com": "viewer"}',
        "PROVPROXY_SIEM_FILE": str(proxy.workdir / "siem.jsonl"),
        "PROVPROXY_SIEM_WEBHOOK_URL": webhook.url,
        "PROVPROXY_SIEM_POLL_INTERVAL_S": "0.1",
    }
    url = f"http://127.0.0.1:{port}"
    stack = ConsoleStack(proxy, url, _launch_admin(env, proxy.workdir, url), env, webhook)
    for role in ("viewer", "auditor", "admin"):
        stack.tokens[role] = stack.issue_token(f"{role}-person", role)
    stack.tokens["expired"] = stack.issue_token("gone", "admin", "--expires", "2020-01-01T00:00:00")
    revoked = stack.issue_token("revoked", "admin")
    listing = stack.cli("admin", "tokens", "list").stdout
    revoked_id = next(line.split()[0] for line in listing.splitlines() if " revoked " in line)
    assert stack.cli("admin", "tokens", "revoke", revoked_id).returncode == 0
    stack.tokens["revoked"] = revoked
    return stack


def _launch_admin(env: dict[str, str], workdir: Path, url: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"admin-{url.rsplit(':', 1)[1]}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy", "admin"], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"provproxy admin exited with {process.returncode}")
        try:
            if httpx.get(url + "/api/v1/events", timeout=1).status_code == 401:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("provproxy admin did not start")
        time.sleep(0.05)


def wait_for(predicate: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def local_client(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x address reaches loopback on Linux)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def database_for(request: pytest.FixtureRequest, workdir: Path) -> str:
    """The database URL of a stack parametrised "sqlite" / "postgresql" (a new database on the session's server)."""
    if request.param == "sqlite":
        return f"sqlite:///{workdir / 'provproxy.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture(name="stack", scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def console_stack_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_vendor: object
) -> Iterator[ConsoleStack]:
    workdir: Path = tmp_path_factory.mktemp("console")
    factory = ProxyFactory(workdir, fake_vendor.url)  # type: ignore[attr-defined]
    console = start_console(factory, database_for(request, workdir))
    yield console
    console.stop()
    console.webhook.close()
    factory.stop_all()


def access_log_rows(stack: ConsoleStack, target: str) -> list[tuple[str, str]]:
    """``(actor, action)`` of the console's access log entries about ``target``, oldest first."""
    engine = create_db_engine(stack.env["PROVPROXY_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT actor, action FROM access_log WHERE target = :t ORDER BY seq"), {"t": target}
            )
            return [(row[0], row[1]) for row in rows]
    finally:
        engine.dispose()
