"""Gemini API (generativelanguage): routes, request reading, stream parsing, errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.adapters.base import (
    CallView,
    ErrorKind,
    ErrorReply,
    OutcomeParser,
    Route,
    bearer_token,
    json_object,
    optional_list,
    retry_headers,
)
from proxy.adapters.channels import DOCUMENT, MODEL_TURN, PREFILL, SYSTEM, TOOL_RESULT, ChannelCollector
from proxy.adapters.collect import (
    MAX_JSON_BODY,
    JSONFramer,
    SseOrJsonParser,
    as_dict,
    as_int,
    as_list,
    as_str,
    json_text,
)
from proxy.adapters.instruction import InstructionJoiner
from proxy.adapters.paths import is_model_name, path_segments

VENDOR = "gemini"

_VERSIONS = frozenset({"v1beta", "v1", "v1alpha"})
_COLLECTIONS = frozenset({"models", "tunedModels"})
_METHODS = {
    "generateContent": "generateContent",
    "streamGenerateContent": "streamGenerateContent",
    "countTokens": "countTokens",
}
_ROUTER_PROMPT = "You are a specialized Task Routing AI"

_ERRORS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "INVALID_ARGUMENT"),
    ErrorKind.POLICY_BLOCK: (403, "PERMISSION_DENIED"),
    ErrorKind.UNAUTHENTICATED: (401, "UNAUTHENTICATED"),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND"),
    ErrorKind.TOO_LARGE: (413, "INVALID_ARGUMENT"),
    ErrorKind.UPSTREAM_UNREACHABLE: (502, "UNAVAILABLE"),
    ErrorKind.UPSTREAM_TIMEOUT: (504, "DEADLINE_EXCEEDED"),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE"),
    ErrorKind.UPGRADE_REFUSED: (426, "FAILED_PRECONDITION"),
}


def _schema_has_complexity(config: dict[str, Any]) -> bool:
    schema = as_dict(config.get("responseSchema") or config.get("responseJsonSchema"))
    return "complexity_score" in as_dict(schema.get("properties"))


def _channels(system: Any, contents: list[Any], instruction: str, latest_user: int | None) -> list[tuple[str, str]]:
    """Everything but the instruction, newest first: contents, then ``systemInstruction``."""
    collector = ChannelCollector()
    last = len(contents) - 1
    for at in range(last, -1, -1):
        content = as_dict(contents[at])
        if content.get("role", "user") != "user":
            collector.add_json(PREFILL if at == last else MODEL_TURN, content.get("parts"))
            continue
        for part in as_list(content.get("parts")):
            part = as_dict(part)
            if "text" in part and not part.get("thought"):
                collector.add_user_text(part["text"], instruction, at == latest_user)
            elif "functionResponse" in part or "function_response" in part:
                collector.add_json(TOOL_RESULT, part)
            elif part.get("thought"):
                collector.add_json(MODEL_TURN, part)
            else:
                collector.add_json(DOCUMENT, part)
    collector.add_json(SYSTEM, system)
    return collector.pairs


class GeminiAdapter:
    vendor = VENDOR
    prefix = "/gemini"
    default_upstream = "https://generativelanguage.googleapis.com"
    client_setup = "Gemini CLI: GOOGLE_GEMINI_BASE_URL={base}; google-genai SDK: HttpOptions(base_url={base})"

    def match(self, method: str, path: str, headers: Mapping[str, str]) -> Route | None:
        segments = path_segments(path)
        if segments is None or len(segments) < 2 or segments[0] not in _VERSIONS:
            return None
        version, collection = segments[0], segments[1]
        if collection not in _COLLECTIONS:
            return None
        if method == "GET":
            if len(segments) == 2 and collection == "models":
                return Route(VENDOR, "models", f"/{version}/models", method, has_body=False)
            if len(segments) == 3 and is_model_name(segments[2]):
                model = segments[2]
                upstream = f"/{version}/{collection}/{model}"
                return Route(VENDOR, "models.get", upstream, method, has_body=False, model_from_path=model)
            return None
        if method != "POST" or len(segments) != 3:
            return None
        model, sep, action = segments[2].partition(":")
        endpoint = _METHODS.get(action)
        if not sep or endpoint is None or not is_model_name(model):
            return None
        name = model if collection == "models" else f"{collection}/{model}"
        return Route(
            VENDOR,
            endpoint,
            f"/{version}/{collection}/{model}:{action}",
            method,
            has_body=True,
            model_from_path=name,
            streams_from_path=endpoint == "streamGenerateContent",
        )

    def body_path(self, body: Any) -> str:
        model = body.get("model") if isinstance(body, dict) else None
        return f"/v1beta/models/{model or 'gemini-2.5-pro'}:generateContent"

    def claims(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        return "x-goog-api-key" in headers or path.startswith("/v1beta")

    def read_call(self, route: Route, body: Any, query: Mapping[str, str]) -> CallView:
        view = CallView(
            vendor=VENDOR,
            endpoint=route.endpoint,
            model=route.model_from_path,
            stream=route.streams_from_path,
        )
        if not route.has_body:
            return view
        body = json_object(body)
        if route.endpoint == "countTokens" and "contents" not in body:
            # countTokens may wrap a whole request: {"generateContentRequest": {...}}
            inner = body.get("generateContentRequest")
            if isinstance(inner, dict):
                body = inner
        contents = optional_list(body, "contents")
        view.turn_count = len(contents)

        system = body.get("systemInstruction", body.get("system_instruction"))
        system_head = None
        if isinstance(system, str):
            system_head = system
        else:
            parts = as_list(as_dict(system).get("parts"))
            system_head = as_str(as_dict(parts[0]).get("text")) if parts else None
        if system_head:
            view.extras["system_head"] = system_head[:200]
        config = as_dict(body.get("generationConfig", body.get("generation_config")))
        if (system_head and _ROUTER_PROMPT in system_head) or _schema_has_complexity(config):
            view.side_call = "router"

        latest_user = None
        for at in range(len(contents) - 1, -1, -1):
            content = contents[at]
            if not isinstance(content, dict) or content.get("role", "user") != "user":
                continue
            joiner = InstructionJoiner()
            for part in as_list(content.get("parts")):
                # functionResponse / inlineData / thought parts are not typed by a person.
                if isinstance(part, dict) and "text" in part and not part.get("thought"):
                    joiner.add(part["text"])
            text = joiner.text()
            if text:
                view.instruction = text
                latest_user = at
                break
        view.channels = _channels(system, contents, view.instruction, latest_user)
        return view

    def outcome_parser(self, route: Route, call: CallView, content_type: str) -> OutcomeParser:
        return GeminiOutcomeParser(sse="event-stream" in content_type.lower())

    def error_reply(self, kind: ErrorKind, message: str, request_id: str | None = None) -> ErrorReply:
        status, code = _ERRORS[kind]
        body = {"error": {"code": status, "message": message, "status": code, "details": []}}
        return ErrorReply(status, tuple(retry_headers(kind)), orjson.dumps(body))

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        return headers.get("x-goog-api-key") or query.get("key") or bearer_token(headers)

    def upstream_credentials(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def credential_query_params(self) -> tuple[str, ...]:
        return ("key",)

    def sse_comment(self, text: str) -> bytes:
        # Both Gemini SDKs (JS in Gemini CLI, Python google-genai) read every
        # non-empty stream line as JSON and fail on a comment, so Gemini streams
        # carry their provenance in the response headers only.
        return b""


_JSON_SIGNIFICANT = re.compile(rb'[\\"{}\[\]]')
_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPENERS, _CLOSERS = frozenset((0x7B, 0x5B)), frozenset((0x7D, 0x5D))


class JSONElementSplitter:
    """Yields each top-level object of a streamed JSON array (``[{…},{…}]``)
    or the single top-level object of a plain JSON body, as it completes.

    Only the element being assembled is buffered; one larger than ``cap`` is
    dropped (``overflowed``) while the scanner keeps its place in the stream.
    """

    def __init__(self, cap: int = MAX_JSON_BODY) -> None:
        self._cap = cap
        self._depth = 0
        self._element_depth: int | None = None  # 0: bare object, 1: array of objects
        self._in_string = False
        self._escape_next = False
        self._collecting = False
        self._dropping = False
        self._buffer = bytearray()
        self.overflowed = False

    def feed(self, data: bytes) -> list[bytes]:
        elements: list[bytes] = []
        start = 0 if self._collecting else -1
        skip_until = 0
        if self._escape_next and data:
            self._escape_next = False
            skip_until = 1
        for match in _JSON_SIGNIFICANT.finditer(data):
            pos = match.start()
            if pos < skip_until:
                continue
            char = data[pos]
            if self._in_string:
                if char == _BACKSLASH:
                    skip_until = pos + 2
                    if skip_until > len(data):
                        self._escape_next = True
                elif char == _QUOTE:
                    self._in_string = False
                continue
            if char == _QUOTE:
                self._in_string = True
            elif char in _OPENERS:
                if self._element_depth is None:
                    self._element_depth = 1 if char == 0x5B else 0
                if self._depth == self._element_depth and char == 0x7B:
                    self._collecting = True
                    self._dropping = False
                    start = pos
                self._depth += 1
            elif char in _CLOSERS:
                self._depth -= 1
                if self._collecting and self._depth == self._element_depth:
                    if self._dropping or len(self._buffer) + pos + 1 - start > self._cap:
                        self.overflowed = True
                    else:
                        self._buffer.extend(data[start : pos + 1])
                        elements.append(bytes(self._buffer))
                    self._buffer.clear()
                    self._collecting = False
                    start = -1
        if self._collecting and not self._dropping:
            self._buffer.extend(data[start:])
            if len(self._buffer) > self._cap:
                self._buffer.clear()
                self._dropping = True
                self.overflowed = True
        return elements

    def flush(self) -> list[bytes]:
        return []  # an element still open at the end was cut: nothing to parse


class GeminiOutcomeParser(SseOrJsonParser):
    """generateContent JSON, streamGenerateContent SSE (``alt=sse``) or a
    streamed JSON array; every element is a GenerateContentResponse."""

    def __init__(self, sse: bool) -> None:
        super().__init__(sse)
        self._next_tool = 0

    def _json_framer(self) -> JSONFramer:
        return JSONElementSplitter()

    def _event(self, event: dict[str, Any]) -> None:
        self._chunk(event)

    def _whole(self, body: dict[str, Any]) -> None:
        self._chunk(body)

    def _chunk(self, chunk: dict[str, Any]) -> None:
        out = self._out
        outcome = out.outcome
        if "error" in chunk:
            out.set_error(chunk.get("error"))
            return
        outcome.model = as_str(chunk.get("modelVersion")) or outcome.model
        outcome.response_id = as_str(chunk.get("responseId")) or outcome.response_id
        usage = chunk.get("usageMetadata")
        if isinstance(usage, dict):  # each chunk carries running totals: the last one wins
            target = outcome.usage
            target.input_tokens = as_int(usage.get("promptTokenCount"))
            target.output_tokens = as_int(usage.get("candidatesTokenCount"))
            target.cache_read_tokens = as_int(usage.get("cachedContentTokenCount"))
            target.reasoning_tokens = as_int(usage.get("thoughtsTokenCount"))
        if "totalTokens" in chunk and "candidates" not in chunk:  # countTokens
            outcome.usage.input_tokens = as_int(chunk.get("totalTokens"))
            outcome.complete = True
        block = as_str(as_dict(chunk.get("promptFeedback")).get("blockReason"))
        if block:
            outcome.stop_reason = block
            outcome.complete = True
        for candidate in as_list(chunk.get("candidates")):
            candidate = as_dict(candidate)
            if as_int(candidate.get("index")) not in (0, None):
                continue  # alternatives beyond the first are not collected
            for part in as_list(as_dict(candidate.get("content")).get("parts")):
                part = as_dict(part)
                if "text" in part:
                    if part.get("thought"):
                        out.add_thinking(part["text"])
                    else:
                        out.add_text(part["text"])
                elif "functionCall" in part:
                    call = as_dict(part["functionCall"])
                    key = self._next_tool  # each functionCall part is one whole call
                    self._next_tool += 1
                    out.tool(key, call.get("name"), call.get("id"))
                    out.add_tool_args(key, json_text(call.get("args", {})))
            finish = as_str(candidate.get("finishReason"))
            if finish:
                outcome.stop_reason = finish
                outcome.complete = True
        if "models" in chunk or ("name" in chunk and "supportedGenerationMethods" in chunk):
            outcome.complete = True


ADAPTER = GeminiAdapter()
