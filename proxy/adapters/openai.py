"""OpenAI Responses and Chat Completions: routes, request reading, stream parsing, errors."""

from __future__ import annotations

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
from proxy.adapters.collect import (
    SseOrJsonParser,
    as_dict,
    as_int,
    as_list,
    as_str,
    loads,
)
from proxy.adapters.instruction import InstructionJoiner
from proxy.adapters.openai_channels import TEXT_PART_TYPES, channels
from proxy.adapters.paths import is_model_name, path_segments

VENDOR = "openai"

_CODEX_TITLE_PROMPT = "Generate a concise, single-line task title"
_COMMIT_MESSAGE_PROMPT = "generates concise, one-line Git commit messages"  # aider's commit side call
_HUMAN_ROLES = frozenset({"user"})

_ERRORS: dict[ErrorKind, tuple[int, str, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error", "invalid_request"),
    ErrorKind.POLICY_BLOCK: (400, "invalid_request_error", "policy_blocked"),
    ErrorKind.UNAUTHENTICATED: (401, "invalid_request_error", "invalid_api_key"),
    ErrorKind.NOT_FOUND: (404, "invalid_request_error", "not_found"),
    ErrorKind.TOO_LARGE: (413, "invalid_request_error", "request_too_large"),
    ErrorKind.UPSTREAM_UNREACHABLE: (502, "server_error", "upstream_unreachable"),
    ErrorKind.UPSTREAM_TIMEOUT: (504, "server_error", "upstream_timeout"),
    ErrorKind.UNAVAILABLE: (503, "server_error", "service_unavailable"),
    ErrorKind.UPGRADE_REFUSED: (426, "invalid_request_error", "websocket_not_supported"),
}

_POST_ROUTES = {
    ("responses",): "responses",
    ("responses", "input_tokens"): "responses.input_tokens",
    # Codex's remote compaction (x-codex-beta-features: remote_compaction_v2).
    ("responses", "compact"): "responses.compact",
    ("chat", "completions"): "chat.completions",
}


def _content_texts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [content]
    return [
        part.get("text") for part in as_list(content) if isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES
    ]


def _first_text(content: Any) -> str | None:
    texts = _content_texts(content)
    return texts[0] if texts and isinstance(texts[0], str) else None


def _has_title_schema(body: dict[str, Any]) -> bool:
    schema = as_dict(as_dict(as_dict(body.get("text")).get("format")).get("schema"))
    properties = schema.get("properties")
    return isinstance(properties, dict) and list(properties) == ["title"]


def _read_messages(view: CallView, items: list[Any], tool_item_types: bool) -> int | None:
    """Latest human text and the system head from a message/input list; the index of the
    item the text came from."""
    first = as_dict(items[0]) if items else {}
    if first.get("role") in ("system", "developer"):
        head = _first_text(first.get("content"))
        if head:
            view.extras["system_head"] = head[:200]
    for at in range(len(items) - 1, -1, -1):
        item = items[at]
        if not isinstance(item, dict) or item.get("role") not in _HUMAN_ROLES:
            continue
        # Responses input items: only "message" (or type-less easy input) items
        # carry typed text; function_call_output and the like are tool output.
        if tool_item_types and item.get("type", "message") != "message":
            continue
        joiner = InstructionJoiner()
        for text in _content_texts(item.get("content")):
            joiner.add(text)
        text = joiner.text()
        if text:
            view.instruction = text
            return at
    return None


def _session_from_metadata(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("{") and len(value) < 16384:
        value = loads(value)
    session = as_str(as_dict(value).get("session_id"))
    return session or None


class OpenAIAdapter:
    vendor = VENDOR
    prefix = "/openai"
    default_upstream = "https://api.openai.com"
    client_setup = "Codex (config.toml base_url), openai SDK: OPENAI_BASE_URL={base}/v1"

    def match(self, method: str, path: str, headers: Mapping[str, str]) -> Route | None:
        segments = path_segments(path)
        if segments is None or len(segments) < 2 or segments[0] != "v1":
            return None
        rest = tuple(segments[1:])
        if method == "POST":
            endpoint = _POST_ROUTES.get(rest)
            if endpoint is not None:
                return Route(VENDOR, endpoint, "/v1/" + "/".join(rest), method, has_body=True)
        elif method == "GET":
            if rest == ("responses",):
                # Codex's WebSocket attempt: refused so that it falls back to SSE.
                return Route(VENDOR, "responses.websocket", "/v1/responses", method, has_body=False)
            if rest == ("models",):
                return Route(VENDOR, "models", "/v1/models", method, has_body=False)
            if len(rest) == 2 and rest[0] == "models" and is_model_name(rest[1]):
                return Route(VENDOR, "models.get", f"/v1/models/{rest[1]}", method, has_body=False)
        return None

    def body_path(self, body: Any) -> str:
        if isinstance(body, dict) and "messages" in body and "input" not in body:
            return "/v1/chat/completions"
        return "/v1/responses"

    def claims(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        return True  # the fallback when no other vendor's signals are present

    def read_call(self, route: Route, body: Any, query: Mapping[str, str]) -> CallView:
        view = CallView(vendor=VENDOR, endpoint=route.endpoint)
        if not route.has_body:
            if route.endpoint == "models.get":
                view.model = route.upstream_path.rsplit("/", 1)[1]
            return view
        body = json_object(body)
        view.model = optional_str(body, "model")
        view.stream = body.get("stream") is True
        if route.endpoint == "chat.completions":
            self._read_chat(view, body)
        else:
            self._read_responses(view, body)
        return view

    def _read_chat(self, view: CallView, body: dict[str, Any]) -> None:
        messages = optional_list(body, "messages")
        view.turn_count = len(messages)
        latest_user = _read_messages(view, messages, tool_item_types=False)
        view.channels = channels(messages, view.instruction, latest_user, None)
        if _COMMIT_MESSAGE_PROMPT in view.extras.get("system_head", ""):
            view.side_call = "commit_message"
        session = as_str(body.get("prompt_cache_key"))
        view.session_hint = session or None

    def _read_responses(self, view: CallView, body: dict[str, Any]) -> None:
        items = body.get("input")
        instructions = optional_str(body, "instructions")
        if isinstance(items, str):
            view.turn_count = 1
            joiner = InstructionJoiner()
            joiner.add(items)
            view.instruction = joiner.text()
            view.channels = channels([{"role": "user", "content": items}], view.instruction, 0, instructions)
        elif isinstance(items, list):
            view.turn_count = len(items)
            latest_user = _read_messages(view, items, tool_item_types=True)
            view.channels = channels(items, view.instruction, latest_user, instructions)
        elif items is not None:
            raise InvalidRequest("'input' must be a string or a list of input items")
        else:
            view.channels = channels([], "", None, instructions)
        if instructions:
            view.extras["system_head"] = instructions[:200]
        tools = body.get("tools")
        no_tools = tools is None or tools == []
        asks_title = _CODEX_TITLE_PROMPT in (instructions or "") or _CODEX_TITLE_PROMPT in view.instruction
        if asks_title or (no_tools and _has_title_schema(body)):
            view.side_call = "title"
        view.session_hint = _session_from_metadata(body.get("client_metadata")) or (
            as_str(body.get("prompt_cache_key")) or None
        )

    def outcome_parser(self, route: Route, call: CallView, content_type: str) -> OutcomeParser:
        streaming = is_event_stream(content_type, call)
        if route.endpoint == "chat.completions":
            return ChatOutcomeParser(streaming)
        return ResponsesOutcomeParser(streaming)

    def error_reply(self, kind: ErrorKind, message: str, request_id: str | None = None) -> ErrorReply:
        status, error_type, code = _ERRORS[kind]
        body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
        headers = retry_headers(kind)
        if request_id:
            headers.append(("x-request-id", request_id))
        return ErrorReply(status, tuple(headers), orjson.dumps(body))

    def credential(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        return bearer_token(headers)

    def upstream_credentials(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def credential_query_params(self) -> tuple[str, ...]:
        return ()

    def sse_comment(self, text: str) -> bytes:
        return sse_comment(text)


class ResponsesOutcomeParser(SseOrJsonParser):
    """Responses API: typed SSE events ending in response.completed, or one JSON object."""

    def __init__(self, sse: bool) -> None:
        super().__init__(sse)
        # Final items repeat what the deltas carried; they are used only when no deltas came.
        self._saw_text_delta = False
        self._saw_thinking_delta = False
        self._saw_items = False

    def _usage(self, usage: Any) -> None:
        usage = as_dict(usage)
        target = self._out.outcome.usage
        target.input_tokens = as_int(usage.get("input_tokens"))
        target.output_tokens = as_int(usage.get("output_tokens"))
        target.cache_read_tokens = as_int(as_dict(usage.get("input_tokens_details")).get("cached_tokens"))
        target.reasoning_tokens = as_int(as_dict(usage.get("output_tokens_details")).get("reasoning_tokens"))

    def _response_meta(self, response: Any) -> dict[str, Any]:
        response = as_dict(response)
        outcome = self._out.outcome
        outcome.response_id = as_str(response.get("id")) or outcome.response_id
        outcome.model = as_str(response.get("model")) or outcome.model
        return response

    def _item(self, item: dict[str, Any], done: bool) -> None:
        """An output item, as announced (added) or final (done / non-streamed)."""
        out = self._out
        item_type = item.get("type")
        key = as_str(item.get("id")) or as_str(item.get("call_id")) or ""
        if item_type in ("function_call", "custom_tool_call"):
            out.tool(key, item.get("name"), item.get("call_id"))
            if done:
                out.set_tool_args(key, item.get("arguments") if item_type == "function_call" else item.get("input"))
        elif done and item_type == "message" and not self._saw_text_delta:
            for part in as_list(item.get("content")):
                part = as_dict(part)
                if part.get("type") == "output_text":
                    out.add_text(part.get("text"))
        elif done and item_type == "reasoning" and not self._saw_thinking_delta:
            for part in as_list(item.get("summary")):
                out.add_thinking(as_dict(part).get("text"))

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        out = self._out
        if kind == "response.output_text.delta":
            out.add_text(event.get("delta"))
            self._saw_text_delta = True
        elif kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
            out.add_tool_args(as_str(event.get("item_id")) or "", event.get("delta"))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            out.add_thinking(event.get("delta"))
            self._saw_thinking_delta = True
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._saw_items = True
            self._item(as_dict(event.get("item")), done=kind == "response.output_item.done")
        elif kind in ("response.created", "response.in_progress"):
            self._response_meta(event.get("response"))
        elif kind in ("response.completed", "response.incomplete"):
            response = self._response_meta(event.get("response"))
            if not self._saw_items:
                for item in as_list(response.get("output")):
                    self._item(as_dict(item), done=True)
            self._usage(response.get("usage"))
            reason = as_str(as_dict(response.get("incomplete_details")).get("reason"))
            out.outcome.stop_reason = reason or as_str(response.get("status")) or kind.split(".")[1]
            out.outcome.complete = True
        elif kind == "response.failed":
            response = self._response_meta(event.get("response"))
            self._usage(response.get("usage"))
            out.outcome.stop_reason = "failed"
            out.set_error(response.get("error"), fallback_type="response_failed")
        elif kind == "error":
            inner = event.get("error")
            if isinstance(inner, dict):
                out.set_error(inner)
            else:  # the flat form: {"type": "error", "code": ..., "message": ...}
                out.set_error({"code": event.get("code"), "message": event.get("message")})

    def _whole(self, body: dict[str, Any]) -> None:
        out = self._out
        if "error" in body and body["error"] is not None and body.get("object") != "response":
            out.set_error(body["error"])
        elif body.get("object") == "response":
            self._response_meta(body)
            for item in as_list(body.get("output")):
                self._item(as_dict(item), done=True)
            self._usage(body.get("usage"))
            out.outcome.stop_reason = as_str(body.get("status"))
            if body.get("error"):
                out.set_error(body["error"], fallback_type="response_failed")
        elif "input_tokens" in body:
            out.outcome.usage.input_tokens = as_int(body.get("input_tokens"))
        out.outcome.complete = True


class ChatOutcomeParser(SseOrJsonParser):
    """Chat Completions: ``data:`` chunks ending in ``[DONE]``, or one JSON object."""

    def _payload(self, payload: bytes) -> None:
        if payload.strip() == b"[DONE]":
            self._out.outcome.complete = True
            return
        super()._payload(payload)

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        target = self._out.outcome.usage
        target.input_tokens = as_int(usage.get("prompt_tokens"))
        target.output_tokens = as_int(usage.get("completion_tokens"))
        target.cache_read_tokens = as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
        target.reasoning_tokens = as_int(as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"))

    def _tool_calls(self, calls: Any) -> None:
        out = self._out
        for position, call in enumerate(as_list(calls)):
            call = as_dict(call)
            index = as_int(call.get("index"))
            key = index if index is not None else position
            function = as_dict(call.get("function"))
            out.tool(key, function.get("name"), call.get("id"))
            out.add_tool_args(key, function.get("arguments"))

    def _choice(self, choice: dict[str, Any], part: dict[str, Any]) -> None:
        out = self._out
        out.add_text(part.get("content"))
        out.add_thinking(part.get("reasoning_content") or part.get("reasoning"))
        self._tool_calls(part.get("tool_calls"))
        finish = as_str(choice.get("finish_reason"))
        if finish:
            out.outcome.stop_reason = finish
            out.outcome.complete = True

    def _meta(self, body: dict[str, Any]) -> None:
        outcome = self._out.outcome
        outcome.response_id = as_str(body.get("id")) or outcome.response_id
        outcome.model = as_str(body.get("model")) or outcome.model
        self._usage(body.get("usage"))

    def _event(self, event: dict[str, Any]) -> None:
        if "error" in event and event["error"] is not None:
            self._out.set_error(event["error"])
            return
        self._meta(event)
        for choice in as_list(event.get("choices")):
            choice = as_dict(choice)
            if as_int(choice.get("index")) in (0, None):  # n > 1 alternatives are not collected
                self._choice(choice, as_dict(choice.get("delta")))

    def _whole(self, body: dict[str, Any]) -> None:
        if "error" in body and body["error"] is not None:
            self._out.set_error(body["error"])
        else:
            self._meta(body)
            choices = as_list(body.get("choices"))
            if choices:
                choice = as_dict(choices[0])
                self._choice(choice, as_dict(choice.get("message")))
        self._out.outcome.complete = True


ADAPTER = OpenAIAdapter()
