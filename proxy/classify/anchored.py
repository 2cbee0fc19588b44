"""Regular expressions run only where the literal words they need occur.

Python's ``re`` tries a pattern such as ``\\b(?:review|audit)\\b`` at every
position of the text: over a few kilobytes of pasted code that is a few
hundred microseconds per pattern. But most rule patterns cannot match without
certain literal words ("hidden", "benchmark", ...). Here every such word of
every pattern is found in one pass over the text (an Aho-Corasick automaton,
:class:`LiteralIndex`), and a pattern's regex runs only

* if each group of words the pattern needs occurred (a *gate*), and then
* as ``regex.match`` at each occurrence of a word every match starts with, or,
  when matches start with no fixed word, as ``regex.search`` over the stretch
  around each occurrence of a needed word that a match could span.

So a pattern costs a few set look-ups when its words are absent and a few
anchored match attempts when they are present, however long the text. The
words, the start words and the longest possible match are all read from the
pattern's parse tree, so they cannot drift from the pattern. The tree comes
from ``re._parser``, the standard library's own regex parser: private, but
in CPython since 3.11 (``sre_parse`` before).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from re import _constants as sre
from re import _parser
from typing import Any

import ahocorasick

# An unbounded repeat (``\s+``, ``\w*``) is assumed to span at most this many characters
# when bounding the stretch a pattern is searched in: a longer run of spaces or a longer
# word inside one phrase of a request is not expected.
UNBOUNDED_RUN = 40

_ONE_CHAR = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_WORD_REST = re.compile(r"\w*")

Items = Sequence[tuple[Any, Any]]
Literals = frozenset[str]
# Start positions of each literal found in a text.
Found = dict[str, list[int]]


@dataclass(frozen=True, slots=True)
class AnchoredPattern:
    regex: re.Pattern[str]
    gates: tuple[Literals, ...]  # every match contains a member of each
    starts: Literals | None  # every match starts with a member (after zero-width assertions)
    at_beginning: bool  # the pattern starts with ``^``: it can match only at position 0
    anchors: Literals  # the gate searched around when matches have no fixed start
    reach: int  # the longest a match can be

    @classmethod
    def compile(cls, pattern: str) -> AnchoredPattern:
        items = _parser.parse(pattern).data
        groups = _required_literals(items)
        if not groups:
            raise ValueError(f"pattern {pattern!r} has no literal every match contains: it would scan all the text")
        anchors = max(groups, key=_rank)
        # Short literals ("/", "to") occur everywhere: as gates they would cost more than they save.
        gates = [anchors] + [group for group in dict.fromkeys(groups) if group != anchors and _rank(group)[0] >= 3]
        starts = _start_literals(items)
        at_beginning = bool(items) and items[0] == (sre.AT, sre.AT_BEGINNING)
        return cls(
            regex=re.compile(pattern),
            gates=tuple(gates),
            # One- and two-letter start words occur everywhere: then searching around the anchors is cheaper.
            starts=starts if starts and _rank(starts)[0] >= 2 else None,
            at_beginning=at_beginning,
            anchors=anchors,
            reach=_longest(items),
        )

    @property
    def literals(self) -> Literals:
        """Every literal this pattern looks up."""
        return frozenset().union(*self.gates, self.starts or ())

    def search(self, text: str, found: Found) -> re.Match[str] | None:
        """The first match in ``text``; ``found`` must come from a :class:`LiteralIndex` holding this pattern."""
        for gate in self.gates:
            if found.keys().isdisjoint(gate):
                return None
        if self.at_beginning:
            return self.regex.match(text)
        if self.starts is not None:
            for pos in self._start_positions(found):
                match = self.regex.match(text, pos)
                if match is not None:
                    return match
            return None
        for start, end in self._stretches(text, found):
            match = self.regex.search(text, start, end)
            if match is not None:
                return match
        return None

    def finditer(self, text: str, found: Found) -> Iterator[re.Match[str]]:
        """Non-overlapping matches from left to right, as ``regex.finditer`` would give them."""
        for gate in self.gates:
            if found.keys().isdisjoint(gate):
                return
        if self.at_beginning:
            yield from self.regex.finditer(text)
        elif self.starts is not None:
            end = 0
            for pos in self._start_positions(found):
                if pos >= end:
                    match = self.regex.match(text, pos)
                    if match is not None:
                        yield match
                        end = match.end()
        else:
            for start, end in self._stretches(text, found):
                yield from self.regex.finditer(text, start, end)

    def _start_positions(self, found: Found) -> list[int]:
        assert self.starts is not None
        return sorted({pos for literal in self.starts for pos in found.get(literal, ())})

    def _stretches(self, text: str, found: Found) -> list[tuple[int, int]]:
        """Disjoint (start, end) spans of ``text`` that together hold every match.

        A match containing an anchor at ``pos`` starts no earlier than
        ``pos + len(anchor) - reach`` and ends no later than ``pos + reach``.
        Each end is moved to the end of a word so that ``\\b`` at the cut
        behaves as in the whole text; ``re`` already reads the character
        before a start.
        """
        length = len(text)
        if length <= 2 * self.reach:  # one stretch would be the whole text anyway
            return [(0, length)]
        spans = sorted(
            (max(0, pos + len(anchor) - self.reach), min(length, pos + self.reach))
            for anchor in self.anchors
            for pos in found.get(anchor, ())
        )
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if end < length and _is_word(text[end - 1]):
                end = _WORD_REST.match(text, end).end()  # type: ignore[union-attr]  # \w* always matches
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged


class LiteralIndex:
    """Finds every literal of a set of patterns in one pass over a text."""

    def __init__(self, patterns: Sequence[AnchoredPattern]) -> None:
        self._automaton = ahocorasick.Automaton()
        for literal in frozenset().union(*(pattern.literals for pattern in patterns)):
            self._automaton.add_word(literal, (len(literal) - 1, literal))
        self._automaton.make_automaton()
        # Which patterns (by position in ``patterns``) may match when a literal occurs.
        self._owners: dict[str, set[int]] = {}
        for number, pattern in enumerate(patterns):
            for literal in pattern.anchors:
                self._owners.setdefault(literal, set()).add(number)

    def candidates(self, found: Found) -> set[int]:
        """The patterns that may match: those whose anchors occurred; no other can."""
        owners = self._owners
        return set().union(*(owners[literal] for literal in found if literal in owners))

    def find(self, text: str) -> Found:
        found: Found = {}
        for end, (back, literal) in self._automaton.iter(text):
            found.setdefault(literal, []).append(end - back)
        return found


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _longest(items: Items) -> int:
    """The longest text the parsed pattern can match (unbounded repeats capped at UNBOUNDED_RUN)."""
    total = 0
    for op, arg in items:
        if op in _ONE_CHAR:
            total += 1
        elif op is sre.AT or (op is sre.ASSERT_NOT and arg[0] < 0):  # a look-behind reads before the start itself
            continue
        elif op is sre.SUBPATTERN:
            total += _longest(arg[-1])
        elif op is sre.ATOMIC_GROUP:
            total += _longest(arg)
        elif op is sre.BRANCH:
            total += max(_longest(branch) for branch in arg[1])
        elif op in _REPEATS:
            low, high, item = arg
            width = _longest(item)
            total += width * high if high != sre.MAXREPEAT else max(width * low, UNBOUNDED_RUN)
        else:  # lookaheads and back-references would need text outside the match
            raise ValueError(f"unsupported in an anchored pattern: {op}")
    return total


def _required_literals(items: Items) -> list[Literals]:
    """Groups of literals such that every match of the sequence contains a member of each group.

    A group is a run of literal characters, or an alternation whose every
    branch has a group of its own (the union of the branches' best groups).
    """
    groups: list[Literals] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if op is sre.AT or op is sre.ASSERT_NOT:  # zero width: the literals on both sides are adjacent
            continue
        if run:
            groups.append(frozenset(["".join(run)]))
            run = []
        if op is sre.SUBPATTERN:
            groups += _required_literals(arg[-1])
        elif op is sre.ATOMIC_GROUP:
            groups += _required_literals(arg)
        elif op is sre.BRANCH:
            per_branch = [_required_literals(branch) for branch in arg[1]]
            if all(per_branch):
                groups.append(_minimal(frozenset().union(*(max(each, key=_rank) for each in per_branch))))
        elif op in _REPEATS and arg[0] >= 1:
            groups += _required_literals(arg[2])
    if run:
        groups.append(frozenset(["".join(run)]))
    return groups


def _start_literals(items: Items) -> Literals | None:
    """Literals one of which every match starts with (zero-width assertions skipped), or None."""
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if op is sre.AT or op is sre.ASSERT_NOT:
            continue
        if run:
            break
        if op is sre.SUBPATTERN:
            return _start_literals(arg[-1])
        if op is sre.BRANCH:
            per_branch = [_start_literals(branch) for branch in arg[1]]
            if not all(per_branch):
                return None
            starts = frozenset().union(*per_branch)  # type: ignore[arg-type]
            # Finding "fail" finds where "failing" starts too; "doc" does not find "jsdoc".
            return frozenset(a for a in starts if not any(b != a and a.startswith(b) for b in starts))
        if op in _REPEATS and arg[0] >= 1:
            return _start_literals(arg[2])
        return None
    return frozenset(["".join(run)]) if run else None


def _rank(literals: Literals) -> tuple[int, int]:
    """Better groups first: no member shorter than three characters (those occur everywhere), then fewer members."""
    return min(3, *map(len, literals)), -len(literals)


def _minimal(literals: Literals) -> Literals:
    """Drop literals that contain another one: finding "fail" already finds "failing"."""
    return frozenset(a for a in literals if not any(b != a and b in a for b in literals))
