"""RFC 6962 / RFC 9162 Merkle tree hashes over the record hashes.

Leaves are the 32-byte record hashes: ``leaf = SHA-256(0x00 || record_hash)``,
``node = SHA-256(0x01 || left || right)``, and the empty tree hashes to
``SHA-256("")``. :class:`MerkleFrontier` keeps only the roots of the perfect
subtrees that make up the tree so far (one per set bit of the size), so
appending is O(1) amortised and the head of a tree of millions of records is
O(log n) work and state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


@dataclass(slots=True)
class MerkleFrontier:
    """The compact range [0, size): subtree roots, largest (leftmost) first."""

    size: int = 0
    subtrees: list[bytes] = field(default_factory=list)

    def append(self, data: bytes) -> None:
        self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, digest: bytes) -> None:
        size = self.size
        subtrees = self.subtrees
        # Each trailing 1-bit of the old size is a perfect subtree that the new
        # leaf completes into one twice as large.
        while size & 1:
            digest = node_hash(subtrees.pop(), digest)
            size >>= 1
        subtrees.append(digest)
        self.size += 1

    def root(self) -> bytes:
        if not self.subtrees:
            return EMPTY_ROOT
        digest = self.subtrees[-1]
        for left in reversed(self.subtrees[:-1]):
            digest = node_hash(left, digest)
        return digest

    def copy(self) -> MerkleFrontier:
        return MerkleFrontier(self.size, list(self.subtrees))

    def to_json(self) -> dict[str, object]:
        return {"size": self.size, "subtrees": [digest.hex() for digest in self.subtrees]}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> MerkleFrontier:
        size = data["size"]
        subtrees = data["subtrees"]
        if not isinstance(size, int) or not isinstance(subtrees, list):
            raise ValueError("malformed Merkle frontier")
        if len(subtrees) != size.bit_count():
            raise ValueError("Merkle frontier does not match its size")
        return cls(size, [bytes.fromhex(digest) for digest in subtrees])


def tree_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves."""
    frontier = MerkleFrontier()
    for digest in leaf_hashes:
        frontier.append_leaf_hash(digest)
    return frontier.root()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:n]) for the tree over ``leaf_hashes``; O(n) hashing."""
    if not 0 <= index < len(leaf_hashes):
        raise IndexError("leaf index outside the tree")
    proof: list[bytes] = []
    lo, hi = 0, len(leaf_hashes)
    while hi - lo > 1:
        split = lo + _largest_power_of_two_below(hi - lo)
        if index < split:
            proof.append(tree_root(leaf_hashes[split:hi]))
            hi = split
        else:
            proof.append(tree_root(leaf_hashes[lo:split]))
            lo = split
    proof.reverse()  # PATH lists siblings from the leaf upwards
    return proof


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` implies for ``leaf`` at ``index`` (RFC 9162 §2.1.3.2), or
    None when the proof has the wrong shape for that position and size."""
    if not 0 <= index < size:
        return None
    position, last = index, size - 1
    digest = leaf
    for sibling in proof:
        if last == 0:
            return None
        if position & 1 or position == last:
            digest = node_hash(sibling, digest)
            if not position & 1:
                while position and not position & 1:
                    position >>= 1
                    last >>= 1
        else:
            digest = node_hash(digest, sibling)
        position >>= 1
        last >>= 1
    if last != 0:
        return None
    return digest


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion_proof(leaf, index, size, proof) == root
