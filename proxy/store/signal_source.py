"""What the signal engine (:mod:`proxy.signals`) reads and writes.

It reads sealed calls in chain order (``seq``) after its cursor, the instruction texts of the few
it has not seen before, the hourly roll-up for the volume baselines; and it writes, in one
transaction, the distinct instructions and per-window state it learnt, the hits, and the cursor —
so a restart resumes exactly where the last committed batch ended, nothing counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from proxy.store.db import Database
from proxy.store.models import EventBodyRow, EventRollupRow, EventRow, SettingRow
from proxy.store.rows import decompress
from proxy.store.signal_models import SignalHitRow
from proxy.store.signal_state import SignalInstructionRow, SignalStateRow
from proxy.store.stats_rollup import bucket_column

CURSOR_KEY = "signals_events_seq"
_EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
_BODIES: Table = EventBodyRow.__table__  # type: ignore[assignment]
_ROLLUP: Table = EventRollupRow.__table__  # type: ignore[assignment]
_SETTINGS: Table = SettingRow.__table__  # type: ignore[assignment]
_HITS: Table = SignalHitRow.__table__  # type: ignore[assignment]
_INSTRUCTIONS: Table = SignalInstructionRow.__table__  # type: ignore[assignment]
_STATE: Table = SignalStateRow.__table__  # type: ignore[assignment]


class Call(NamedTuple):
    """One sealed call, as much of it as the signals read."""

    seq: int
    id: str
    ts: datetime
    principal: str | None
    team: str | None
    tool: str | None
    turn_count: int
    output_tokens: int | None
    decision: str
    use_label: str | None
    sha: str | None  # instruction_sha256


_CALL_COLUMNS = [_EVENTS.c[name] for name in (*Call._fields[:-1], "instruction_sha256")]


def read_cursor(engine: Database) -> int:
    with engine.connect() as conn:
        value = conn.execute(select(_SETTINGS.c.value).where(_SETTINGS.c.key == CURSOR_KEY)).scalar()
    return int(value) if value is not None else 0


def next_calls(engine: Database, after_seq: int, limit: int) -> list[Call]:
    query = select(*_CALL_COLUMNS).where(_EVENTS.c.seq > after_seq).order_by(_EVENTS.c.seq).limit(limit)
    with engine.connect() as conn:
        return [Call(*row) for row in conn.execute(query)]


def instruction_texts(engine: Database, event_ids: Sequence[str]) -> dict[str, str]:
    """The instruction texts kept for these events (an event without one, or unreadable, is left out)."""
    texts: dict[str, str] = {}
    if not event_ids:
        return texts
    query = select(_BODIES.c.event_id, _BODIES.c.instruction).where(
        _BODIES.c.event_id.in_(list(event_ids)), _BODIES.c.instruction.is_not(None)
    )
    with engine.connect() as conn:
        for event_id, blob in conn.execute(query):
            try:
                plain = decompress(blob)
            except Exception:  # a damaged body must not stop the signals: the call counts without text
                continue
            if plain is not None:
                texts[event_id] = plain.decode("utf-8", errors="replace")
    return texts


def load_instructions(engine: Database, since_day: datetime) -> list[dict[str, Any]]:
    """The distinct instructions of the kept days, oldest first."""
    query = select(_INSTRUCTIONS).where(_INSTRUCTIONS.c.day >= since_day).order_by(_INSTRUCTIONS.c.ts)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def load_states(engine: Database, since: datetime) -> list[dict[str, Any]]:
    query = select(_STATE).where(_STATE.c.window_start >= since)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def seq_time(engine: Database, seq: int) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(_EVENTS.c.ts).where(_EVENTS.c.seq == seq)).scalar()


def blocks_between(engine: Database, since: datetime, until_seq: int) -> list[Call]:
    """Blocked calls from ``since`` up to the cursor (the evasion signal's memory after a restart)."""
    query = (
        select(*_CALL_COLUMNS)
        .where(_EVENTS.c.decision == "block", _EVENTS.c.ts >= since, _EVENTS.c.seq <= until_seq)
        .order_by(_EVENTS.c.seq)
    )
    with engine.connect() as conn:
        return [Call(*row) for row in conn.execute(query)]


def daily_calls(
    engine: Database, principals: Iterable[str], since: datetime, until: datetime
) -> dict[str, dict[str, int]]:
    """Calls per principal per UTC day (ISO date text) in [since, until), from the hourly roll-up."""
    scopes = {f"principal={name}": name for name in principals}
    if not scopes:
        return {}
    with engine.connect() as conn:
        day = bucket_column(conn.dialect.name, "day", _ROLLUP.c.hour)
        query = (
            select(_ROLLUP.c.scope, day, func.sum(_ROLLUP.c.events))
            .where(
                _ROLLUP.c.scope.in_(list(scopes)),
                _ROLLUP.c.breakdown == "decision",  # every event has exactly one decision: the totals
                _ROLLUP.c.hour >= since,
                _ROLLUP.c.hour < until,
            )
            .group_by(_ROLLUP.c.scope, day)
        )
        counts: dict[str, dict[str, int]] = {name: {} for name in scopes.values()}
        for scope, bucket, events in conn.execute(query):
            counts[scopes[scope]][str(bucket)[:10]] = int(events)
    return counts


def team_members(engine: Database, team: str, since: datetime, until: datetime) -> set[str]:
    query = (
        select(_EVENTS.c.principal)
        .where(_EVENTS.c.team == team, _EVENTS.c.ts >= since, _EVENTS.c.ts < until, _EVENTS.c.principal.is_not(None))
        .distinct()
    )
    with engine.connect() as conn:
        return {str(name) for (name,) in conn.execute(query)}


def newest_calls(
    engine: Database,
    principal: str,
    since: datetime,
    until: datetime,
    limit: int,
    scripted: tuple[Sequence[str], int] | None,
) -> list[str]:
    """Ids of the principal's newest calls in [since, until), oldest first; ``scripted``: only those
    from clients not in the given interactive tools with at most the given turns."""
    query = select(_EVENTS.c.id, _EVENTS.c.ts).where(
        _EVENTS.c.principal == principal, _EVENTS.c.ts >= since, _EVENTS.c.ts < until
    )
    if scripted is not None:
        tools, turns = scripted
        query = query.where(
            (_EVENTS.c.tool.is_(None)) | (_EVENTS.c.tool.not_in(list(tools))), _EVENTS.c.turn_count <= turns
        )
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(_EVENTS.c.ts.desc()).limit(limit)).all()
    return [str(row[0]) for row in reversed(rows)]


