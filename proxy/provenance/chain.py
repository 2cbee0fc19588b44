"""The hash chain: each record's hash commits to its content, position and predecessor.

    record_hash(n) = SHA-256( prev_hash (32 raw bytes)
                              || seq (8 bytes, unsigned big-endian)
                              || canonical JSON of the event's immutable fields )

with ``prev_hash`` of the first record (seq 1) = 32 zero bytes. Hashes are
stored as 64 lowercase hex digits. Binding ``seq`` as well as ``prev_hash``
means a record moved to another position no longer matches its own hash even
if its neighbours were re-linked.

:class:`HashChain` is the single appender: the store's writer thread calls
:meth:`HashChain.seal` on each batch, in order, right before inserting it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence

from proxy.events import Event
from proxy.provenance.canonical import canonical_event

GENESIS_HASH = "0" * 64
_sha256 = hashlib.sha256


def record_hash(prev_hash: str, seq: int, canonical: bytes) -> str:
    return link_digest(bytes.fromhex(prev_hash), seq, canonical).hex()


def link_digest(prev_digest: bytes, seq: int, canonical: bytes) -> bytes:
    """:func:`record_hash` over raw 32-byte digests (what a walk over the chain carries along)."""
    return _sha256(prev_digest + seq.to_bytes(8, "big") + canonical).digest()


def content_digest(event: Event) -> str:
    """SHA-256 of the canonical form alone (no chain position): known before the
    event is sealed, so the request path can announce it (e.g. at the end of an
    SSE stream); an exported record lets anyone recompute it."""
    return _sha256(canonical_event(event)).hexdigest()


LastSealed = Callable[[], tuple[int, str] | None]
SealListener = Callable[[int], None]


class HashChain:
    """Implements :class:`proxy.hooks.Chainer`.

    ``last_sealed`` returns the ``(seq, record_hash)`` of the highest sealed row
    in the database (None when empty); it is read on the first seal and on
    :meth:`reload`. ``on_sealed`` is told the last sequence number of every
    sealed batch (the checkpointer uses it to count towards N events)."""

    def __init__(self, last_sealed: LastSealed, on_sealed: SealListener | None = None) -> None:
        self._last_sealed = last_sealed
        self._on_sealed = on_sealed
        self._lock = threading.Lock()
        self._seq: int | None = None
        self._hash = GENESIS_HASH

    def reload(self) -> None:
        """Re-read the chain head from the database: call it when a sealed batch was
        neither inserted nor spooled, so the next batch links to what is stored."""
        with self._lock:
            self._seq = None

    def _head(self) -> tuple[int, str]:
        if self._seq is None:
            last = self._last_sealed()
            self._seq, self._hash = last if last is not None else (0, GENESIS_HASH)
        return self._seq, self._hash

    def seal(self, events: Sequence[Event]) -> list[tuple[int, str, str]]:
        with self._lock:
            seq, prev = self._head()
            sealed: list[tuple[int, str, str]] = []
            for event in events:
                seq += 1
                digest = record_hash(prev, seq, canonical_event(event))
                sealed.append((seq, digest, prev))
                prev = digest
            self._seq, self._hash = seq, prev
        if sealed and self._on_sealed is not None:
            self._on_sealed(seq)
        return sealed
