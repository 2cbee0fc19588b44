"""Anchored patterns find exactly what the plain regex finds, looking only where their words occur."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from proxy.classify.anchored import AnchoredPattern, LiteralIndex
from proxy.classify.rules import _COUNT_THEN_ITEMS, _MAKE_THEN_COUNT, RULES, window

DATASET = Path(__file__).resolve().parents[3] / "proxy" / "classify" / "data" / "dataset.jsonl"
PATTERNS = [pattern for rule in RULES for pattern in rule.patterns] + [_COUNT_THEN_ITEMS, _MAKE_THEN_COUNT]
INDEX = LiteralIndex(PATTERNS)


def _texts() -> list[str]:
    """Dataset prompts alone, and some buried at random places in code, log and prose pastes longer than any reach."""
    prompts = [orjson.loads(line)["text"] for line in DATASET.read_bytes().splitlines()]
    code = "".join(path.read_text() for path in sorted((DATASET.parents[2]).rglob("*.py")))
    log = "".join(
        f"2024-05-01T12:{i % 60:02d}:00Z worker-{i % 7} GET /api/v1/items/{i} {i % 900}ms\n" for i in range(900)
    )
    prose = "\n\n".join(prompts)
    rng = random.Random(4)
    texts = list(prompts)
    for prompt in prompts[::5]:
        paste = rng.choice([code, log, prose])
        start = rng.randrange(len(paste) - 4000)
        before = paste[start : start + rng.randrange(3000)]
        after = paste[start + 3000 : start + 3000 + rng.randrange(1000)]
        texts.append(window(before + prompt + after))
    return [text.lower() for text in texts]


TEXTS = _texts()


@pytest.mark.parametrize("number", range(len(PATTERNS)))
def test_anchored_search_and_finditer_equal_the_plain_regex(number: int) -> None:
    pattern = PATTERNS[number]
    for text in TEXTS:
        found = INDEX.find(text)
        expected = pattern.regex.search(text)
        got = pattern.search(text, found)
        assert (got and got.span()) == (expected and expected.span()), (pattern.regex.pattern, text[:200])
        assert [m.span() for m in pattern.finditer(text, found)] == [m.span() for m in pattern.regex.finditer(text)]


def test_every_pattern_that_can_match_is_a_candidate() -> None:
    for text in TEXTS:
        found = INDEX.find(text)
        candidates = INDEX.candidates(found)
        for number, pattern in enumerate(PATTERNS):
            if pattern.regex.search(text):
                assert number in candidates, (pattern.regex.pattern, text[:200])


def test_words_are_read_from_the_pattern() -> None:
    hidden = AnchoredPattern.compile(r"\b(?:write|make)\b[^.\n]{0,80}\bhidden\s+tests?\b")
    assert hidden.anchors == {"hidden"}  # the rarer word, not the verbs
    assert hidden.starts == {"write", "make"}
    assert hidden.reach == len("write") + 80 + len("hidden") + 40 + len("tests")
    docs = AnchoredPattern.compile(r"\b(?:doc|jsdoc|docstrings?)\b")
    assert docs.starts == {"doc", "jsdoc"}  # "doc" finds where "docstring" starts, not where "jsdoc" does
    assert docs.anchors == {"doc"}
    assert AnchoredPattern.compile(r"^\s*tests?\s+for\b").at_beginning


def test_a_pattern_without_a_needed_word_is_refused() -> None:
    with pytest.raises(ValueError, match="no literal"):
        AnchoredPattern.compile(r"\d+\s*\w+")
