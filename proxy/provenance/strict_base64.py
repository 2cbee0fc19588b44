"""Standard base64 that has one spelling per byte string, for signed and exported texts.

A verifier that accepted alternative spellings (missing padding, stray
characters, non-zero trailing bits) would let bytes of a signed file change
without the check failing.
"""

from __future__ import annotations

import base64


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(text: str) -> bytes:
    """The bytes ``text`` spells; :class:`ValueError` unless ``text`` is their only spelling."""
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError("bad base64") from exc
    if encode(data) != text:
        raise ValueError("non-canonical base64")
    return data
