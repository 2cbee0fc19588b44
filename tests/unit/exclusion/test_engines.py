"""The C, numpy and pure-Python engines, and the fast and reference matchers, give identical results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.exclusion.fingerprint import ENGINES, NativeEngine, Params, ReferenceEngine, document_kgrams
from proxy.exclusion.languages import CODE_LANGUAGES, TEXT
from proxy.exclusion.matcher import FastMatcher, ReferenceMatcher
from tests.unit.exclusion.helpers import SAMPLES, index_of, sample

LANGUAGES = (*CODE_LANGUAGES, TEXT)
CODE_ALPHABET = "abcxyz019_$ \t\n\\\"'`#/*(){};,.:=+-<>!ifdefreturnimportfromuse"


def _engines() -> list[object]:
    return [ENGINES[name]() for name in ("native", "numpy", "reference")]


def _assert_same(data: bytes, language: str, k: int = 7, w: int = 4) -> None:
    results = []
    for engine in _engines():
        symbols, lines = engine.symbols(data, language)  # type: ignore[attr-defined]
        hashes = engine.kgram_hashes(symbols, k)  # type: ignore[attr-defined]
        chosen = engine.winnow(hashes, w)  # type: ignore[attr-defined]
        results.append((symbols.tolist(), lines.tolist(), hashes.tolist(), chosen.tolist()))
    assert results[0] == results[1] == results[2], (language, data[:200])


def test_the_native_engine_is_built() -> None:
    assert NativeEngine().name == "native"  # the fast path is what production uses


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
@pytest.mark.parametrize("language", LANGUAGES)
def test_engines_agree_on_real_sources(path: object, language: str) -> None:
    _assert_same(SAMPLES.joinpath(str(path)).read_bytes(), language, k=20, w=10)


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=CODE_ALPHABET, max_size=300), language=st.sampled_from(LANGUAGES))
def test_engines_agree_on_arbitrary_text(text: str, language: str) -> None:
    _assert_same(text.encode(), language)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=200), language=st.sampled_from(LANGUAGES))
def test_engines_agree_on_arbitrary_bytes(data: bytes, language: str) -> None:
    _assert_same(data, language, k=3, w=2)


def test_reference_and_fast_matchers_agree() -> None:
    params = Params(min_unit_fingerprints=1, min_matched=2, min_containment=0.1, max_postings=2)
    lru, near, js = sample("lru_cache.py"), sample("near_miss_cache.py"), sample("debounce.js")
    units = [("python", lru), ("python", lru[: len(lru) // 2]), ("python", near), ("javascript", js)]
    index = index_of(units, params)
    document = (near + "\n" + lru + "\n" + js).encode()
    kgrams = document_kgrams(document, "python", params, ReferenceEngine())
    fast = FastMatcher(index, params).match(kgrams)
    reference = ReferenceMatcher(index, params).match(kgrams)
    assert [(h.unit, h.matched, round(h.containment, 9)) for h in fast] == [
        (h.unit, h.matched, round(h.containment, 9)) for h in reference
    ]
    assert len(fast) >= 2
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(np.sort(a.positions), np.sort(b.positions))
