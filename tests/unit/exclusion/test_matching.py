"""A completion is found after what engineers do to code, and unrelated or boilerplate code is not."""

from __future__ import annotations

import pytest

from proxy.exclusion.fingerprint import Params
from proxy.exclusion.matcher import line_spans
from tests.unit.exclusion.helpers import hits, index_of, rewrite_python, sample

PARAMS = Params()
LRU = sample("lru_cache.py")
HOST = sample("near_miss_cache.py") * 3  # a larger file with code of the same kind around the splice


def _score(document: str, language: str = "python", completion: str = LRU) -> float:
    found = hits(index_of([(language, completion)], PARAMS), document, language, PARAMS)
    return max((hit.containment for hit in found), default=0.0)


def _splice(inner: str, host: str = HOST) -> str:
    lines = host.splitlines()
    middle = len(lines) // 2
    return "\n".join([*lines[:middle], inner, *lines[middle:]])


VARIANTS = {
    "exact": LRU,
    "reformatted": rewrite_python(LRU),
    "comments and docstrings stripped": rewrite_python(LRU, strip=True),
    "renamed": rewrite_python(LRU, rename=True),
    "spliced": _splice(LRU),
    "half spliced": _splice("\n".join(LRU.splitlines()[: len(LRU.splitlines()) // 2])),
    "all at once": _splice(rewrite_python("\n".join(LRU.splitlines()[:40]), rename=True, strip=True)),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_derived_document_is_flagged(variant: str) -> None:
    assert _score(VARIANTS[variant]) >= PARAMS.min_containment


def test_an_exact_copy_scores_one() -> None:
    assert _score(LRU) == pytest.approx(1.0)


def test_javascript_collapsed_onto_few_lines_is_flagged() -> None:
    js = sample("debounce.js")
    squashed = " ".join(line.strip() for line in js.splitlines() if not line.strip().startswith(("*", "/**", "//")))
    assert _score(squashed, "javascript", js) >= 0.9


def test_code_doing_the_same_thing_independently_is_not_flagged() -> None:
    assert _score(sample("near_miss_cache.py")) < PARAMS.min_containment
    found = hits(index_of([("python", LRU)], PARAMS), sample("near_miss_cache.py"), "python", PARAMS)
    assert found == []


def test_boilerplate_and_short_snippets_are_not_flagged() -> None:
    boilerplate = (
        "# Copyright (c) 2024 Example Corp. Licensed under the MIT License.\n"
        "import os\nimport sys\nfrom pathlib import Path\n\n\n"
        'def main():\n    print("hello")\n\n\nif __name__ == "__main__":\n    main()\n'
    )
    index = index_of([("python", boilerplate), ("python", LRU)], PARAMS)
    assert hits(index, boilerplate, "python", PARAMS) == []  # too short to be indexed as a unit
    snippet = "\n".join(LRU.splitlines()[18:22])
    assert hits(index, _splice(snippet), "python", PARAMS) == []


def test_spans_are_the_lines_of_the_splice() -> None:
    document = _splice(LRU)
    start = document.splitlines().index(LRU.splitlines()[0]) + 1
    found = hits(index_of([("python", LRU)], PARAMS), document, "python", PARAMS)
    from proxy.exclusion.fingerprint import default_engine, document_kgrams

    kgrams = document_kgrams(document.encode(), "python", PARAMS, default_engine())
    spans = line_spans(kgrams, found[0].positions)
    assert spans[0][0] >= start and spans[-1][1] <= start + len(LRU.splitlines())
    assert spans[-1][1] - spans[0][0] > len(LRU.splitlines()) // 2


def test_a_completion_recorded_more_often_than_the_boilerplate_bound_is_still_found() -> None:
    """An agent that writes the same file in 60 calls gives 60 identical units: they are one
    content, not a fingerprint shared by 60 completions (the boilerplate rule dropped them all)."""
    copies = PARAMS.max_postings + 10
    index = index_of([("python", LRU)] * copies + [("javascript", sample("debounce.js"))], PARAMS)
    found = hits(index, _splice(LRU), "python", PARAMS)
    assert sorted(hit.unit for hit in found) == list(range(copies))
    assert all(hit.containment == pytest.approx(1.0) and hit.matched >= PARAMS.min_matched for hit in found)
    assert hits(index, sample("debounce.js"), "javascript", PARAMS)[0].unit == copies


def test_boilerplate_shared_by_many_distinct_completions_still_counts_for_nothing() -> None:
    shared = "\n".join(
        ["import argparse", "def parse_arguments(argv):", "    parser = argparse.ArgumentParser()"]
        + [f"    parser.add_argument('--option-{i}', type=int, default={i}, help='option {i}')" for i in range(20)]
        + ["    return parser.parse_args(argv)"]
    )

    def body(i: int) -> str:  # sixty different shapes of code
        return "\n".join(
            ["def handle(a, b):"] + [f"    a = b + a[{j}]" if (i >> j) & 1 else "    b.pop()" for j in range(14)]
        )

    units = [("python", f"{shared}\n\n{body(i)}\n") for i in range(PARAMS.max_postings + 10)]
    index = index_of(units, PARAMS)
    copies = sum(len(members) - 1 for members in index.twins.values())
    assert len(units) - copies > PARAMS.max_postings  # the shared block is in more distinct units than the bound
    assert hits(index, shared + "\nprint('unrelated')\n", "python", PARAMS) == []
    assert 7 in [hit.unit for hit in hits(index, f"{shared}\n\n{body(7)}\n", "python", PARAMS)]


SMALL = """def clamp_ratio(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    ratio = (value - low) / (high - low)
    return low + ratio * (high - low)
"""


def test_an_eight_line_function_found_whole_is_flagged_with_fewer_fingerprints_than_min_matched() -> None:
    from proxy.exclusion.fingerprint import default_engine, unit_fingerprints

    size = len(unit_fingerprints(SMALL, "python", PARAMS, default_engine()))
    assert PARAMS.min_unit_fingerprints <= size < PARAMS.min_matched  # only the found-whole rule can match it
    found = hits(
        index_of([("python", SMALL), ("python", LRU)], PARAMS), _splice(rewrite_python(SMALL)), "python", PARAMS
    )
    assert [(hit.unit, hit.containment) for hit in found] == [(0, pytest.approx(1.0))]
    half = "\n".join(SMALL.splitlines()[:5])
    assert hits(index_of([("python", SMALL)], PARAMS), _splice(half), "python", PARAMS) == []  # a short snippet of it


def test_the_match_rule_is_either_enough_of_a_large_unit_or_a_small_unit_whole() -> None:
    assert PARAMS.matches(PARAMS.min_matched, PARAMS.min_containment)
    assert not PARAMS.matches(PARAMS.min_matched - 1, PARAMS.whole_containment - 0.01)
    assert PARAMS.matches(PARAMS.min_matched_whole, PARAMS.whole_containment)
    assert not PARAMS.matches(PARAMS.min_matched_whole - 1, 1.0)
