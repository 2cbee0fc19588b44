"""The policy in force on the request path, reloaded when its file changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from proxy.policy.model import Policy, PolicyError, VolumeCounter
from proxy.policy.reader import load_policy

log = structlog.get_logger(__name__)

DEFAULT_POLICY_PATH = Path(__file__).parent.parent / "policies" / "default.yaml"


class PolicySource:
    """The policy in force, reloaded when its file changes.

    ``current()`` is called on the request path: it stats the file at most once
    per ``check_interval_s`` and swaps the new policy in with one assignment,
    so concurrent calls see either the old or the new policy, never a mix. A
    file that fails to parse is logged and skipped until it changes again.
    """

    def __init__(
        self,
        path: Path | None = None,
        appeal_default: str = "your security team",
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path or DEFAULT_POLICY_PATH
        self.appeal_default = appeal_default
        self._interval = check_interval_s
        self._clock = clock
        self._counter = VolumeCounter()
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._policy = load_policy(self.path, self._counter)  # a broken file at startup is fatal
        self._next_check = clock() + check_interval_s

    @classmethod
    def from_settings(cls, settings: object) -> PolicySource:
        return cls(getattr(settings, "policy_file", None), getattr(settings, "appeal_contact", "your security team"))

    def current(self) -> Policy:
        now = self._clock()
        if now >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = now + self._interval
                self._reload_if_changed()
            finally:
                self._lock.release()
        return self._policy

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload_if_changed(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            policy = load_policy(self.path, self._counter)
        except PolicyError as exc:
            log.error("policy.reload_failed", path=str(self.path), issues=[str(i) for i in exc.issues])
            return
        self._policy = policy
        log.info("policy.reloaded", path=str(self.path), rules=len(policy.rules))
