"""Zero loss, counted, through the real ``provproxy serve`` process (issue 3).

Calls of every vendor and shape go through the proxy while the database goes
down and comes back, while the proxy is killed with SIGKILL and restarted, and
while nothing durable is available at all; afterwards the database is counted
against what the clients saw, and the hash chain is checked end to end.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from tests.integration.conftest import (
    CALL_KINDS,
    FAST_WRITER,
    ONE_PER_ENDPOINT,
    STREAMING_KINDS,
    CallKind,
    CallResult,
    ClientPool,
    Database,
    assert_one_contiguous_chain,
    call,
    mixed_calls,
    recorder_gauge,
    verify_chain,
    wait_for,
)
from tests.support.fake_vendor import FakeVendor
from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize(
    "database", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def start(start_proxy: ProxyFactory, database: Database, **settings: str) -> ProxyProcess:
    return start_proxy(database_url=database.url, **FAST_WRITER, **settings)


def wait_until_stored(database: Database, count: int, timeout: float = 20.0) -> list[tuple[str, int | None, str]]:
    """The stored rows, once there are at least ``count`` (the spool drains in the background)."""
    rows: list[tuple[str, int | None, str]] = []

    def enough() -> bool:
        nonlocal rows
        rows = database.rows()
        return len(rows) >= count

    wait_for(enough, f"{count} events in the database (have {len(rows)})", timeout)
    return rows


def assert_trailers_match(results: list[CallResult], rows: list[tuple[str, int | None, str]]) -> None:
    """The chain position announced at the end of each SSE stream is the one stored."""
    stored = {event_id: seq for event_id, seq, _ in rows}
    announced = [(r.event_id, r.trailer_seq) for r in results if r.event_id and r.trailer_seq is not None]
    assert announced, "no stream announced its chain position"
    assert all(stored.get(event_id) == seq for event_id, seq in announced)


# -- 1. database outage mid-run --------------------------------------------------------------


def test_database_outage_mid_run_loses_nothing(start_proxy: ProxyFactory, database: Database) -> None:
    n = 64
    proxy = start(start_proxy, database)
    with ClientPool(proxy.url, mixed_calls(n)) as clients:
        wait_for(lambda: clients.done >= 16, "the first calls")
        database.down()
        # The writer must really have lost the database (not merely been slow) while calls went on.
        wait_for(lambda: recorder_gauge(proxy, "db_up") == 0.0, "the recorder to report the database down")
        wait_for(lambda: clients.done >= 40, "calls during the outage")
        stored_during_outage = len(database.rows()) if database.kind == "sqlite" else None
        database.up()
        clients.join()

    results = clients.results
    assert len(results) == n
    assert all(r.status == 200 and r.ended for r in results), [r for r in results if not r.ended][:3]
    rows = wait_until_stored(database, n)
    assert len(rows) == n, f"{len(rows)} events stored for {n} calls"
    assert {r.event_id for r in results} == {event_id for event_id, _, _ in rows}
    assert_one_contiguous_chain(rows)
    assert_trailers_match(results, rows)
    assert all(outcome == "completed" for _, _, outcome in rows)
    assert recorder_gauge(proxy, "spool_replayed") > 0, "nothing came back from the spool: was the outage real?"
    if stored_during_outage is not None:
        assert stored_during_outage < 40
    assert "OK" in verify_chain(proxy)


# -- 2. kill -9 mid-run and restart ----------------------------------------------------------


def test_kill_9_mid_run_keeps_every_call_the_client_saw_end(start_proxy: ProxyFactory, database: Database) -> None:
    """Two crashes in a row, each with calls in flight; then a restart replays the spool."""
    seen_ended: list[CallResult] = []
    for _ in range(2):
        proxy = start(start_proxy, database)  # same workdir each time: the same spool
        with ClientPool(proxy.url, mixed_calls(400)) as clients:
            wait_for(lambda: clients.done >= 15, "calls before the crash")
            proxy.kill9()
            clients.join()
        assert len(clients.ended()) >= 10
        seen_ended += clients.ended()

    last = start(start_proxy, database)
    rows = wait_until_stored(database, len(seen_ended))
    stored = {event_id for event_id, _, _ in rows}
    missing = [r for r in seen_ended if r.event_id not in stored]
    assert not missing, f"{len(missing)} calls the client saw end are not recorded: {missing[:3]}"

    # The restarted proxy continues the chain after everything the crashed ones sealed.
    with httpx.Client(timeout=30.0) as client:
        after = [call(client, last.url, kind) for kind in CALL_KINDS]
    assert all(r.ended for r in after)
    rows = wait_until_stored(database, len(rows) + len(after))
    assert_one_contiguous_chain(rows)
    assert_trailers_match(seen_ended + after, rows)
    assert "OK" in verify_chain(last)


def test_restart_with_the_database_down_continues_the_chain(start_proxy: ProxyFactory, database: Database) -> None:
    """Sealed records that exist only in the spool when the proxy dies must not have their seq reused."""
    first = start(start_proxy, database)
    with httpx.Client(timeout=30.0) as client:
        before = [call(client, first.url, kind) for kind in CALL_KINDS]
        database.down()
        during = [call(client, first.url, kind) for kind in CALL_KINDS]
        wait_for(lambda: recorder_gauge(first, "db_up") == 0.0, "the recorder to report the database down")
        first.kill9()

        # The database is still down (and so cannot be migrated: see the test below).
        second = start(start_proxy, database, migrate_on_start="false")
        assert recorder_gauge(second, "db_up") == 0.0
        after = [call(client, second.url, kind) for kind in CALL_KINDS]
    database.up()

    results = before + during + after
    assert all(r.status == 200 and r.ended for r in results)
    rows = wait_until_stored(database, len(results))
    assert len(rows) == len(results)
    assert {r.event_id for r in results} == {event_id for event_id, _, _ in rows}
    assert_one_contiguous_chain(rows)
    assert_trailers_match(results, rows)
    assert "OK" in verify_chain(second)


@POSTGRES_ONLY  # an embedded SQLite file is not "down" at start; a database server can be
def test_serve_starts_while_the_database_is_down(start_proxy: ProxyFactory, database: Database) -> None:
    """A proxy restarted during a database outage must come up and spool, not exit."""
    start(start_proxy, database).stop()  # creates and migrates the database
    database.down()
    proxy = start(start_proxy, database)  # default settings: migrate on start
    with httpx.Client(timeout=30.0) as client:
        results = [call(client, proxy.url, kind) for kind in CALL_KINDS]
    assert all(r.status == 200 and r.ended for r in results)
    database.up()
    rows = wait_until_stored(database, len(results))
    assert {r.event_id for r in results} == {event_id for event_id, _, _ in rows}


# -- the order the guarantee rests on ----------------------------------------------------------


def test_client_sees_the_end_only_once_the_event_is_durable(
    start_proxy: ProxyFactory, tmp_path: Path, fake: FakeVendor
) -> None:
    """With the spool unusable, durability waits on a locked SQLite database: no client's
    response (JSON or SSE) may be complete before the lock is released and its event stored."""
    database = Database("sqlite", f"sqlite:///{tmp_path / 'events.db'}", None)
    proxy = start_proxy(database_url=database.url, spool_dir=str(unusable(tmp_path)), database_busy_timeout_ms="8000")
    kinds = [CALL_KINDS[0], CALL_KINDS[1]]  # Anthropic JSON and SSE
    results: list[CallResult] = []

    def client(kind: CallKind) -> None:
        with httpx.Client(timeout=30.0) as http:
            results.append(call(http, proxy.url, kind))

    database.down()
    clients = [threading.Thread(target=client, args=(kind,)) for kind in kinds]
    try:
        for thread in clients:
            thread.start()
        wait_for(lambda: fake.count() == len(kinds), "the calls to reach the fake vendor")
        time.sleep(1.0)  # the upstream answered long ago; only the records are pending
        finished_early = [t for t in clients if not t.is_alive()]
        assert database.rows() == []
    finally:
        database.up()
    for thread in clients:
        thread.join(30)
    assert len(results) == len(kinds) and all(r.ended for r in results)
    assert not finished_early, "a client saw its response end while the event was not yet durable"
    assert {event_id for event_id, _, _ in database.rows()} == {r.event_id for r in results}


# -- 3. fail-closed ---------------------------------------------------------------------------


def unusable(tmp_path: Path) -> Path:
    """A directory path that cannot be created, even by root: its parent is a regular file."""
    blocker = tmp_path / "regular-file"
    blocker.write_text("not a directory\n")
    return blocker / "spool"


def unreachable_database(database: Database, tmp_path: Path) -> str:
    """The database URL while it is down: PostgreSQL stopped; SQLite on a volume that is gone."""
    if database.kind == "postgresql":
        database.down()
        return database.url
    return f"sqlite:///{unusable(tmp_path) / 'events.db'}"


def assert_vendor_503(kind: CallKind, response: CallResult) -> None:
    assert response.status == 503, response
    error = orjson.loads(response.body)
    if kind.name.startswith("anthropic"):
        assert error["type"] == "error" and "type" in error["error"]
    else:  # OpenAI and Gemini both nest {"error": {"message": ...}}
        assert error["error"]["message"]


def test_fail_closed_refuses_when_nothing_durable_is_available(
    start_proxy: ProxyFactory, database: Database, fake: FakeVendor, tmp_path: Path
) -> None:
    url = unreachable_database(database, tmp_path)
    proxy = start_proxy(
        database_url=url, spool_dir=str(unusable(tmp_path)), fail_closed="true", migrate_on_start="false"
    )
    assert httpx.get(proxy.url + "/readyz").status_code == 503
    with httpx.Client(timeout=30.0) as client:
        results = [call(client, proxy.url, kind) for kind in CALL_KINDS]
    for kind, result in zip(CALL_KINDS, results, strict=True):
        assert_vendor_503(kind, result)
        assert result.event_id
    assert fake.count() == 0, "fail-closed forwarded a call it could not record"


@SQLITE_ONLY  # the recorder logic under test does not depend on the database kind
def test_fail_open_forwards_and_says_so_when_nothing_durable_is_available(
    start_proxy: ProxyFactory, database: Database, fake: FakeVendor, tmp_path: Path
) -> None:
    url = unreachable_database(database, tmp_path)
    proxy = start_proxy(database_url=url, spool_dir=str(unusable(tmp_path)), migrate_on_start="false")
    kinds = ONE_PER_ENDPOINT
    with httpx.Client(timeout=30.0) as client:
        results = [call(client, proxy.url, kind) for kind in kinds]
    assert all(r.status == 200 and r.ended for r in results)
    assert fake.count() == len(kinds)
    log = proxy.log()
    assert "spool unavailable" in log
    assert log.count("record_not_durable") == len(kinds)


@SQLITE_ONLY  # the recorder logic under test does not depend on the database kind
def test_fail_closed_refuses_once_the_database_goes_down_mid_run(
    start_proxy: ProxyFactory, database: Database, fake: FakeVendor, tmp_path: Path
) -> None:
    """No spool, and the database fails while the proxy runs.

    The call that discovers the outage was already forwarded: its response must not
    look complete (its record is not durable). Every call after it is refused."""
    proxy = start(start_proxy, database, spool_dir=str(unusable(tmp_path)), fail_closed="true")
    with httpx.Client(timeout=30.0) as client:
        assert call(client, proxy.url, CALL_KINDS[0]).status == 200
        database.down()
        fake.reset()
        results = [call(client, proxy.url, kind) for kind in ONE_PER_ENDPOINT]
    discovering, refused = results[0], results[1:]
    assert discovering.status == 503 or not discovering.ended, "a response ended without a durable record"
    assert fake.count() <= 1, f"forwarded {fake.count()} calls after the database went down, with no spool"
    for kind, result in zip(ONE_PER_ENDPOINT[1:], refused, strict=True):
        assert_vendor_503(kind, result)


# -- 4. client disconnect mid-stream -------------------------------------------------------------


@pytest.mark.parametrize("kind", STREAMING_KINDS, ids=lambda k: k.name)
def test_client_disconnect_mid_stream_keeps_the_partial_completion(
    shared_proxy: ProxyProcess, fake: FakeVendor, kind: CallKind
) -> None:
    reply = "alpha-bravo-charlie-delta-echo-foxtrot"
    gate = uuid.uuid4().hex
    proxy = shared_proxy
    prompt = f"Tell me a story. [[fake:gated chunks=4 id={gate} reply={reply}]]"
    first_piece = reply[: len(reply) // 4].encode()
    with (
        httpx.Client(timeout=10.0) as client,
        client.stream("POST", proxy.url + kind.path, headers=kind.headers, json=kind.body(prompt)) as response,
    ):
        event_id = response.headers["x-provenance-id"]
        fake.release(gate)  # one more delta; the rest stays gated until the client is gone
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if first_piece in received:
                break  # leave mid-stream: the rest is still gated
    fake.wait_for_disconnects(1, timeout=10.0)

    def disconnected() -> bool:
        return proxy.event(event_id)["outcome"] == "client_disconnected"

    wait_for(disconnected, "the event to be recorded as client_disconnected")
    event = proxy.event(event_id)
    completion = event["body"]["completion_text"]
    assert completion and reply.startswith(completion) and completion != reply, completion
    assert first_piece.decode() in completion
    assert event["stream"] is True
