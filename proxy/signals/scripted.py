"""The non-interactive-traffic signal (``scripted``): an SDK script at a steady rate.

Per principal and day, over their calls from clients that are not interactive coding tools
(:data:`proxy.signals.config.INTERACTIVE_TOOLS`; SDKs, litellm, unknown clients count) with at
most ``scripted_max_turns`` turns (no conversation, no tool loop): the number of calls, the mean
output tokens, and the coefficient of variation (standard deviation / mean) of the times between
consecutive calls, kept with Welford's online algorithm. It fires when there are at least
``scripted_min_calls`` such calls, the CV is at most ``scripted_max_cv`` (a person's pauses vary
far more: CV ≥ 1) and the mean output is at least ``scripted_min_output_tokens``. Score: the
smallest of the three ratios to their thresholds.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from proxy.signals.config import INTERACTIVE_TOOLS, SignalConfig
from proxy.signals.hits import ratio_score

SIGNAL = "scripted"


def is_candidate(config: SignalConfig, tool: str | None, turn_count: int) -> bool:
    return tool not in INTERACTIVE_TOOLS and turn_count <= config.scripted_max_turns


def new_state() -> dict[str, Any]:
    return {"calls": 0, "output": 0, "last": None, "gaps": 0, "mean": 0.0, "m2": 0.0}


def add_call(state: dict[str, Any], ts: datetime, output_tokens: int | None) -> None:
    state["calls"] += 1
    state["output"] += output_tokens or 0
    now = ts.timestamp()
    if state["last"] is not None:
        gap = max(0.0, now - state["last"])  # concurrent calls may be sealed out of order
        state["gaps"] += 1
        delta = gap - state["mean"]
        state["mean"] += delta / state["gaps"]
        state["m2"] += delta * (gap - state["mean"])
    state["last"] = now if state["last"] is None else max(now, state["last"])


def measure(state: dict[str, Any]) -> dict[str, Any]:
    gaps = state["gaps"]
    std = math.sqrt(state["m2"] / gaps) if gaps else 0.0
    cv = std / state["mean"] if gaps and state["mean"] > 0 else math.inf
    return {
        "calls": state["calls"],
        "mean_output_tokens": state["output"] / state["calls"] if state["calls"] else 0.0,
        "mean_gap_s": state["mean"],
        "cv": cv,
    }


def score(config: SignalConfig, state: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    found = measure(state)
    cv = found["cv"]
    ratios = (
        ratio_score(found["calls"], config.scripted_min_calls, config.score_cap),
        config.score_cap if cv <= 0.01 else min(config.score_cap, config.scripted_max_cv / cv),
        ratio_score(found["mean_output_tokens"], config.scripted_min_output_tokens, config.score_cap),
    )
    detail = {**found, "cv": None if math.isinf(cv) else round(cv, 4)}
    return min(ratios), detail
