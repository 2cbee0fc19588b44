"""Containment matching of a document's k-grams against the fingerprint index, in memory.

The index is two aligned arrays sorted by hash (fingerprint, unit): a lookup is
a bit test in a Bloom-style filter and, for the few hits, a binary search: the
index is never scanned (a larger index costs only cache misses and more genuine
shared idioms per document). A unit matches when at least ``min_matched`` of its
fingerprints, and at least ``min_containment`` of them, occur in the document, or
when it is found whole (``whole_containment``) with ``min_matched_whole`` of them.
Fingerprints shared by more than ``max_postings`` units are boilerplate and
count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    twins: dict[int, Units] = field(default_factory=dict)  # a unit that stands for identical ones: all of them

    @classmethod
    def build(cls, hashes: Hashes, units: Units, unit_sizes: Units, max_postings: int) -> IndexArrays:
        """Sort by hash, keep one unit of each set of identical ones, drop boilerplate fingerprints.

        Identical units (the same file written by many calls of an agent session) are matched
        as one, so that a completion recorded many times never counts as its own boilerplate;
        a fingerprint is boilerplate when more than ``max_postings`` distinct units hold it."""
        units = units.astype(np.int32)
        sizes = unit_sizes.astype(np.int32).copy()
        twins: dict[int, Units] = {}
        if len(hashes):
            first = _first_identical(hashes, units, len(sizes))
            twins = _twins(first)
            standing = first[units] == units
            hashes, units = hashes[standing], units[standing]
        order = np.lexsort((units, hashes))
        hashes, units = hashes[order], units[order]
        if len(hashes):
            starts = np.flatnonzero(np.diff(hashes, prepend=hashes[:1] + np.uint64(1)) != 0)
            counts = np.diff(np.append(starts, len(hashes)))
            common = np.repeat(counts > max_postings, counts)
            np.subtract.at(sizes, units[common], 1)
            hashes, units = hashes[~common], units[~common]
        for unit, members in twins.items():
            sizes[members] = sizes[unit]
        return cls(hashes, units, sizes, twins)


def _first_identical(hashes: Hashes, units: Units, count: int) -> Units:
    """For each unit, the lowest-numbered unit with the same fingerprint set (itself when unique).

    A set is keyed by two order-free sums (of its hashes, and of their squares, modulo
    2^64) and its size: the hashes are uniform, so distinct sets do not collide."""
    first = np.arange(count, dtype=np.int32)
    order = np.argsort(units, kind="stable")
    grouped, values = units[order], hashes[order]
    starts = np.flatnonzero(np.diff(grouped, prepend=np.int32(-1)) != 0)
    present = grouped[starts]
    keys = np.stack(
        [
            np.add.reduceat(values, starts),
            np.add.reduceat(values * values, starts),
            np.diff(np.append(starts, len(grouped))).astype(np.uint64),
        ],
        axis=1,
    )
    _, leaders, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    first[present] = present[leaders][inverse.ravel()]
    return first


def _twins(first: Units) -> dict[int, Units]:
    """Each unit that stands for identical ones, with all of them (itself included)."""
    copies = np.flatnonzero(first != np.arange(len(first)))
    twins: dict[int, list[int]] = {}
    for unit in copies.tolist():
        leader = int(first[unit])
        twins.setdefault(leader, [leader]).append(unit)
    return {leader: np.array(members, dtype=np.int32) for leader, members in twins.items()}


def with_twins(hits: list[UnitHit], twins: dict[int, Units]) -> list[UnitHit]:
    """A hit on a unit that stands for identical ones is a hit on each of them."""
    if not twins:
        return hits
    out: list[UnitHit] = []
    for hit in hits:
        members = twins.get(hit.unit)
        if members is None:
            out.append(hit)
        else:
            out.extend(UnitHit(int(unit), hit.matched, hit.containment, hit.positions) for unit in members)
    return sorted(out, key=lambda hit: hit.unit)


def arrays_from_units(fingerprints: list[Hashes], max_postings: int) -> IndexArrays:
    """An index of units numbered 0..n-1 in the order given (units with no fingerprint stay empty)."""
    sizes = np.array([len(f) for f in fingerprints], dtype=np.int32)
    units = np.repeat(np.arange(len(fingerprints), dtype=np.int32), sizes)
    hashes = np.concatenate(fingerprints) if fingerprints else np.empty(0, dtype=np.uint64)
    return IndexArrays.build(hashes.astype(np.uint64), units, sizes, max_postings)


class BlockedBloom:
    """A set membership filter over fingerprints: one 64-bit word per lookup, two bits set in it.

    About 32 bits per fingerprint gives ~0.5 % false positives, so almost every
    k-gram of a document that shares nothing with the index stops here, after one
    memory read; a candidate that passes is confirmed by binary search. The word
    comes from a hash's top bits, the two bit positions from its low twelve.
    """

    def __init__(self, hashes: Hashes, bits_per_item: int = 32) -> None:
        words = max(1, len(hashes) * bits_per_item // 64)
        self._shift = np.uint64(64 - max(1, (words - 1).bit_length()))
        self._words = np.zeros(1 << (64 - int(self._shift)), dtype=np.uint64)
        np.bitwise_or.at(self._words, hashes >> self._shift, self._masks(hashes))

    @staticmethod
    def _masks(hashes: Hashes) -> Hashes:
        one = np.uint64(1)
        return (one << (hashes & np.uint64(63))) | (one << ((hashes >> np.uint64(6)) & np.uint64(63)))

    def candidates(self, hashes: Hashes) -> npt.NDArray[np.int64]:
        """Positions in ``hashes`` that may be in the set (every one that is, and a few that are not)."""
        masks = self._masks(hashes)
        return np.flatnonzero((self._words[hashes >> self._shift] & masks) == masks)


class FastMatcher:
    def __init__(self, index: IndexArrays, params: Params) -> None:
        self.index = index
        self.params = params
        self._filter = BlockedBloom(index.hashes)

    def match(self, document: DocumentKgrams) -> list[UnitHit]:
        hashes = document.hashes
        maybe = self._filter.candidates(hashes)
        if not len(maybe):
            return []
        index = self.index
        # Searched once per distinct hash, in ascending order: numpy's binary search starts from the
        # previous key's place, so sorted keys touch fewer cache lines of a large index.
        wanted, which = np.unique(hashes[maybe], return_inverse=True)
        lo = np.searchsorted(index.hashes, wanted, side="left")
        present = index.hashes[np.minimum(lo, len(index.hashes) - 1)] == wanted
        distinct, lo_d = wanted[present], lo[present]
        if len(distinct) < min(self.params.min_matched, self.params.min_matched_whole):
            return []  # no unit can have enough of its fingerprints here
        positions = maybe[present[which.ravel()]]
        hi_d = np.searchsorted(index.hashes, distinct, side="right")
        lengths = hi_d - lo_d
        postings = np.repeat(lo_d - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        units = index.units[postings]
        unit_of_distinct = np.repeat(np.arange(len(distinct)), lengths)
        candidates, matched = np.unique(units, return_counts=True)
        sizes = np.maximum(index.unit_sizes[candidates], 1)
        containment = matched / sizes
        params = self.params
        keep = ((matched >= params.min_matched) & (containment >= params.min_containment)) | (
            (matched >= params.min_matched_whole) & (containment >= params.whole_containment)
        )
        hits = []
        for unit, count, share in zip(candidates[keep], matched[keep], containment[keep], strict=True):
            unit_hashes = distinct[unit_of_distinct[units == unit]]
            where = positions[np.isin(hashes[positions], unit_hashes)]
            hits.append(UnitHit(int(unit), int(count), float(min(share, 1.0)), where.astype(np.int64)))
        return with_twins(hits, index.twins)


class ReferenceMatcher:
    """The same matching with Python sets and dicts: the specification :class:`FastMatcher` is tested against."""

    def __init__(self, index: IndexArrays, params: Params) -> None:
        self.params = params
        self.twins = index.twins
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
            if self.params.matches(matched, share):
                hits.append(UnitHit(unit, matched, min(share, 1.0), np.array(where[unit], dtype=np.int64)))
        return with_twins(hits, self.twins)


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
