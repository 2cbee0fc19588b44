"""Containment matching of a document's k-grams against the fingerprint index, in memory.

The index is two aligned arrays sorted by hash (fingerprint, unit): a lookup is
a bit test in a Bloom-style bitset and, for the few hits, a binary search, so
its cost does not grow with the number of completions indexed (the index is
never scanned). A unit matches when at least ``min_matched`` of its
fingerprints, and at least ``min_containment`` of them, occur in the document.
Fingerprints shared by more than ``max_postings`` units are boilerplate and
count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from proxy.exclusion.fingerprint import DocumentKgrams, Hashes, Params

Units = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class UnitHit:
    unit: int
    matched: int  # distinct unit fingerprints found in the document
    containment: float
    positions: npt.NDArray[np.int64]  # document k-gram positions that matched


class Matcher(Protocol):
    def match(self, document: DocumentKgrams) -> list[UnitHit]: ...


@dataclass(frozen=True, slots=True)
class IndexArrays:
    hashes: Hashes  # sorted
    units: Units  # the unit of each hash
    unit_sizes: Units  # fingerprints per unit that count (boilerplate removed)

    @classmethod
    def build(cls, hashes: Hashes, units: Units, unit_sizes: Units, max_postings: int) -> IndexArrays:
        """Sort by hash, drop boilerplate fingerprints (in more than ``max_postings`` units)."""
        order = np.lexsort((units, hashes))
        hashes, units = hashes[order], units[order].astype(np.int32)
        sizes = unit_sizes.astype(np.int32).copy()
        if len(hashes):
            starts = np.flatnonzero(np.diff(hashes, prepend=hashes[:1] + np.uint64(1)) != 0)
            counts = np.diff(np.append(starts, len(hashes)))
            common = np.repeat(counts > max_postings, counts)
            np.subtract.at(sizes, units[common], 1)
            hashes, units = hashes[~common], units[~common]
        return cls(hashes, units, sizes)


def arrays_from_units(fingerprints: list[Hashes], max_postings: int) -> IndexArrays:
    """An index of units numbered 0..n-1 in the order given (units with no fingerprint stay empty)."""
    sizes = np.array([len(f) for f in fingerprints], dtype=np.int32)
    units = np.repeat(np.arange(len(fingerprints), dtype=np.int32), sizes)
    hashes = np.concatenate(fingerprints) if fingerprints else np.empty(0, dtype=np.uint64)
    return IndexArrays.build(hashes.astype(np.uint64), units, sizes, max_postings)


def _bitset_bits(count: int) -> int:
    """About 16 bits per fingerprint: a false positive costs a binary search, rarely."""
    return max(16, min(34, (max(count, 1) * 16 - 1).bit_length()))


class FastMatcher:
    def __init__(self, index: IndexArrays, params: Params) -> None:
        self.index = index
        self.params = params
        self._shift = np.uint64(64 - _bitset_bits(len(index.hashes)))
        self._bits = np.zeros(1 << (64 - int(self._shift)), dtype=np.bool_)
        self._bits[index.hashes >> self._shift] = True

    def match(self, document: DocumentKgrams) -> list[UnitHit]:
        hashes = document.hashes
        maybe = np.flatnonzero(self._bits[hashes >> self._shift])
        if not len(maybe):
            return []
        index = self.index
        lo = np.searchsorted(index.hashes, hashes[maybe], side="left")
        hi = np.searchsorted(index.hashes, hashes[maybe], side="right")
        found = hi > lo
        positions, lo, hi = maybe[found], lo[found], hi[found]
        if not len(positions):
            return []
        distinct, first = np.unique(hashes[positions], return_index=True)
        lo_d, hi_d = lo[first], hi[first]
        lengths = hi_d - lo_d
        postings = np.repeat(lo_d - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        units = index.units[postings]
        unit_of_distinct = np.repeat(np.arange(len(distinct)), lengths)
        candidates, matched = np.unique(units, return_counts=True)
        sizes = np.maximum(index.unit_sizes[candidates], 1)
        containment = matched / sizes
        keep = (matched >= self.params.min_matched) & (containment >= self.params.min_containment)
        hits = []
        for unit, count, share in zip(candidates[keep], matched[keep], containment[keep], strict=True):
            unit_hashes = distinct[unit_of_distinct[units == unit]]
            where = positions[np.isin(hashes[positions], unit_hashes)]
            hits.append(UnitHit(int(unit), int(count), float(min(share, 1.0)), where.astype(np.int64)))
        return hits


class ReferenceMatcher:
    """The same matching with Python sets and dicts: the specification :class:`FastMatcher` is tested against."""

    def __init__(self, index: IndexArrays, params: Params) -> None:
        self.params = params
        self.sizes = [int(size) for size in index.unit_sizes]
        self.postings: dict[int, set[int]] = {}
        for value, unit in zip(index.hashes.tolist(), index.units.tolist(), strict=True):
            self.postings.setdefault(value, set()).add(unit)

    def match(self, document: DocumentKgrams) -> list[UnitHit]:
        found: dict[int, set[int]] = {}
        where: dict[int, list[int]] = {}
        for position, value in enumerate(document.hashes.tolist()):
            for unit in self.postings.get(value, ()):
                found.setdefault(unit, set()).add(value)
                where.setdefault(unit, []).append(position)
        hits = []
        for unit in sorted(found):
            matched = len(found[unit])
            share = matched / max(self.sizes[unit], 1)
            if matched >= self.params.min_matched and share >= self.params.min_containment:
                hits.append(UnitHit(unit, matched, min(share, 1.0), np.array(where[unit], dtype=np.int64)))
        return hits


def line_spans(
    document: DocumentKgrams, positions: npt.NDArray[np.int64], gap: int = 2, min_kgrams: int = 3
) -> list[tuple[int, int]]:
    """Matched k-grams as merged, 1-based inclusive line ranges (ranges ``gap`` lines apart join).

    A range resting on fewer than ``min_kgrams`` matched k-grams is a stray structural
    coincidence, not where the completion is, and is left out (unless nothing else is left)."""
    spans: list[list[int]] = []  # [first, last, k-grams]
    pairs = sorted(zip(document.first_line[positions].tolist(), document.last_line[positions].tolist(), strict=True))
    for first, last in pairs:
        if spans and first <= spans[-1][1] + gap:
            spans[-1][1] = max(spans[-1][1], last)
            spans[-1][2] += 1
        else:
            spans.append([first, last, 1])
    solid = [span for span in spans if span[2] >= min_kgrams] or spans
    return [(first, last) for first, last, _ in solid]
