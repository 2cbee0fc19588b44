"""Fixtures of the integration suite: the real ``provproxy serve`` process, a database of
each kind that can be taken down on purpose, and clients that speak all three vendors."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from proxy.store.db import create_db_engine
from tests.support.fixtures_pg import PgServer, pg_server  # noqa: F401  (the fixture)
from tests.support.fixtures_proxy import ProxyProcess

# Fast retries and short lock waits, so outages are noticed and healed within a test's time.
FAST_WRITER = {"writer_retry_interval_s": "0.2", "database_busy_timeout_ms": "300"}
TRAILER = re.compile(rb": provenance id=(\S+)(?: seq=(\d+))?")


# -- the database under test -----------------------------------------------------------


class Database:
    """A migrated-on-first-start database of one kind, and a realistic way to make it refuse writes.

    SQLite: another connection holds the write lock (``BEGIN EXCLUSIVE``, as a long
    backup or a stuck writer would), so every insert fails after the busy timeout.
    PostgreSQL: the server is stopped (``pg_ctl stop -m fast``) and started again.
    """

    def __init__(self, kind: str, url: str, server: PgServer | None) -> None:
        self.kind = kind
        self.url = url
        self._server = server
        self._lock: sqlite3.Connection | None = None

    def down(self) -> None:
        if self._server is not None:
            self._server.stop()
            return
        self._lock = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        if self._server is not None:
            if not self._server.running:
                self._server.start()
        elif self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None

    def rows(self) -> list[tuple[str, int | None, str]]:
        """``(id, seq, outcome)`` of every stored event."""
        engine = create_db_engine(self.url)
        try:
            with engine.connect() as conn:
                return [(r[0], r[1], r[2]) for r in conn.execute(text("SELECT id, seq, outcome FROM events"))]
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database("sqlite", f"sqlite:///{tmp_path / 'events.db'}", None)
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        db = Database("postgresql", server.new_database(), server)
    yield db
    db.up()  # a failed test must not leave the shared server stopped


# -- clients for every vendor -----------------------------------------------------------


@dataclass(frozen=True)
class CallKind:
    name: str
    path: str
    stream: bool
    headers: dict[str, str]
    body: Callable[[str], dict[str, Any]]
    end_marker: bytes = b""  # streams: the vendor's terminal event


def _anthropic(stream: bool) -> Callable[[str], dict[str, Any]]:
    return lambda prompt: {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": prompt}],
    }


def _responses(stream: bool) -> Callable[[str], dict[str, Any]]:
    return lambda prompt: {"model": "gpt-5", "stream": stream, "input": prompt}


def _chat(stream: bool) -> Callable[[str], dict[str, Any]]:
    return lambda prompt: {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": prompt}]}


def _gemini(prompt: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}


_ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-test-durability", "anthropic-version": "2023-06-01"}
_OPENAI_HEADERS = {"authorization": "Bearer sk-test-durability"}
_GEMINI_HEADERS = {"x-goog-api-key": "AIza-test-durability"}
GEMINI_MODEL_PATH = "/v1beta/models/gemini-2.5-flash"

CALL_KINDS = [
    CallKind("anthropic", "/v1/messages", False, _ANTHROPIC_HEADERS, _anthropic(False)),
    CallKind("anthropic-stream", "/v1/messages", True, _ANTHROPIC_HEADERS, _anthropic(True), b"message_stop"),
    CallKind("responses", "/v1/responses", False, _OPENAI_HEADERS, _responses(False)),
    CallKind("responses-stream", "/v1/responses", True, _OPENAI_HEADERS, _responses(True), b"response.completed"),
    CallKind("chat", "/v1/chat/completions", False, _OPENAI_HEADERS, _chat(False)),
    CallKind("chat-stream", "/v1/chat/completions", True, _OPENAI_HEADERS, _chat(True), b"data: [DONE]"),
    CallKind("gemini", f"{GEMINI_MODEL_PATH}:generateContent", False, _GEMINI_HEADERS, _gemini),
    CallKind(
        "gemini-stream",
        f"{GEMINI_MODEL_PATH}:streamGenerateContent?alt=sse",
        True,
        _GEMINI_HEADERS,
        _gemini,
        b'"finishReason"',
    ),
]
STREAMING_KINDS = [k for k in CALL_KINDS if k.stream]
# Each endpoint once, streaming and not alternating: for tests where one call per path is enough.
ONE_PER_ENDPOINT = [CALL_KINDS[0], CALL_KINDS[3], CALL_KINDS[4], CALL_KINDS[7]]
PROMPT = "Summarise the release notes for version 2.1 in two sentences. [[fake:text chunks=3]]"


@dataclass(frozen=True)
class CallResult:
    kind: str
    status: int | None
    event_id: str | None
    # The client read the whole response to its proper end: the chunked body's terminator
    # (which the proxy sends only once the event is durable) or all Content-Length bytes.
    ended: bool
    trailer_seq: int | None  # SSE (not Gemini): the chain position announced at the end
    body: bytes


def call(client: httpx.Client, base_url: str, kind: CallKind, prompt: str = PROMPT) -> CallResult:
    """One call as a client makes it; never raises for a broken connection (``ended`` says)."""
    status: int | None = None
    event_id: str | None = None
    chunks: list[bytes] = []
    try:
        with client.stream("POST", base_url + kind.path, headers=kind.headers, json=kind.body(prompt)) as response:
            status = response.status_code
            event_id = response.headers.get("x-provenance-id")
            for chunk in response.iter_raw():
                chunks.append(chunk)
    except httpx.HTTPError:
        return CallResult(kind.name, status, event_id, False, None, b"".join(chunks))
    body = b"".join(chunks)
    trailer = TRAILER.search(body) if kind.stream else None
    ended = kind.end_marker in body if kind.stream else _is_json(body)
    seq = int(trailer.group(2)) if trailer is not None and trailer.group(2) else None
    return CallResult(kind.name, status, event_id, ended, seq, body)


def _is_json(body: bytes) -> bool:
    import orjson

    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


class ClientPool:
    """A few client threads working through ``calls`` (kinds in order) against ``base_url``.

    Stops early when ``stop`` is set or once a thread's call fails to connect (the proxy died)."""

    def __init__(self, base_url: str, calls: list[CallKind], threads: int = 4) -> None:
        self.base_url = base_url
        self.results: list[CallResult] = []
        self.stop = threading.Event()
        self._todo = list(reversed(calls))
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]

    def __enter__(self) -> ClientPool:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()

    def join(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "client threads did not finish"

    @property
    def done(self) -> int:
        with self._lock:
            return len(self.results)

    def ended(self) -> list[CallResult]:
        with self._lock:
            return [r for r in self.results if r.ended and r.status == 200]

    def _work(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(30.0)) as client:
            while not self.stop.is_set():
                with self._lock:
                    if not self._todo:
                        return
                    kind = self._todo.pop()
                result = call(client, self.base_url, kind)
                with self._lock:
                    self.results.append(result)
                if result.status is None:  # could not even get headers: the proxy is gone
                    return


def mixed_calls(n: int) -> list[CallKind]:
    return [CALL_KINDS[i % len(CALL_KINDS)] for i in range(n)]


# -- waiting and inspecting -----------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def recorder_gauge(proxy: ProxyProcess, name: str) -> float:
    """One of the recorder's ``/metrics`` gauges, e.g. ``db_up`` or ``spool_replayed``."""
    metrics = httpx.get(proxy.admin_url + "/metrics", timeout=5.0).text
    found = re.search(rf"^provproxy_recorder_{name} (\S+)$", metrics, re.MULTILINE)
    assert found is not None, f"/metrics has no provproxy_recorder_{name}"
    return float(found.group(1))


def verify_chain(proxy: ProxyProcess) -> str:
    """``provproxy verify --full`` on the proxy's database, with the proxy's key; asserts exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "verify", "--full", "--database-url", proxy.database_url],
        cwd=proxy.workdir,
        env=proxy.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"verify exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result.stdout


def assert_one_contiguous_chain(rows: list[tuple[str, int | None, str]]) -> None:
    """No duplicate ids, and seq 1..N each exactly once: the chain neither forked nor reused a number."""
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate event ids in the database"
    seqs = sorted(r[1] for r in rows if r[1] is not None)
    assert len(seqs) == len(rows), f"{len(rows) - len(seqs)} events stored unsealed (seq NULL)"
    assert seqs == list(range(1, len(rows) + 1)), f"seq not contiguous 1..{len(rows)}: {_gaps(seqs)}"


def _gaps(seqs: list[int]) -> str:
    seen: dict[int, int] = {}
    for s in seqs:
        seen[s] = seen.get(s, 0) + 1
    twice = [s for s, n in seen.items() if n > 1]
    missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
    return f"reused {twice[:10]}, missing {missing[:10]}, max {max(seqs, default=0)}"
