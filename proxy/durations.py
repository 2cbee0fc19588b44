"""Durations as operators write them: ``90s``, ``15m``, ``2h``, ``7d``, ``4w``."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"(\d+)([smhdw]?)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, bare_unit: str | None = None) -> timedelta | None:
    """``text`` as a duration, None if it is not one.

    A number without a unit is read in ``bare_unit`` (one of ``s m h d w``);
    without one, it is not a duration."""
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    unit = match.group(2) or bare_unit
    if unit is None:
        return None
    return timedelta(**{_UNITS[unit]: int(match.group(1))})
