from __future__ import annotations

import pytest

from proxy.provenance import strict_base64


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", bytes(range(64))])
def test_round_trip(data: bytes) -> None:
    assert strict_base64.decode(strict_base64.encode(data)) == data


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("AB==", "non-canonical base64"),  # the same byte as AA==, other trailing bits
        ("AA", "bad base64"),  # padding missing
        ("AA==\n", "bad base64"),
        ("A-_=", "bad base64"),  # the URL-safe alphabet
    ],
)
def test_other_spellings_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        strict_base64.decode(text)
