"""Events the writer holds in memory, and waking the callers that wait for them.

An event is held when neither the spool nor the database takes it; whoever
awaits it (a ``commit()`` in some event loop) is woken from the sync thread once
it is stored or given up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from proxy.store.rows import RowPair


@dataclass(slots=True)
class Held:
    """A sealed event neither the spool nor the database has taken yet, and who waits for it."""

    pair: RowPair
    payload: bytes
    future: asyncio.Future[None] | None
    loop: asyncio.AbstractEventLoop | None


Waiter = tuple["asyncio.Future[None] | None", "asyncio.AbstractEventLoop | None"]


def settle_waiters(waiters: Sequence[Waiter], error: Exception | None) -> None:
    """Wake each waiting event loop once for all its futures."""
    waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for future, loop in waiters:
        if future is not None and loop is not None:
            waiting.setdefault(loop, []).append(future)
    for loop, futures in waiting.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(_resolve, futures, error)


def _resolve(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():
            continue  # the caller was cancelled; the event is recorded all the same
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
