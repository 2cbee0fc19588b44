"""Normalised symbols → k-gram hashes → winnowed fingerprints, behind one :class:`Engine` interface.

Three engines give identical results (tests check it): ``native`` (the C
tokeniser and rolling hash in ``_native.c``), ``numpy`` (vectorised, the
fallback when the extension is not built) and ``reference`` (plain Python,
the specification the other two are checked against).

A k-gram hash is the polynomial ``Σ s[i+j]·B^(k-1-j) mod 2^64`` of ``k``
consecutive symbols, passed through the splitmix64 finaliser so that every bit
depends on every symbol. Winnowing (Schleimer, Wilkerson & Aiken 2003) keeps the
rightmost minimum of each window of ``w`` hashes: any shared run of
``w + k - 1`` symbols shares at least one fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

from proxy.exclusion.languages import KEYWORDS_OF, LANGUAGE_IDS, TEXT
from proxy.exclusion.normalise import (
    IMPORT_SYMBOLS,
    KEYWORD_BASE,
    KEYWORD_SYMBOL,
    Lines,
    Symbols,
    normalise,
    normalise_reference,
)

Hashes = npt.NDArray[np.uint64]
Indices = npt.NDArray[np.int64]
HASH_BASE = 0x100000001B3
_MASK = 2**64 - 1
_BASE_INVERSE = pow(HASH_BASE, -1, 2**64)


class Engine(Protocol):
    name: str

    def symbols(self, data: bytes, language: str) -> tuple[Symbols, Lines]: ...

    def kgram_hashes(self, symbols: Symbols, k: int) -> Hashes: ...

    def winnow(self, hashes: Hashes, w: int) -> Indices: ...


@dataclass(frozen=True, slots=True)
class Params:
    """Everything that decides what a fingerprint is and what a match is: frozen in the index manifest."""

    # Chosen on the tune split of bench/eval_exclusion.py (sweep, then the threshold grid):
    # k=14/w=4 keeps 10-line functions findable (any run of w+k-1 shared symbols shares a fingerprint).
    k_code: int = 14
    w_code: int = 4
    k_text: int = 50
    w_text: int = 20
    min_unit_fingerprints: int = 4  # shorter units (snippets) are not indexed
    min_containment: float = 0.25
    min_matched: int = 10
    # A small unit found whole needs fewer fingerprints: a 10-line function has 5-9 of them.
    whole_containment: float = 0.9
    min_matched_whole: int = 4
    max_postings: int = 50  # a fingerprint in more units than this is boilerplate

    def matches(self, matched: int, containment: float) -> bool:
        return (matched >= self.min_matched and containment >= self.min_containment) or (
            matched >= self.min_matched_whole and containment >= self.whole_containment
        )

    def k(self, language: str) -> int:
        return self.k_text if language == TEXT else self.k_code

    def w(self, language: str) -> int:
        return self.w_text if language == TEXT else self.w_code


def _splitmix(values: Hashes) -> Hashes:
    z = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _splitmix_int(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@cache
def _powers(size: int, base: int) -> Hashes:
    """``base**i mod 2^64`` for i < size (cumprod wraps modulo 2^64 on uint64)."""
    powers = np.full(size, base, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)


def _winnow_vectorised(hashes: Hashes, w: int) -> Indices:
    if not len(hashes):
        return np.empty(0, dtype=np.int64)
    if len(hashes) <= w:
        return np.array([len(hashes) - 1 - int(np.argmin(hashes[::-1]))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)[:, ::-1]
    chosen = np.arange(len(windows)) + (w - 1 - np.argmin(windows, axis=1))
    return np.unique(chosen)


class NumpyEngine:
    name = "numpy"

    def symbols(self, data: bytes, language: str) -> tuple[Symbols, Lines]:
        return normalise(data, language)

    def kgram_hashes(self, symbols: Symbols, k: int) -> Hashes:
        n = len(symbols)
        if n < k:
            return np.empty(0, dtype=np.uint64)
        size = 1 << max(10, (n - 1).bit_length())  # cached power tables of a few sizes only
        # Σ s[j]·B^-j as a running sum; a window's difference times B^(i+k-1) is its hash.
        running = np.cumsum(symbols.astype(np.uint64) * _powers(size, _BASE_INVERSE)[:n], dtype=np.uint64)
        before = np.concatenate(([np.uint64(0)], running[: n - k]))
        return _splitmix((running[k - 1 :] - before) * _powers(size, HASH_BASE)[k - 1 : n])

    def winnow(self, hashes: Hashes, w: int) -> Indices:
        return _winnow_vectorised(hashes, w)


class NativeEngine(NumpyEngine):
    name = "native"

    def __init__(self) -> None:
        from proxy.exclusion import _native  # type: ignore[attr-defined]

        keywords = tuple(sorted(KEYWORD_SYMBOL, key=KEYWORD_SYMBOL.__getitem__))
        masks = tuple(
            sum(1 << LANGUAGE_IDS[language] for language, words in KEYWORDS_OF.items() if word.decode() in words)
            for word in keywords
        )
        _native.setup(keywords, KEYWORD_BASE, tuple(sorted(IMPORT_SYMBOLS)), masks)
        self._native = _native

    def symbols(self, data: bytes, language: str) -> tuple[Symbols, Lines]:
        symbols, lines = self._native.normalise(data, LANGUAGE_IDS[language])
        return np.frombuffer(symbols, dtype=np.uint32), np.frombuffer(lines, dtype=np.int32)

    def kgram_hashes(self, symbols: Symbols, k: int) -> Hashes:
        raw = self._native.kgram_hashes(np.ascontiguousarray(symbols, dtype=np.uint32).tobytes(), k, HASH_BASE)
        return np.frombuffer(raw, dtype=np.uint64)


class ReferenceEngine:
    """Plain Python, one symbol at a time: the specification, not for production."""

    name = "reference"

    def symbols(self, data: bytes, language: str) -> tuple[Symbols, Lines]:
        symbols, lines = normalise_reference(data, language)
        return np.array(symbols, dtype=np.uint32), np.array(lines, dtype=np.int32)

    def kgram_hashes(self, symbols: Symbols, k: int) -> Hashes:
        values = [int(s) for s in symbols]
        hashes: list[int] = []
        top = pow(HASH_BASE, k - 1, 2**64)
        acc = 0
        for i, value in enumerate(values):
            if i >= k:
                acc = (acc - values[i - k] * top) & _MASK
            acc = (acc * HASH_BASE + value) & _MASK
            if i >= k - 1:
                hashes.append(_splitmix_int(acc))
        return np.array(hashes, dtype=np.uint64)

    def winnow(self, hashes: Hashes, w: int) -> Indices:
        values = [int(h) for h in hashes]
        chosen: set[int] = set()
        for start in range(max(1, len(values) - w + 1)):
            window = values[start : start + w]
            if not window:
                break
            smallest = min(window)
            chosen.add(start + max(i for i, h in enumerate(window) if h == smallest))
        return np.array(sorted(chosen), dtype=np.int64)


@cache
def default_engine() -> Engine:
    """The C engine when the extension is built, else the vectorised one."""
    try:
        return NativeEngine()
    except ImportError:
        return NumpyEngine()


ENGINES: dict[str, type[NumpyEngine] | type[ReferenceEngine]] = {
    "native": NativeEngine,
    "numpy": NumpyEngine,
    "reference": ReferenceEngine,
}


def unit_fingerprints(text: str, language: str, params: Params, engine: Engine) -> Hashes:
    """The distinct winnowed fingerprints of one indexed unit (a completion, a code block, a file)."""
    symbols, _ = engine.symbols(text.encode("utf-8", "surrogatepass"), language)
    hashes = engine.kgram_hashes(symbols, params.k(language))
    return np.unique(hashes[engine.winnow(hashes, params.w(language))])


@dataclass(frozen=True, slots=True)
class DocumentKgrams:
    """Every k-gram hash of a scanned document, with the lines its symbols span."""

    hashes: Hashes
    first_line: Lines
    last_line: Lines


def document_kgrams(data: bytes, language: str, params: Params, engine: Engine) -> DocumentKgrams:
    symbols, lines = engine.symbols(data, language)
    k = params.k(language)
    hashes = engine.kgram_hashes(symbols, k)
    count = len(hashes)
    return DocumentKgrams(hashes, lines[:count], lines[k - 1 : k - 1 + count])
