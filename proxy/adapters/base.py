"""The contract between the proxy core and one vendor wire protocol.

The core never branches on the vendor: it asks an :class:`Adapter` to match a
path, to read a request into a :class:`CallView`, to parse the response (as it
streams) into a :class:`CallOutcome`, and to shape errors the way that vendor's
clients expect. Everything after the *read* phase looks only at these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

# Upper bounds on what one call may keep in memory while it streams.
MAX_COLLECTED_TEXT = 256 * 1024
MAX_INSTRUCTION_CHARS = 64 * 1024


class InvalidRequest(ValueError):
    """A request body of the wrong shape for its endpoint: the client's error (400), with a
    message for the client. The only exception ``Adapter.read_call`` may raise."""


class ErrorKind(StrEnum):
    """Why the proxy itself answers instead of the upstream."""

    INVALID_REQUEST = "invalid_request"  # malformed JSON, wrong types: 400
    POLICY_BLOCK = "policy_block"  # use forbidden by policy: vendor's non-retried shape
    UNAUTHENTICATED = "unauthenticated"  # unknown / revoked proxy key: 401
    NOT_FOUND = "not_found"  # path this proxy does not serve: 404
    TOO_LARGE = "too_large"  # body over the configured cap: 413
    UPSTREAM_UNREACHABLE = "upstream_unreachable"  # connect / read failure: 502
    UPSTREAM_TIMEOUT = "upstream_timeout"  # upstream too slow: 504
    UNAVAILABLE = "unavailable"  # fail-closed, nothing durable to record to: 503
    UPGRADE_REFUSED = "upgrade_refused"  # WebSocket upgrade: 426, client falls back to SSE


# Kinds a client must not retry: the same request gets the same answer.
NON_RETRYABLE = frozenset(
    {
        ErrorKind.INVALID_REQUEST,
        ErrorKind.POLICY_BLOCK,
        ErrorKind.UNAUTHENTICATED,
        ErrorKind.NOT_FOUND,
        ErrorKind.TOO_LARGE,
        ErrorKind.UPGRADE_REFUSED,
    }
)


@dataclass(frozen=True, slots=True)
class Route:
    """A request path matched to one vendor endpoint.

    ``upstream_path`` is the vendor path (prefix such as ``/anthropic`` removed)
    appended to the configured upstream base; it is rebuilt from the matched
    pattern, never copied blindly from the request line.
    """

    vendor: str
    endpoint: str  # e.g. "messages", "count_tokens", "responses", "chat.completions", "generateContent"
    upstream_path: str
    method: str
    has_body: bool  # POST endpoints whose JSON body is read and forwarded
    model_from_path: str | None = None  # Gemini puts the model in the path
    streams_from_path: bool = False  # Gemini :streamGenerateContent


@dataclass(slots=True)
class CallView:
    """What the later phases need to know about a request, read once."""

    vendor: str
    endpoint: str
    model: str | None = None
    stream: bool = False
    # Latest instruction typed by a human (tool results, system reminders and
    # environment wrappers walked over), capped at MAX_INSTRUCTION_CHARS.
    instruction: str = ""
    turn_count: int = 0  # messages / input items / contents in the request
    # Side calls made by the tools themselves, not by a person: "title", "router", ...
    side_call: str | None = None
    # Session hints found in the body (headers are read by identity, not here).
    session_hint: str | None = None
    # Text a caller controls elsewhere in the request, as (channel, text) pairs, newest first:
    # system prompt, earlier turns, tool results, documents, prefills, wrapper contents
    # (proxy.adapters.channels); read as secondary evidence by the classifier.
    channels: list[tuple[str, str]] = field(default_factory=list)
    # Anything else an adapter wants to hand on (e.g. Claude Code billing header).
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ToolCall:
    name: str
    call_id: str | None = None
    arguments: str = ""  # JSON text as the vendor sent it (may be partial if cut)


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class CallOutcome:
    """What the upstream answered, collected from the (possibly partial) response."""

    text: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    response_id: str | None = None
    model: str | None = None
    # An error reported by the upstream in the body or in the stream.
    error_type: str | None = None
    error_message: str | None = None
    # True when the response reached its protocol's terminal event/end.
    complete: bool = False
    # True when text/thinking/tool arguments were cut at MAX_COLLECTED_TEXT.
    truncated: bool = False


class OutcomeParser(Protocol):
    """Incremental parser fed with the response body as it is relayed.

    ``feed`` receives decoded (not content-encoded) bytes in arbitrary chunk
    boundaries; it must keep bounded memory. ``finish`` is called once, also
    for partial responses (client gone, upstream reset), and never raises.
    """

    def feed(self, data: bytes) -> None: ...

    def finish(self) -> CallOutcome: ...


@dataclass(frozen=True, slots=True)
class ErrorReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Adapter(Protocol):
    """One wire protocol. Implementations live one per module in this package."""

    vendor: str  # "anthropic" | "openai" | "gemini": also names its settings (PROVPROXY_UPSTREAM_<VENDOR>, ...)
    prefix: str  # "/anthropic" ...: the unambiguous mount point
    default_upstream: str  # the vendor's API origin, unless the settings name another
    # How its tools are pointed at the proxy, ``{base}`` being the proxy's URL with this prefix.
    client_setup: str

    def match(self, method: str, path: str, headers: Mapping[str, str]) -> Route | None:
        """The route for an unprefixed vendor path, or None if not ours."""
        ...

    def body_path(self, body: Any) -> str:
        """The endpoint path a request body with no request line is read as
        (``provproxy classify`` lines that name only a vendor)."""
        ...

    def claims(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        """Whether an unprefixed, unmatched path most likely meant this vendor
        (used only to pick the shape of the 404)."""
        ...

    def read_call(self, route: Route, body: Any, query: Mapping[str, str]) -> CallView:
        """Extract the CallView from the parsed JSON body (``None`` when the
        route has no body). Raises :class:`InvalidRequest` with a client-facing message
        when the body has the wrong shape for this endpoint."""
        ...

    def outcome_parser(self, route: Route, call: CallView, content_type: str) -> OutcomeParser:
        """A fresh parser for this response (SSE, JSON, or a streamed JSON array)."""
        ...

    def error_reply(self, kind: ErrorKind, message: str, request_id: str | None = None) -> ErrorReply:
        """The vendor-shaped error the proxy sends itself (see ErrorKind)."""
        ...

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        """The API key the client presented, wherever this vendor puts it."""
        ...

    def upstream_credentials(self, key: str) -> dict[str, str]:
        """Headers that carry the organisation's vendor key upstream."""
        ...

    def credential_query_params(self) -> tuple[str, ...]:
        """Query parameters that carry keys (removed before forwarding when the
        proxy substitutes its own credential)."""
        ...

    def sse_comment(self, text: str) -> bytes:
        """An SSE comment line this vendor's clients ignore (empty if they cannot)."""
        ...


