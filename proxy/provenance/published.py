"""Signed checkpoints as published outside the database (``checkpoint-<size>.txt`` files).

The ``checkpoints`` table lives in the database it vouches for: whoever can rewrite
the records can delete its rows and recompute the chain. The same signed notes are
written to ``checkpoint_dir`` (and may be copied anywhere: an object store, a git
repository), where that person cannot reach them. ``provproxy verify`` checks the
chain against both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from proxy.provenance.checkpoint import CheckpointError, verify_note
from proxy.provenance.signing_keys import Keyring

_NAME = re.compile(r"checkpoint-(\d+)\.txt")


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A signed tree head to check the chain against, wherever it came from."""

    tree_size: int
    root_hash: str  # hex
    label: str  # names it in findings: "checkpoint 7" (a row) or a file name


@dataclass(slots=True)
class Published:
    heads: list[SignedHead]  # valid ones, smallest first
    invalid: list[str]  # "<file>: <why>"
    newest: SignedHead | None  # the largest valid one, even below the walk's start


def published_checkpoints(directory: Path, keyring: Keyring, after_size: int = 0) -> Published:
    """The signed checkpoint files in ``directory`` over more than ``after_size`` records
    (every file's signature checked), and the newest of all of them."""
    found = Published([], [], None)
    if not directory.is_dir():
        return found
    named = sorted((int(match.group(1)), path) for path in directory.iterdir() if (match := _NAME.fullmatch(path.name)))
    for position, (size, path) in enumerate(named):
        if size <= after_size and position != len(named) - 1:
            continue  # already verified by an earlier run; the newest is always read
        try:
            signed = verify_note(path.read_text(), keyring)
        except (OSError, UnicodeDecodeError, CheckpointError) as exc:
            found.invalid.append(f"{path.name}: {exc}")
            continue
        if signed.tree_size != size:
            found.invalid.append(f"{path.name}: signs {signed.tree_size} records, not {size}")
            continue
        head = SignedHead(size, signed.root_hash, f"published {path.name}")
        found.newest = head
        if size > after_size:
            found.heads.append(head)
    return found
