"""The volume signal: a principal's calls in a UTC day far above their own typical day and their
team's, read from the hourly roll-up (``event_rollup``), never by counting events.

- *own baseline*: the median of the principal's daily calls over the days with calls among the
  ``volume_baseline_days`` before this one; used once there are ``volume_min_active_days`` of them.
- *team baseline*: the median of the other team members' own baselines (members: who called under
  that team in those days, or so far today).

It fires when the day's calls reach ``volume_min_calls`` and ``volume_ratio`` times every baseline
there is (at least one). Score: calls over ``volume_ratio`` × the larger baseline (and at least the
ratio to ``volume_min_calls``). Baselines only read earlier days, so they are computed once per
principal and day; the day's own count is re-read for the principals of each batch.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from proxy.signals.config import SignalConfig
from proxy.signals.hits import DAY, Hit, ratio_score
from proxy.store.db import Database
from proxy.store.signal_source import daily_calls, newest_calls, team_members

SIGNAL = "volume"


class Volume:
    def __init__(self, engine: Database, config: SignalConfig) -> None:
        self._engine = engine
        self._config = config
        self._own: dict[tuple[str, datetime], float | None] = {}
        self._members: dict[tuple[str, datetime], set[str]] = {}

    def seen(self, principal: str, team: str | None, day: datetime) -> None:
        """A call of ``principal`` under ``team`` on ``day``: they are a member of it that day."""
        if team:
            self._team(team, day).add(principal)

    def hits(self, day: datetime, principals: dict[str, str | None]) -> list[Hit]:
        """The volume hits of these principals (name -> team) on ``day``."""
        counts = daily_calls(self._engine, principals, day, day + DAY)
        found = []
        for principal, team in principals.items():
            today = counts.get(principal, {}).get(day.date().isoformat(), 0)
            if today < self._config.volume_min_calls:
                continue
            hit = self._judge(principal, team, day, today)
            if hit is not None:
                found.append(hit)
        return found

    def _judge(self, principal: str, team: str | None, day: datetime, today: int) -> Hit | None:
        own = self._baselines(day, [principal]).get(principal)
        others = [] if not team else sorted(self._team(team, day) - {principal})
        team_values = [v for v in self._baselines(day, others).values() if v is not None]
        team_baseline = statistics.median(team_values) if team_values else None
        baselines = [b for b in (own, team_baseline) if b is not None]
        if not baselines:
            return None
        config = self._config
        score = min(
            ratio_score(today, config.volume_ratio * max(max(baselines), 1.0), config.score_cap),
            ratio_score(today, config.volume_min_calls, config.score_cap),
        )
        if score < 1.0:
            return None
        events = newest_calls(self._engine, principal, day, day + DAY, config.evidence_cap, None)
        detail = {"calls": today, "own_baseline": own, "team": team, "team_baseline": team_baseline}
        detail["ratio"] = config.volume_ratio
        return Hit(SIGNAL, "principal", principal, day, score, [principal], events, detail)

    def _baselines(self, day: datetime, principals: list[str]) -> dict[str, float | None]:
        missing = [p for p in principals if (p, day) not in self._own]
        if missing:
            since = day - timedelta(days=self._config.volume_baseline_days)
            for principal, days in daily_calls(self._engine, missing, since, day).items():
                active = [n for n in days.values() if n > 0]
                enough = len(active) >= self._config.volume_min_active_days
                self._own[(principal, day)] = float(statistics.median(active)) if enough else None
        return {p: self._own[(p, day)] for p in principals}

    def _team(self, team: str, day: datetime) -> set[str]:
        members = self._members.get((team, day))
        if members is None:
            since = day - timedelta(days=self._config.volume_baseline_days)
            members = self._members[(team, day)] = team_members(self._engine, team, since, day)
        return members

    def forget_before(self, day: datetime) -> None:
        self._own = {key: value for key, value in self._own.items() if key[1] >= day}
        self._members = {key: value for key, value in self._members.items() if key[1] >= day}
