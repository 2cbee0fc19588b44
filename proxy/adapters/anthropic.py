"""Anthropic Messages API: routes, request reading, stream parsing, errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.adapters.base import (
    CallView,
    ErrorKind,
    ErrorReply,
    InvalidRequest,
    OutcomeParser,
    Route,
    bearer_token,
    is_event_stream,
    json_object,
    optional_list,
    optional_str,
    retry_headers,
    sse_comment,
)
from proxy.adapters.channels import (
    ATTACHMENT,
    DOCUMENT,
    MODEL_TURN,
    PREFILL,
    SYSTEM,
    TOOL_RESULT,
    ChannelCollector,
)
from proxy.adapters.collect import (
    SseOrJsonParser,
    as_dict,
    as_int,
    as_list,
    as_str,
    json_text,
    loads,
)
from proxy.adapters.instruction import InstructionJoiner, session_text
from proxy.adapters.paths import is_model_name, path_segments

VENDOR = "anthropic"

_TITLE_PROMPT = "Generate a concise, sentence-case title"
_BILLING_PREFIX = "x-anthropic-billing-header:"
_OLD_USER_ID_SESSION = re.compile(r"_session_([0-9A-Fa-f-]{8,64})$")
_BILLING_FIELD = re.compile(r"(cc_version|cc_entrypoint)=([^;\s]+)")

_ERRORS: dict[ErrorKind, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error"),
    ErrorKind.POLICY_BLOCK: (400, "invalid_request_error"),
    ErrorKind.UNAUTHENTICATED: (401, "authentication_error"),
    ErrorKind.NOT_FOUND: (404, "not_found_error"),
    ErrorKind.TOO_LARGE: (413, "request_too_large"),
    ErrorKind.UPSTREAM_UNREACHABLE: (502, "api_error"),
    ErrorKind.UPSTREAM_TIMEOUT: (504, "timeout_error"),
    ErrorKind.UNAVAILABLE: (503, "api_error"),
    ErrorKind.UPGRADE_REFUSED: (426, "invalid_request_error"),
}


def _system_texts(system: Any) -> list[str]:
    if isinstance(system, str):
        return [system]
    return [t for block in as_list(system) if isinstance(t := as_dict(block).get("text"), str)]


def _is_title_schema(output_config: Any) -> bool:
    schema = as_dict(as_dict(as_dict(output_config).get("format")).get("schema"))
    properties = schema.get("properties")
    return isinstance(properties, dict) and list(properties) == ["title"]


def session_from_user_id(user_id: Any) -> str | None:
    """Claude Code's session id from ``metadata.user_id`` (JSON string, or the
    older ``user_<hash>_account_<uuid>_session_<uuid>`` form)."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > 4096:
        return None
    if user_id.startswith("{"):
        session = as_str(as_dict(loads(user_id)).get("session_id"))
        return session or None
    match = _OLD_USER_ID_SESSION.search(user_id)
    return match.group(1) if match else None


def _message_instruction(content: Any, title_call: bool) -> str:
    joiner = InstructionJoiner()
    if isinstance(content, str):
        texts: list[Any] = [content]
    else:
        # Only text blocks can be typed by a person; tool_result, image,
        # document and unknown block types are walked over.
        texts = [b.get("text") for b in as_list(content) if isinstance(b, dict) and b.get("type") == "text"]
    for text in texts:
        if title_call and isinstance(text, str):
            quoted = session_text(text)
            if quoted is not None:
                text = quoted
        joiner.add(text)
    return joiner.text()


_BLOCK_CHANNELS = {"tool_result": TOOL_RESULT, "document": DOCUMENT, "search_result": DOCUMENT}


