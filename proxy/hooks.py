"""The seams between the request path and the features that hang off it.

The core (``proxy/handler.py``) calls these protocols and knows nothing else
about identity, policy, recording or provenance; each feature module provides
an implementation, and ``proxy/app.py`` wires them together. The
:class:`DiscardRecorder` here is the benchmark baseline's write path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from proxy.adapters.base import CallView
from proxy.events import Decision, Event


@dataclass(slots=True)
class Identity:
    """Who is calling, with which tool, in which session."""

    principal: str | None = None
    principal_kind: str = "anonymous"  # "proxy_key" | "header" | "vendor_key" | "anonymous"
    team: str | None = None
    tool: str = "unknown"
    tool_version: str | None = None
    session_id: str | None = None
    # The vendor key to send upstream instead of the client's (proxy-issued keys).
    upstream_key: str | None = None


class Unauthenticated(Exception):
    """The presented proxy key is unknown, revoked or expired."""


class PrincipalResolver(Protocol):
    def resolve(
        self,
        vendor: str,
        presented_key: str | None,
        headers: Mapping[str, str],
        client_addr: str | None,
        identity: Identity,
    ) -> None:
        """Fill ``identity.principal``/``principal_kind``/``team``/``upstream_key``.
        Raises :class:`Unauthenticated` for a bad proxy key."""
        ...


@dataclass(slots=True)
class Verdict:
    """The decide phase's answer for one call."""

    action: Decision = Decision.ALLOW
    label: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    rule_hits: list[str] = field(default_factory=list)
    policy_rule: str | None = None
    message: str | None = None  # shown to the engineer when blocked
    # Earlier events of the session whose requests contributed to this decision.
    evidence_events: list[str] = field(default_factory=list)
    # Told the event id once the event exists (session evidence links later calls to it).
    on_recorded: Callable[[str], None] | None = None


class Decider(Protocol):
    def decide(self, call: CallView, identity: Identity) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a committed event sits in the provenance chain (the SSE trailer names it)."""

    seq: int
    record_hash: str


class Recorder(Protocol):
    """The durable write path. ``submit`` never blocks the request."""

    def can_record(self) -> bool:
        """False when an event could not be made durable now (fail-closed refuses)."""
        ...

    def prepare(self, event: Event) -> None:
        """Optional head start, while the upstream works: what needs no response (e.g.
        compressing the request body). ``submit``/``commit`` of the event follow."""
        ...

    def provisional(self, event: Event) -> None:
        """The call is being forwarded: leave a record of it that survives a crash, completed
        by its ``submit``/``commit`` (a crash leaves "forwarded, outcome unknown")."""
        ...

    def submit(self, event: Event) -> None: ...

    async def commit(self, event: Event) -> Receipt | None:
        """Record ``event`` and return once it is durable (spooled or in the database):
        its chain position, or None when it was stored unsealed."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class HeaderSigner(Protocol):
    def header_signature(self, event_id: str, request_sha256: str) -> str:
        """Value of ``x-provenance-signature`` for a response (known at header time)."""
        ...


class Chainer(Protocol):
    """Seals events into the hash chain; called by the single writer, in order."""

    def seal(self, events: Sequence[Event]) -> Sequence[tuple[int, str, str]]:
        """``(sequence number, record hash, previous record hash)`` per event."""
        ...


class DiscardRecorder:
    """Records nothing: for ``PROVPROXY_RECORD=false`` benchmark baselines."""

    def can_record(self) -> bool:
        return True

    def prepare(self, event: Event) -> None:
        return None

    def provisional(self, event: Event) -> None:
        return None

    def submit(self, event: Event) -> None:
        return None

    async def commit(self, event: Event) -> Receipt | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
