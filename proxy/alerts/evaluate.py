"""Signal hits against the alert rules: an alert for each hit at or above a rule's threshold,
unless the same rule already alerted on the same scope within its cooldown."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from proxy.alerts.rules import AlertRule
from proxy.store.alert_store import Hit, Ledger, NewAlert, evaluate_hits
from proxy.store.db import Database

log = structlog.get_logger(__name__)
SCOPE_WORDS = {"principal": "person", "team": "team", "group": "group"}
DETAIL_ITEMS = 4  # measurements quoted in a summary; the rest is in the hit


class Evaluator:
    """Raises alerts from the hits changed since its cursor (kept in the database)."""

    def __init__(self, engine: Database, rules: Sequence[AlertRule], batch: int = 500) -> None:
        self._engine = engine
        self._rules = list(rules)
        self._batch = batch

    def run_once(self) -> list[int]:
        """Judge every hit changed since the last run; returns the ids of the alerts raised."""
        raised: list[int] = []
        while True:
            read, ids = evaluate_hits(self._engine, self.judge, self._batch)
            raised += ids
            if read < self._batch:
                return raised

    def judge(self, hit: Hit, ledger: Ledger) -> None:
        for rule in self._rules:
            if not rule.matches(hit.signal, hit.scope_kind) or hit.score < rule.threshold:
                continue
            if rule.tool is not None and rule.tool not in ledger.tools(hit.event_ids):
                continue
            last = ledger.last_raised(rule.name, hit.scope_kind, hit.scope)
            if last is not None and ledger.now - last < rule.cooldown:
                continue  # already alerted on this scope: the cooldown keeps the channel readable
            ledger.raise_alert(NewAlert(rule.name, hit, rule.threshold, summary(rule, hit)))
            log.info("alerts.raised", rule=rule.name, signal=hit.signal, scope_kind=hit.scope_kind, hit_id=hit.id)


def summary(rule: AlertRule, hit: Hit) -> str:
    """The alert in words, for a person reading a chat message or a SIEM ticket."""
    who = f"{SCOPE_WORDS.get(hit.scope_kind, hit.scope_kind)} {hit.scope}"
    if hit.scope_kind != "principal" and hit.principals:
        people = ", ".join(str(p) for p in hit.principals[:5])
        more = f" and {len(hit.principals) - 5} more" if len(hit.principals) > 5 else ""
        who += f" ({len(hit.principals)} people: {people}{more})"
    window = f"{hit.window_start:%Y-%m-%d %H:%M} to {hit.window_end:%Y-%m-%d %H:%M} UTC"
    measured = [f"{key} {value}" for key, value in hit.detail.items() if isinstance(value, str | int | float)]
    detail = f"; {', '.join(measured[:DETAIL_ITEMS])}" if measured else ""
    calls = len(hit.event_ids)
    return (
        f"{hit.signal} signal on {who}: score {hit.score:.2f} reached the threshold {rule.threshold:g} "
        f"of rule {rule.name} ({calls} call{'s' if calls != 1 else ''} as evidence, {window}{detail})"
    )
