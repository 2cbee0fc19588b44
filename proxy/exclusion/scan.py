"""Scanning documents against the loaded index: one :class:`Match` per (document, source)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from proxy.exclusion.corpus import Document, Skipped
from proxy.exclusion.fingerprint import Engine, document_kgrams
from proxy.exclusion.index import LoadedIndex
from proxy.exclusion.matcher import FastMatcher, Matcher, line_spans


@dataclass(frozen=True, slots=True)
class Match:
    path: str
    source: str
    score: float  # containment: share of the source's fingerprints found in the document
    spans: list[tuple[int, int]]
    kind: str
    tool: str | None
    principal: str | None
    ts: str | None
    matched: int

    def record(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "source": self.source,
            "score": round(self.score, 4),
            "spans": [list(span) for span in self.spans],
            "kind": self.kind,
            "tool": self.tool,
            "principal": self.principal,
            "ts": self.ts,
            "matched_fingerprints": self.matched,
        }


@dataclass(slots=True)
class ScanStats:
    documents: int = 0
    bytes: int = 0
    flagged: int = 0
    skipped: list[Skipped] = field(default_factory=list)


class Scanner:
    def __init__(self, index: LoadedIndex, engine: Engine, matcher: Matcher | None = None) -> None:
        self.index = index
        self.engine = engine
        self.matcher = matcher or FastMatcher(index.arrays, index.params)

    def scan(self, document: Document) -> list[Match]:
        """The sources found in ``document``, best unit per source, highest score first."""
        kgrams = document_kgrams(document.data, document.language, self.index.params, self.engine)
        best: dict[str, Match] = {}
        for hit in self.matcher.match(kgrams):
            meta = self.index.unit_sources[hit.unit]
            if meta.source in best and best[meta.source].score >= hit.containment:
                continue
            best[meta.source] = Match(
                document.key,
                meta.source,
                hit.containment,
                line_spans(kgrams, hit.positions),
                meta.kind,
                meta.tool,
                meta.principal,
                meta.ts.isoformat() if meta.ts else None,
                hit.matched,
            )
        return sorted(best.values(), key=lambda match: (-match.score, match.source))

    def scan_all(
        self,
        items: Iterable[Document | Skipped],
        stats: ScanStats,
        progress: Callable[[ScanStats], None] | None = None,
    ) -> Iterator[Match]:
        for item in items:
            if isinstance(item, Skipped):
                stats.skipped.append(item)
                continue
            matches = self.scan(item)
            stats.documents += 1
            stats.bytes += len(item.data)
            stats.flagged += bool(matches)
            yield from matches
            if progress is not None:
                progress(stats)
