"""The signals counted over a day's distinct instructions (:mod:`proxy.signals.records`).

- ``sweep``: one principal sent at least ``sweep_min_distinct`` distinct instructions of one
  template cluster in the day (near-identical prompts differing in a slot). Score: the largest
  cluster's size over the threshold. Evidence: the first call of each distinct instruction.
- ``reasoning``: at least ``reasoning_min_distinct`` distinct instructions asking to reveal
  chain-of-thought, reasoning verbatim or tool-use traces (:mod:`proxy.signals.phrases`).
- ``dataset``: at least ``dataset_min_distinct`` distinct instructions asking for datasets, N
  examples or JSONL, or classified as training-data / eval-task generation — whatever each one's
  decision (allowed and flagged ones add up below the blocking threshold).
- ``evasion``: at least ``evasion_min_attempts`` distinct instructions that went through shortly
  after a similar block (:mod:`proxy.signals.evasion`).
- ``coordination`` (a ``group`` hit, scope ``cluster:<id>``): one template cluster sent by at least
  ``coordination_min_principals`` principals with ``coordination_min_each`` distinct instructions
  each, ``coordination_min_distinct`` in all — each person may stay below the sweep threshold.
  Without text (metadata-only retention) the cluster is one exact instruction, and it counts when
  that many principals sent it ``coordination_exact_min_calls`` times each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from proxy.signals.config import SignalConfig
from proxy.signals.hits import Hit, ratio_score
from proxy.signals.records import DATASET_LABEL, DATASET_TEXT, EVASION, REASONING, Day

FLAG_SIGNALS = {
    "reasoning": REASONING,
    "dataset": DATASET_TEXT | DATASET_LABEL,
    "evasion": EVASION,
}


def _threshold(config: SignalConfig, signal: str) -> int:
    return {
        "reasoning": config.reasoning_min_distinct,
        "dataset": config.dataset_min_distinct,
        "evasion": config.evasion_min_attempts,
    }[signal]


def flag_hit(config: SignalConfig, signal: str, day_start: datetime, day: Day, principal: str) -> Hit | None:
    events = day.flagged.get(FLAG_SIGNALS[signal], {}).get(principal, [])
    threshold = _threshold(config, signal)
    if len(events) < threshold:
        return None
    score = ratio_score(len(events), threshold, config.score_cap)
    detail = {"distinct_instructions": len(events), "threshold": threshold}
    return Hit(signal, "principal", principal, day_start, score, [principal], list(events), detail)


def sweep_hit(config: SignalConfig, day_start: datetime, day: Day, principal: str) -> Hit | None:
    best, size = "", 0
    for cluster in day.principal_clusters.get(principal, ()):
        count = len(day.clusters[cluster].get(principal, ()))
        if count > size:
            best, size = cluster, count
    if size < config.sweep_min_distinct:
        return None
    events = day.clusters[best][principal]
    score = ratio_score(size, config.sweep_min_distinct, config.score_cap)
    detail = {
        "cluster": best,
        "distinct_instructions": size,
        "threshold": config.sweep_min_distinct,
        "clusters_sent": len(day.principal_clusters[principal]),
    }
    return Hit("sweep", "principal", principal, day_start, score, [principal], list(events), detail)


def coordination_hit(config: SignalConfig, day_start: datetime, day: Day, cluster: str) -> Hit | None:
    senders = day.clusters.get(cluster, {})
    if len(senders) < config.coordination_min_principals:
        return None
    exact = day.exact_calls.get(cluster)
    if exact:  # no text: one exact instruction, judged on calls
        members = {p: n for p, n in exact.items() if n >= config.coordination_exact_min_calls}
        measures = [(len(members), config.coordination_min_principals)]
        detail: dict[str, Any] = {"mode": "exact", "calls_by_principal": members}
    else:
        members = {p: len(ids) for p, ids in senders.items() if len(ids) >= config.coordination_min_each}
        total = sum(members.values())
        measures = [
            (len(members), config.coordination_min_principals),
            (total, config.coordination_min_distinct),
        ]
        detail = {"mode": "template", "distinct_by_principal": members, "distinct_instructions": total}
    score = min(ratio_score(measured, threshold, config.score_cap) for measured, threshold in measures)
    if score < 1.0:
        return None
    events = sorted(e for p in members for e in senders[p])  # UUIDv7 text sorts by time
    detail["cluster"] = cluster
    return Hit("coordination", "group", f"cluster:{cluster[:16]}", day_start, score, list(members), events, detail)
