"""Template clusters of instructions: MinHash over word bigrams, indexed in a MinHash LSH.

An instruction's bounded window (head and tail) is lower-cased, its ASCII punctuation blanked and
its digits folded to ``0`` (a sweep's slot is often a number), and split on white space; its set of
word bigrams is
summarised by a MinHash (``num_perm`` 32-bit values, datasketch's affine32 scheme). A bigram's hash
is computed from the CRC-32 of its words (stable across processes, so stored values stay comparable;
vectorised, as this is the engine's hottest loop). Two
instructions whose estimated Jaccard similarity reaches ``lsh_threshold`` are one *template*.

Clustering is incremental (leader clustering): a new instruction joins the cluster most of its LSH
candidates belong to whose first member (its leader) it resembles (estimated Jaccard at least
``threshold - 0.1``: LSH candidates include some false positives, and a slot drifts), or starts its
own cluster, named after its digest. The LSH bands are 16 × 4 rows (64 permutations): ~97 % of
pairs at Jaccard 0.66 become candidates, ~3 % at 0.2. Instructions shorter than
``min_tokens`` words, or without text (bodies not kept), are their own cluster and are not indexed.
Only instructions seen in the days the engine keeps are indexed (:meth:`Fingerprints.forget_before`).
"""

from __future__ import annotations

import string
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from datasketch import MinHash, MinHashLSH

from proxy.classify.rules.base import window

# One C-level pass: punctuation to blanks, digits to 0 (a regex tokenizer costs ~5x more here).
_FOLD = str.maketrans({**dict.fromkeys(string.punctuation, " "), **dict.fromkeys("123456789", "0")})
_SCHEME = "affine32"
_DTYPE = np.uint32
_MIX = np.uint64(0x01000193)  # FNV prime: combines the two word hashes of a bigram
_MASK = np.uint64(0xFFFFFFFF)


def _identity(value: int) -> int:
    return value  # elements are already 32-bit hashes


_word_hashes: dict[str, int] = {}  # bounded: cleared when full
_WORD_CACHE_MAX = 100_000


def _word_hash(word: str) -> int:
    found = _word_hashes.get(word)
    if found is None:
        if len(_word_hashes) >= _WORD_CACHE_MAX:
            _word_hashes.clear()
        found = _word_hashes[word] = zlib.crc32(word.encode())
    return found


def tokens(text: str) -> list[str]:
    return window(text, 2048, 512).lower().translate(_FOLD).split()


def bigram_hashes(words: list[str]) -> list[int]:
    """The distinct bigram hashes of ``words`` (a single word: its own hash)."""
    hashes = np.array([_word_hash(w) for w in words], dtype=np.uint64)
    if len(hashes) > 1:
        hashes = ((hashes[:-1] * _MIX) ^ hashes[1:]) & _MASK
    return [int(h) for h in np.unique(hashes)]


@dataclass(slots=True)
class Print:
    cluster: str
    minhash: MinHash | None
    last_day: datetime
    flags: int  # what the text alone says (records.TEXT_FLAGS), found once per distinct text


class Fingerprints:
    """The LSH index of the distinct instructions of the days in memory, and their clusters."""

    def __init__(self, threshold: float, num_perm: int, min_tokens: int) -> None:
        self._num_perm = num_perm
        self._min_tokens = min_tokens
        self._threshold = threshold
        self._template = MinHash(num_perm=num_perm, hashfunc=_identity, scheme=_SCHEME)
        # b × r = num_perm with r = 4: recall matters more than precision (the leader check follows).
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=(num_perm // 4, 4))
        self._prints: dict[str, Print] = {}

    def get(self, sha: str) -> Print | None:
        return self._prints.get(sha)

    def minhash_of(self, text: str) -> MinHash | None:
        """The MinHash of ``text``, or None when it is too short to call a template."""
        words = tokens(text)
        if len(words) < self._min_tokens:
            return None
        minhash = self._template.copy()
        minhash.update_batch(bigram_hashes(words))
        return minhash

    def add(self, sha: str, minhash: MinHash | None, day: datetime, flags: int) -> Print:
        """Cluster a new distinct instruction (``minhash`` None: exact repeats only) and index it."""
        known = self._prints.get(sha)
        if known is not None:
            known.last_day = max(known.last_day, day)
            return known
        cluster = sha
        if minhash is not None:
            cluster = self._cluster_of(minhash) or sha
            self._lsh.insert(sha, minhash, check_duplication=False)
        found = self._prints[sha] = Print(cluster, minhash, day, flags)
        return found

    def _cluster_of(self, minhash: MinHash) -> str | None:
        votes = Counter(self._prints[key].cluster for key in self._lsh.query(minhash) if key in self._prints)
        for cluster, _ in votes.most_common(3):
            leader = self._prints.get(cluster)
            if leader is None or self.similarity(minhash, leader.minhash) >= self._threshold - 0.1:
                return cluster  # a forgotten leader: the votes alone decide
        return None

    def restore(self, sha: str, cluster: str, data: bytes | None, day: datetime, flags: int) -> None:
        """Index an instruction loaded from the store, in the cluster it was given."""
        known = self._prints.get(sha)
        if known is not None:
            known.last_day = max(known.last_day, day)
            return
        minhash = self.from_bytes(data)
        if minhash is not None:
            self._lsh.insert(sha, minhash, check_duplication=False)
        self._prints[sha] = Print(cluster, minhash, day, flags)

    def forget_before(self, day: datetime) -> None:
        """Drop the instructions last seen before ``day`` (memory stays bounded by the kept days)."""
        stale = [sha for sha, found in self._prints.items() if found.last_day < day]
        for sha in stale:
            if self._prints.pop(sha).minhash is not None:
                self._lsh.remove(sha)

    def similarity(self, a: MinHash | None, b: MinHash | None) -> float:
        return 0.0 if a is None or b is None else float(a.jaccard(b))

    @staticmethod
    def to_bytes(minhash: MinHash | None) -> bytes | None:
        return None if minhash is None else np.asarray(minhash.hashvalues, dtype=_DTYPE).tobytes()

    def from_bytes(self, data: bytes | None) -> MinHash | None:
        if data is None or len(data) != self._num_perm * 4:
            return None
        values = np.frombuffer(data, dtype=_DTYPE).copy()
        return MinHash(hashvalues=values, permutations=self._template.permutations, hashfunc=_identity, scheme=_SCHEME)

    def __len__(self) -> int:
        return len(self._prints)
