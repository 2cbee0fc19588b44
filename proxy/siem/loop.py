"""A daemon thread that runs named steps round after round, for the deliveries from the database
(the SIEM feed, the alerts). A step that raises is tried again after a pause that doubles up to
a minute while the others go on, so one dead receiver holds back nothing but itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import structlog

log = structlog.get_logger(__name__)
MAX_PAUSE_S = 60.0


class Step(NamedTuple):
    name: str  # a sink's name, or what the step does
    work: Callable[[], bool]  # one round; True when more is waiting at once (the loop skips its nap)
    failed: str  # what a failure is logged as ("siem.delivery_failed")


class RetryLoop:
    def __init__(self, steps: Sequence[Step], poll_interval_s: float, thread_name: str) -> None:
        self._steps = list(steps)
        self._poll = poll_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop after the step in progress; True when the thread finished within ``timeout_s``."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        retry_at = {step.name: 0.0 for step in self._steps}
        pauses = dict.fromkeys(retry_at, self._poll)
        while not self._stop.is_set():
            busy = False
            for name, work, failed in self._steps:
                if self._stop.is_set():
                    return
                if time.monotonic() < retry_at[name]:
                    continue
                try:
                    busy |= work()
                except Exception as exc:  # any failure: the step's cursor stays, try it again later
                    pause = pauses[name]
                    log.warning(failed, sink=name, error=str(exc), retry_in_s=pause)
                    retry_at[name] = time.monotonic() + pause
                    pauses[name] = min(pause * 2, MAX_PAUSE_S)
                else:
                    pauses[name] = self._poll
            if not busy:
                self._stop.wait(self._poll)
