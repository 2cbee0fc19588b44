"""Full-text search over the instruction and the completion text, one interface for both databases.

SQLite: an FTS5 table; PostgreSQL: a ``tsvector`` column with a GIN index (the
``simple`` configuration: no stemming, so a leaked identifier is found as typed).
The loader keeps it in step (:func:`index_pairs` runs inside its insert
transaction) and :func:`unindex` drops what retention purges.

An agent loop re-sends the same human instruction with every tool call of a turn: the
instruction is indexed at the first call that carries it (recently seen instructions are
remembered by digest), later calls of the loop index only their completion. Indexing a
64 KiB instruction costs ~1 ms of the loader's time, on every call otherwise. A search
for words of the instruction finds that first call; its session has the rest.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, bindparam, column, delete, select, table, text
from sqlalchemy.orm import Session

from proxy.store.models import EventRow
from proxy.store.rows import RowPair, decompress

_SQLITE_INSERT = text("INSERT INTO event_search (event_id, document) VALUES (:event_id, :document)")
_PG_INSERT = text(
    "INSERT INTO event_search (event_id, document) VALUES (:event_id, to_tsvector('simple', :document))"
    " ON CONFLICT (event_id) DO NOTHING"
)
MAX_QUERY_CHARS = 500
_SEARCH = table("event_search", column("event_id"))


def searchable_text(body: dict[str, Any], with_instruction: bool = True) -> str | None:
    """What search looks at: the human instruction and the completion text."""
    columns = ("instruction", "completion_text") if with_instruction else ("completion_text",)
    parts = [decompress(body.get(column)) for column in columns]
    joined = "\n".join(part.decode("utf-8", errors="replace") for part in parts if part)
    return joined or None


class _SeenInstructions:
    """Digests of the instructions indexed lately, each with the event that carried it first
    (bounded, least recently seen dropped)."""

    def __init__(self, size: int = 50_000) -> None:
        self._first: OrderedDict[str, str] = OrderedDict()
        self._size = size

    def indexes_instruction(self, digest: str | None, event_id: str) -> bool:
        """Whether this event's document takes the instruction: it is the first to carry it, or
        that first event again (its transaction was rolled back and is retried)."""
        if digest is None:
            return True
        first = self._first.get(digest)
        if first is not None:
            self._first.move_to_end(digest)
            return first == event_id
        self._first[digest] = event_id
        if len(self._first) > self._size:
            self._first.popitem(last=False)
        return True


# One memory per database (a process may write to several: tests, tools).
_SEEN: weakref.WeakKeyDictionary[Engine, _SeenInstructions] = weakref.WeakKeyDictionary()


def index_pairs(conn: Connection, pairs: Sequence[RowPair]) -> None:
    """Index the bodies of ``pairs`` not stored yet: call it before the events are inserted
    (a replayed record is already in ``events`` and already indexed)."""
    seen = _SEEN.setdefault(conn.engine, _SeenInstructions())
    documents = {
        event["id"]: searchable_text(body, seen.indexes_instruction(event.get("instruction_sha256"), event["id"]))
        for event, body in pairs
        if body is not None
    }
    documents = {event_id: doc for event_id, doc in documents.items() if doc}
    if not documents:
        return
    stored = select(EventRow.id).where(EventRow.id.in_(bindparam("ids", expanding=True)))
    for event_id in conn.execute(stored, {"ids": list(documents)}).scalars():
        documents.pop(event_id, None)
    if documents:
        insert = _PG_INSERT if conn.dialect.name == "postgresql" else _SQLITE_INSERT
        conn.execute(insert, [{"event_id": key, "document": doc} for key, doc in documents.items()])


def unindex(session: Session, event_ids: Select[Any]) -> None:
    """Drop the indexed text of these events (their bodies were purged); the caller commits."""
    session.execute(delete(_SEARCH).where(_SEARCH.c.event_id.in_(event_ids)))


def matching(dialect: str, query: str) -> ColumnElement[bool]:
    """A condition on ``events.id``: the event's indexed text contains ``query`` as a phrase."""
    if dialect == "postgresql":
        condition = text("document @@ phraseto_tsquery('simple', :q)").bindparams(q=query)
    else:
        phrase = '"' + query.replace('"', '""') + '"'  # one quoted phrase: no FTS5 operators from users
        condition = text("event_search MATCH :q").bindparams(q=phrase)
    return EventRow.id.in_(select(_SEARCH.c.event_id).where(condition))
