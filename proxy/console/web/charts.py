"""Chart data for the server-rendered SVG: bars scaled to their largest value (no script needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHART_HEIGHT = 100
BAR_WIDTH = 10


@dataclass(frozen=True, slots=True)
class Bar:
    key: str
    value: int
    percent: float  # of the largest value shown


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    calls: int
    flags: int
    blocks: int
    x: int
    heights: tuple[float, float, float]  # calls, flags, blocks, in chart units


def bars(rows: list[dict[str, Any]], limit: int = 8) -> list[Bar]:
    """Rows of a stats breakdown (``key``, ``events``), largest first, as horizontal bars."""
    shown = rows[:limit]
    top = max((row["events"] for row in shown), default=0) or 1
    return [Bar(row["key"] or "(none)", row["events"], round(100 * row["events"] / top, 1)) for row in shown]


def columns(calls: list[dict[str, Any]], flags: list[dict[str, Any]], blocks: list[dict[str, Any]]) -> list[Column]:
    """One column per time bucket: every call, and within it the flagged and the blocked ones."""
    flagged = {row["key"]: row["events"] for row in flags}
    blocked = {row["key"]: row["events"] for row in blocks}
    top = max((row["events"] for row in calls), default=0) or 1

    def height(value: int) -> float:
        return round(CHART_HEIGHT * value / top, 2)

    return [
        Column(
            key=row["key"] or "",
            calls=row["events"],
            flags=flagged.get(row["key"], 0),
            blocks=blocked.get(row["key"], 0),
            x=i * BAR_WIDTH,
            heights=(height(row["events"]), height(flagged.get(row["key"], 0)), height(blocked.get(row["key"], 0))),
        )
        for i, row in enumerate(calls)
    ]