def _channels(
    system_texts: list[str], messages: list[Any], instruction: str, latest_user: int | None
) -> list[tuple[str, str]]:
    """Everything but the instruction, newest first: messages, then the system prompt."""
    collector = ChannelCollector()
    last = len(messages) - 1
    for at in range(last, -1, -1):
        message = as_dict(messages[at])
        content = message.get("content")
        role = message.get("role")
        if role != "user":
            collector.add_json(SYSTEM if role == "system" else PREFILL if at == last else MODEL_TURN, content)
            continue
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else as_list(content)
        for block in blocks:
            block = as_dict(block)
            if block.get("type") == "text":
                collector.add_user_text(block.get("text"), instruction, at == latest_user)
            else:
                collector.add_json(_BLOCK_CHANNELS.get(str(block.get("type")), ATTACHMENT), block)
    for text in system_texts:
        collector.add(SYSTEM, text)
    return collector.pairs


class AnthropicAdapter:
    vendor = VENDOR
    prefix = "/anthropic"
    default_upstream = "https://api.anthropic.com"
    client_setup = "Claude Code, anthropic SDK: ANTHROPIC_BASE_URL={base}"

    def match(self, method: str, path: str, headers: Mapping[str, str]) -> Route | None:
        segments = path_segments(path)
        if segments is None:
            return None
        if method == "HEAD" and segments == []:
            return Route(VENDOR, "preconnect", "/", method, has_body=False)
        if len(segments) < 2 or segments[0] != "v1":
            return None
        rest = segments[1:]
        if method == "POST":
            if rest == ["messages"]:
                return Route(VENDOR, "messages", "/v1/messages", method, has_body=True)
            if rest == ["messages", "count_tokens"]:
                return Route(VENDOR, "count_tokens", "/v1/messages/count_tokens", method, has_body=True)
        elif method == "GET" and rest[0] == "models":
            if len(rest) == 1:
                return Route(VENDOR, "models", "/v1/models", method, has_body=False)
            if len(rest) == 2 and is_model_name(rest[1]):
                return Route(VENDOR, "models.get", f"/v1/models/{rest[1]}", method, has_body=False)
        return None

    def body_path(self, body: Any) -> str:
        return "/v1/messages"

    def claims(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        return "anthropic-version" in headers or "x-api-key" in headers

    def read_call(self, route: Route, body: Any, query: Mapping[str, str]) -> CallView:
        view = CallView(vendor=VENDOR, endpoint=route.endpoint)
        if not route.has_body:
            if route.endpoint == "models.get":
                view.model = route.upstream_path.rsplit("/", 1)[1]
            return view
        body = json_object(body)
        model = optional_str(body, "model")
        messages = optional_list(body, "messages")
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            raise InvalidRequest("'system' must be a string or a list of content blocks")
        view.model = model
        view.stream = body.get("stream") is True
        view.turn_count = len(messages)
        view.session_hint = session_from_user_id(as_dict(body.get("metadata")).get("user_id"))

        system_texts = _system_texts(system)
        if system_texts and system_texts[0].startswith(_BILLING_PREFIX):
            # Claude Code's first system block names its version and entrypoint.
            view.extras.update(_BILLING_FIELD.findall(system_texts[0][:512]))
            system_texts = system_texts[1:]
        if system_texts:
            view.extras["system_head"] = system_texts[0][:200]
        tools = body.get("tools")
        no_tools = tools is None or tools == []
        if any(_TITLE_PROMPT in text for text in system_texts) or (
            no_tools and _is_title_schema(body.get("output_config"))
        ):
            view.side_call = "title"

        latest_user = None
        for at in range(len(messages) - 1, -1, -1):
            message = messages[at]
            if not isinstance(message, dict) or message.get("role") != "user":
                continue
            text = _message_instruction(message.get("content"), view.side_call == "title")
            if text:
                view.instruction = text
                latest_user = at
                break
        view.channels = _channels(system_texts, messages, view.instruction, latest_user)
        return view

    def outcome_parser(self, route: Route, call: CallView, content_type: str) -> OutcomeParser:
        return AnthropicOutcomeParser(is_event_stream(content_type, call))

    def error_reply(self, kind: ErrorKind, message: str, request_id: str | None = None) -> ErrorReply:
        status, error_type = _ERRORS[kind]
        body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
        if request_id:
            body["request_id"] = request_id
        headers = retry_headers(kind)
        if kind is ErrorKind.POLICY_BLOCK:
            # Continue shows the top-level "message" of an error body.
            body["message"] = message
        if request_id:
            headers.append(("request-id", request_id))
        return ErrorReply(status, tuple(headers), orjson.dumps(body))

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        return headers.get("x-api-key") or bearer_token(headers)

    def upstream_credentials(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def credential_query_params(self) -> tuple[str, ...]:
        return ()

    def sse_comment(self, text: str) -> bytes:
        return sse_comment(text)


class AnthropicOutcomeParser(SseOrJsonParser):
    """Messages API response: SSE events, or one JSON body (message, error, count)."""

    def _usage(self, usage: Any) -> None:
        usage = as_dict(usage)
        target = self._out.outcome.usage
        for field, name in (
            ("input_tokens", "input_tokens"),
            ("output_tokens", "output_tokens"),
            ("cache_read_input_tokens", "cache_read_tokens"),
            ("cache_creation_input_tokens", "cache_write_tokens"),
        ):
            value = as_int(usage.get(field))
            if value is not None:
                setattr(target, name, value)

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        out = self._out
        if kind == "content_block_delta":
            index = event.get("index")
            delta = as_dict(event.get("delta"))
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                out.add_text(delta.get("text"))
            elif delta_type == "thinking_delta":
                out.add_thinking(delta.get("thinking"))
            elif delta_type == "input_json_delta" and isinstance(index, int):
                out.add_tool_args(index, delta.get("partial_json"))
        elif kind == "content_block_start":
            index = event.get("index")
            block = as_dict(event.get("content_block"))
            block_type = block.get("type")
            if block_type == "text":
                out.add_text(block.get("text"))
            elif block_type == "thinking":
                out.add_thinking(block.get("thinking"))
            elif block_type in ("tool_use", "server_tool_use", "mcp_tool_use") and isinstance(index, int):
                out.tool(index, block.get("name"), block.get("id"))
                if block.get("input"):
                    out.add_tool_args(index, json_text(block["input"]))
        elif kind == "message_start":
            message = as_dict(event.get("message"))
            out.outcome.response_id = as_str(message.get("id"))
            out.outcome.model = as_str(message.get("model"))
            self._usage(message.get("usage"))
        elif kind == "message_delta":
            stop = as_str(as_dict(event.get("delta")).get("stop_reason"))
            if stop:
                out.outcome.stop_reason = stop
            self._usage(event.get("usage"))  # cumulative counts: the last one wins
        elif kind == "message_stop":
            out.outcome.complete = True
        elif kind == "error":
            out.set_error(event.get("error"))

    def _whole(self, body: dict[str, Any]) -> None:
        out = self._out
        if body.get("type") == "error" or "error" in body:
            out.set_error(body.get("error"))
        elif body.get("type") == "message":
            out.outcome.response_id = as_str(body.get("id"))
            out.outcome.model = as_str(body.get("model"))
            out.outcome.stop_reason = as_str(body.get("stop_reason"))
            for index, block in enumerate(as_list(body.get("content"))):
                block = as_dict(block)
                block_type = block.get("type")
                if block_type == "text":
                    out.add_text(block.get("text"))
                elif block_type == "thinking":
                    out.add_thinking(block.get("thinking"))
                elif block_type in ("tool_use", "server_tool_use", "mcp_tool_use"):
                    out.tool(index, block.get("name"), block.get("id"))
                    out.add_tool_args(index, json_text(block.get("input", {})))
        self._usage(body.get("usage") if "usage" in body else body)
        out.outcome.complete = True


ADAPTER = AnthropicAdapter()
