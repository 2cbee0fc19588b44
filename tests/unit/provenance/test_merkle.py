"""RFC 6962 tree heads and inclusion proofs against a literal recursive reference."""

from __future__ import annotations

import hashlib

import pytest

from proxy.provenance.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    inclusion_proof,
    leaf_hash,
    root_from_inclusion_proof,
    tree_root,
    verify_inclusion,
)


def reference_mth(data: list[bytes]) -> bytes:
    """RFC 6962 §2.1, written as the RFC states it."""
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + reference_mth(data[:k]) + reference_mth(data[k:])).digest()


def reference_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*reference_path(m, data[:k]), reference_mth(data[k:])]
    return [*reference_path(m - k, data[k:]), reference_mth(data[:k])]


LEAVES = [hashlib.sha256(b"record %d" % i).digest() for i in range(40)]


def test_empty_tree_root() -> None:
    assert MerkleFrontier().root() == EMPTY_ROOT == reference_mth([])


@pytest.mark.parametrize("size", range(1, 41))
def test_frontier_root_matches_reference(size: int) -> None:
    frontier = MerkleFrontier()
    for data in LEAVES[:size]:
        frontier.append(data)
    assert frontier.size == size
    assert len(frontier.subtrees) == size.bit_count()
    assert frontier.root() == reference_mth(LEAVES[:size])
    assert MerkleFrontier.from_json(frontier.to_json()).root() == frontier.root()


@pytest.mark.parametrize("size", range(1, 41))
def test_inclusion_proofs_for_every_leaf(size: int) -> None:
    hashed = [leaf_hash(data) for data in LEAVES[:size]]
    root = tree_root(hashed)
    for index in range(size):
        proof = inclusion_proof(hashed, index)
        assert proof == reference_path(index, LEAVES[:size])
        assert verify_inclusion(hashed[index], index, size, proof, root)
        # the same proof must not vouch for another leaf, position or size
        other = hashed[(index + 1) % size]
        if size > 1:
            assert not verify_inclusion(other, index, size, proof, root)
            assert not verify_inclusion(hashed[index], (index + 1) % size, size, proof, root)
        if proof:
            assert not verify_inclusion(hashed[index], index, size, proof[:-1], root)
            flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
            assert not verify_inclusion(hashed[index], index, size, flipped, root)


def test_proof_of_wrong_length_is_rejected_not_crashing() -> None:
    hashed = [leaf_hash(data) for data in LEAVES[:5]]
    assert root_from_inclusion_proof(hashed[0], 0, 5, []) is None
    assert root_from_inclusion_proof(hashed[0], 5, 5, []) is None
