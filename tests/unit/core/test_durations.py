from __future__ import annotations

from datetime import timedelta

import pytest

from proxy.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("4w", timedelta(weeks=4)),
        ("0s", timedelta(0)),
    ],
)
def test_a_number_and_a_unit_is_a_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "1.5h", "-2h", "2 h", "2H", "2y", "2h\n", "3600", "2025-01-01"])
def test_anything_else_is_not(text: str) -> None:
    assert parse_duration(text) is None


def test_a_bare_number_takes_the_unit_given() -> None:
    assert parse_duration("3600", bare_unit="s") == timedelta(hours=1)
    assert parse_duration("30m", bare_unit="s") == timedelta(minutes=30)
    assert parse_duration("", bare_unit="s") is None
