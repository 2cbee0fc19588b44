"""Instruction extraction stays linear in the size of hostile input, and means what it meant.

The wrapper stripping runs on client text before any policy decision: a quadratic pattern
there lets one request stall the event loop for every caller (a 272 KB body of repeated
``<system-reminder>`` once froze the proxy for 15 s).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.adapters import resolve_route
from proxy.adapters.instruction import _WRAPPER_TAGS, human_text, session_text

# The regular expressions extraction used before it was made linear: the meaning to keep.
_NAMES = "|".join(re.escape(t) for t in _WRAPPER_TAGS)
_OLD_BLOCK = re.compile(r"<(" + _NAMES + r")(?:\s[^>]*)?>.*?</\1>\s*", re.DOTALL)
_OLD_OPEN = re.compile(r"<(" + _NAMES + r")(?:\s[^>]*)?>")
_OLD_SESSION = re.compile(r"<session>\s*(.*?)\s*</session>", re.DOTALL)


def old_strip(text: str) -> str:
    text = _OLD_BLOCK.sub("", text)
    unclosed = _OLD_OPEN.search(text)
    return text[: unclosed.start()] if unclosed else text


def old_session(text: str) -> str | None:
    match = _OLD_SESSION.search(text)
    return match.group(1) if match else None


_TAG = st.sampled_from([*_WRAPPER_TAGS[:3], "command-args", "turn_aborted"])
_PIECE = st.one_of(
    _TAG.map(lambda t: f"<{t}>"),
    _TAG.map(lambda t: f"</{t}>"),
    _TAG.map(lambda t: f'<{t} kind="x">'),
    _TAG.map(lambda t: f"<{t} "),
    st.sampled_from(["<session>", "</session>", "<", ">", "</", " ", "\n", "\u2003", "\t \n"]),
    st.text(alphabet="ab <>/\n", max_size=6),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECE, max_size=14).map("".join))
def test_stripping_means_what_the_old_patterns_meant(text: str) -> None:
    # The one intended difference: an opener's attributes no longer run across a "<".
    if re.search(r"<(" + _NAMES + r")\s[^>]*<", text):
        return
    assert human_text(text) == human_text_old(text)
    old = old_session(text)
    assert session_text(text) == (old.strip() if old is not None else None)


def human_text_old(text: str) -> str:
    """human_text as it was, built on the old patterns (prefix checks are unchanged)."""
    return human_text(old_strip(text)) if "<" in text else human_text(text)


def test_known_shapes() -> None:
    assert human_text("<system-reminder>ctx</system-reminder>\n  fix the bug") == "fix the bug"
    assert human_text("fix it <system-reminder>never closed ... rest") == "fix it"
    assert human_text("<a>keep</a>") == "<a>keep</a>"
    assert human_text("x </system-reminder> y") == "x </system-reminder> y"
    assert session_text("title for <session> write a parser </session>") == "write a parser"
    assert session_text("<session> unterminated") is None


# -- linear time on hostile input, through every adapter's read_call ------------------------

MB = 1024 * 1024


def _fill(unit: str, size: int) -> str:
    return unit * (size // len(unit))


PATTERNS: dict[str, Callable[[int], str]] = {
    "repeated openers": lambda n: _fill("<system-reminder>", n),
    "openers missing '>'": lambda n: _fill("<system-reminder a=", n),
    "unclosed opener then text": lambda n: "<command-args>" + "x" * n,
    "deep nesting": lambda n: _fill("<user_instructions>", n // 2) + "x" + _fill("</user_instructions>", n // 2),
    "many tiny blocks": lambda n: _fill("<command-name>x</command-name> ", n),
    "mixed openers, one closer at the end": lambda n: _fill("<system-reminder><turn_aborted>", n) + "</turn_aborted>",
    "repeated session openers": lambda n: _fill("<session>", n),
}


def _anthropic(text: str) -> tuple[str, Any]:
    return "/v1/messages", {"model": "claude-x", "max_tokens": 8, "messages": [{"role": "user", "content": text}]}


def _anthropic_title(text: str) -> tuple[str, Any]:
    body = {
        "model": "claude-x",
        "max_tokens": 8,
        "system": [{"type": "text", "text": "Generate a concise, sentence-case title"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }
    return "/v1/messages", body


def _openai_chat(text: str) -> tuple[str, Any]:
    return "/v1/chat/completions", {"model": "gpt-x", "messages": [{"role": "user", "content": text}]}


def _openai_responses(text: str) -> tuple[str, Any]:
    return "/v1/responses", {"model": "gpt-x", "input": [{"role": "user", "content": text}]}


def _gemini(text: str) -> tuple[str, Any]:
    return "/v1beta/models/gemini-x:generateContent", {"contents": [{"role": "user", "parts": [{"text": text}]}]}


SHAPES = {
    "anthropic": _anthropic,
    "anthropic title call": _anthropic_title,
    "openai chat": _openai_chat,
    "openai responses": _openai_responses,
    "gemini": _gemini,
}


def _read_seconds(shape: Callable[[str], tuple[str, Any]], text: str, repeats: int) -> float:
    path, body = shape(text)
    adapter, route = resolve_route("POST", path, {})
    assert adapter is not None and route is not None
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        adapter.read_call(route, body, {})
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.timeout(120)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_extraction_time_grows_linearly_with_hostile_input(pattern: str) -> None:
    """1, 4 and 16 MB of each hostile pattern through each adapter: 16 times the input may
    cost at most 4x the 16 that linear time allows (quadratic would be 256): room for a loaded machine."""
    make = PATTERNS[pattern]
    texts = {size: make(size * MB) for size in (1, 4, 16)}
    for name, shape in SHAPES.items():
        seconds = {size: _read_seconds(shape, text, 3 if size == 1 else 1) for size, text in texts.items()}
        floor = max(seconds[1], 0.002)  # below ~2 ms the timer's noise dominates the ratio
        assert seconds[16] <= 64 * floor, f"{name}: {seconds}"
        assert seconds[4] <= 20 * floor, f"{name}: {seconds}"
