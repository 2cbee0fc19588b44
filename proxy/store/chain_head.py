"""The provenance chain's head as the spool knows it, including segments already deleted.

Spooled records may not be in the database yet (it was down, or the process died
first); the chain must continue after them, not after the database's head, or
sequence numbers would be handed out twice. Before the loader deletes segments it
remembers their highest link in a small fsync'd file, so the head stays known even
when the database is unreachable at the next start.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from proxy.store.rows import decode_chain_link
from proxy.store.spool import Spool

CHAIN_HEAD_FILE = "chain-head"

ChainHead = tuple[int, str]


def spooled_chain_head(spool: Spool) -> ChainHead | None:
    """The highest ``(seq, record_hash)`` the spool holds or held, if any."""
    heads = [chain_head_in(spool, spool.segments()), remembered_chain_head(spool)]
    known = [head for head in heads if head is not None]
    return max(known) if known else None


def chain_head_in(spool: Spool, segments: Sequence[int]) -> ChainHead | None:
    head: ChainHead | None = None
    for segment in segments:
        try:
            for payload, _ in spool.read(segment):
                seq, digest = decode_chain_link(payload)
                if seq is not None and digest is not None and (head is None or seq > head[0]):
                    head = (seq, digest)
        except OSError:  # deleted meanwhile: its head was remembered first
            continue
    return head


def remembered_chain_head(spool: Spool) -> ChainHead | None:
    try:
        seq, digest = (spool.directory / CHAIN_HEAD_FILE).read_text().split()
        return int(seq), digest
    except (OSError, ValueError):
        return None


def remember_chain_head(spool: Spool, segments: Sequence[int]) -> None:
    """Before ``segments`` are deleted, keep their highest chain link (fsync'd): rare, once a segment."""
    head = chain_head_in(spool, segments)
    remembered = remembered_chain_head(spool)
    if head is None or (remembered is not None and remembered[0] >= head[0]):
        return
    path = spool.directory / CHAIN_HEAD_FILE
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(f"{head[0]} {head[1]}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