def save_batch(
    engine: Database,
    cursor: int,
    instructions: Sequence[dict[str, Any]],
    states: Sequence[dict[str, Any]],
    hits: Sequence[dict[str, Any]],
) -> None:
    """Write one batch's learning and findings and move the cursor, all or nothing."""
    with engine.begin() as conn:
        if instructions:
            _upsert(conn, _INSTRUCTIONS, instructions, ["day", "principal", "sha"], {"calls": "add"})
        if states:
            _upsert(conn, _STATE, states, ["signal", "scope", "window_start"], {"data": "set"})
        if hits:
            keys = ["signal", "scope_kind", "scope", "window_start"]
            changing = ["window_end", "score", "principals", "event_ids", "detail", "updated_at"]
            _upsert(conn, _HITS, hits, keys, dict.fromkeys(changing, "set"))
        _upsert(conn, _SETTINGS, [{"key": CURSOR_KEY, "value": str(cursor)}], ["key"], {"value": "set"})


def _upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: list[str], update: dict[str, str]
) -> None:
    """INSERT … ON CONFLICT DO UPDATE on either database; "add": the stored value plus the new one."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    values = {
        name: (table.c[name] + statement.excluded[name]) if how == "add" else statement.excluded[name]
        for name, how in update.items()
    }
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=values), list(rows))
