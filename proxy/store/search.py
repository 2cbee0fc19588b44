"""Full-text search over the instruction and the completion text, one interface for both databases.

SQLite: an FTS5 table; PostgreSQL: a ``tsvector`` column with a GIN index (the
``simple`` configuration: no stemming, so a leaked identifier is found as typed).
The loader keeps it in step (:func:`index_pairs` runs inside its insert
transaction) and :func:`unindex` drops what retention purges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, column, delete, select, table, text
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


def searchable_text(body: dict[str, Any]) -> str | None:
    """What search looks at: the human instruction and the completion text."""
    parts = [decompress(body.get(column)) for column in ("instruction", "completion_text")]
    joined = "\n".join(part.decode("utf-8", errors="replace") for part in parts if part)
    return joined or None


def index_pairs(conn: Connection, pairs: Sequence[RowPair]) -> None:
    """Index the bodies of ``pairs`` not stored yet: call it before the events are inserted
    (a replayed record is already in ``events`` and already indexed)."""
    documents = {event["id"]: searchable_text(body) for event, body in pairs if body is not None}
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
