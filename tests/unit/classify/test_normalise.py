"""Text is normalised before it is classified: one spelling for what looks the same."""

from __future__ import annotations

import pytest

from proxy.classify.normalise import normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SWE-b\u0435nch", "SWE-bench"),  # Cyrillic e inside a Latin word
        ("\u0422\u0430sks", "Tasks"),  # Cyrillic T and a
        ("hid\u200bden te\u200dsts", "hidden tests"),  # zero-width space and joiner inside words
        ("write\u200b50\u200btasks", "write 50 tasks"),  # zero-width spaces standing in for spaces
        ("\uff46\uff55\uff4c\uff4c-width", "full-width"),  # NFKC
        ("evil\u202etxt.exe", "eviltxt.exe"),  # bidi override removed
        ("Привет, мир", "Привет, мир"),  # Russian words stay Russian
        ("生成评测任务", "生成评测任务"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected
