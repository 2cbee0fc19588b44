"""The C, numpy and pure-Python engines, and the fast and reference matchers, give identical results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.exclusion.fingerprint import (
    ENGINES,
    DocumentKgrams,
    NativeEngine,
    Params,
    ReferenceEngine,
    document_kgrams,
)
from proxy.exclusion.languages import CODE_LANGUAGES, TEXT
from proxy.exclusion.matcher import BlockedBloom, FastMatcher, ReferenceMatcher, arrays_from_units
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


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), units=st.integers(1, 400), share=st.floats(0.0, 1.0))
def test_the_membership_filter_and_both_matchers_agree_on_large_random_indexes(
    seed: int, units: int, share: float
) -> None:
    """Many units, dense and sparse documents: the Bloom filter never drops a member, and
    the fast matcher's hits (units, counts, positions) equal the reference's."""
    rng = np.random.default_rng(seed)
    params = Params(min_matched=2, min_containment=0.05, max_postings=3)
    sizes = rng.integers(10, 60, units)
    pool = rng.integers(0, 2**64, int(sizes.sum()) // 2 + 1, dtype=np.uint64)  # shared hashes: postings > 1
    fingerprints = [np.unique(rng.choice(pool, size)) for size in sizes]
    fingerprints += [fingerprints[i] for i in rng.integers(0, units, 5)]  # identical units: one stands for all
    index = arrays_from_units(fingerprints, params.max_postings)
    members = index.hashes
    assert set(BlockedBloom(members).candidates(members).tolist()) == set(range(len(members)))
    inside = rng.choice(members, int(share * 500)) if len(members) else np.empty(0, dtype=np.uint64)
    hashes = rng.permutation(np.concatenate([inside, rng.integers(0, 2**64, 500, dtype=np.uint64)]))
    lines = np.arange(len(hashes), dtype=np.int32)
    kgrams = DocumentKgrams(hashes.astype(np.uint64), lines, lines)
    fast = FastMatcher(index, params).match(kgrams)
    reference = ReferenceMatcher(index, params).match(kgrams)
    assert [(h.unit, h.matched, round(h.containment, 9)) for h in fast] == [
        (h.unit, h.matched, round(h.containment, 9)) for h in reference
    ]
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(np.sort(a.positions), np.sort(b.positions))