# --------------------------------------------------------------------------- helpers every adapter shares


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header (lower-case header keys)."""
    value = headers.get("authorization")
    if value and value[:7].lower() == "bearer ":
        token = value[7:].strip()
        return token or None
    return None


def sse_comment(text: str) -> bytes:
    """One SSE comment line; line breaks would end the comment, so they become spaces."""
    clean = text.replace("\r", " ").replace("\n", " ")
    return b": " + clean.encode("utf-8") + b"\n\n"


def is_event_stream(content_type: str, call: CallView) -> bool:
    """Whether a response is SSE: by its content type, or by the request when it has none."""
    ctype = content_type.lower()
    return "event-stream" in ctype or (not ctype and call.stream)


def json_object(body: Any) -> dict[str, Any]:
    """The request body as a JSON object; anything else is a client error."""
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def optional_list(body: dict[str, Any], name: str) -> list[Any]:
    """A list field of the body (the messages, the contents), empty when absent."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"'{name}' must be a list")
    return value


def optional_str(body: dict[str, Any], name: str) -> str | None:
    """A string field of the body (the model, the instructions), None when absent."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string")
    return value


def retry_headers(kind: ErrorKind) -> list[tuple[str, str]]:
    """Headers of a JSON error reply, telling the SDKs not to retry what cannot succeed."""
    headers = [("content-type", "application/json")]
    if kind in NON_RETRYABLE:
        headers.append(("x-should-retry", "false"))
    return headers
