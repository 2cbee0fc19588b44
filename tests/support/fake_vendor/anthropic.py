"""Anthropic Messages API: ``POST /v1/messages`` (JSON or SSE with ``event:`` lines)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.fake_vendor.scenarios import Reply, ToolCall, ToolSpec, Turn, estimate_tokens, result_text
from tests.support.fake_vendor.wire import sse

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
FAKE_SIGNATURE = "ZmFrZS1zaWduYXR1cmU="


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


def _tool_result(content: Any) -> str | None:
    if not isinstance(content, list):
        return None
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    if not results:
        return None
    return result_text(results[-1].get("content", ""))


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format") or {}
    schema = fmt.get("schema") if isinstance(fmt, dict) else None
    return schema if isinstance(schema, dict) else None


def _usage(turn: Turn, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": turn.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": "req_fake_" + uuid.uuid4().hex[:20],
    }


class AnthropicMessages:
    vendor_label = "anthropic"
    request_id_header: str | None = "request-id"

    def read_turn(self, body: Any, path: str, query: dict[str, list[str]]) -> Turn:
        messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
        content = last_user.get("content", "")
        tools = [
            ToolSpec(t["name"], t.get("input_schema") or {})
            for t in body.get("tools", []) or []
            if isinstance(t, dict) and "name" in t
        ]
        schema = _output_schema(body)
        return Turn(
            model=str(body.get("model", "claude-fake")),
            stream=bool(body.get("stream")),
            last_user_text=_text_of(content),
            tool_result=_tool_result(content),
            tools=tools,
            output_schema=schema,
            json_output=schema is not None,
            input_tokens=estimate_tokens(body),
        )

    def render_json(self, turn: Turn, reply: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            content.append({"type": "thinking", "thinking": reply.thinking, "signature": FAKE_SIGNATURE})
        if reply.tool_call is not None:
            call = reply.tool_call
            content.append({"type": "tool_use", "id": call.call_id, "name": call.name, "input": call.arguments})
        else:
            content.append({"type": "text", "text": reply.text})
        return {
            "id": "msg_fake_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": turn.model,
            "content": content,
            "stop_reason": "tool_use" if reply.tool_call else "end_turn",
            "stop_sequence": None,
            "usage": _usage(turn, reply.output_tokens),
        }

    def encoder(self, turn: Turn, body: Any, query: dict[str, list[str]]) -> AnthropicStream:
        return AnthropicStream(turn)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return error_body(status, message)


class AnthropicStream:
    media_type = "text/event-stream"

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.index = 0
        self.output_tokens = 1
        self.stop_reason = "end_turn"

    def _event(self, data: dict[str, Any]) -> bytes:
        return sse(data, event=str(data["type"]))

    def _block_start(self, block: dict[str, Any]) -> bytes:
        return self._event({"type": "content_block_start", "index": self.index, "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return self._event({"type": "content_block_delta", "index": self.index, "delta": delta})

    def _block_stop(self) -> bytes:
        frame = self._event({"type": "content_block_stop", "index": self.index})
        self.index += 1
        return frame

    def opening(self) -> bytes:
        message: dict[str, Any] = {
            "id": "msg_fake_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": self.turn.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(self.turn, 1),
        }
        return self._event({"type": "message_start", "message": message})

    def thinking(self, text: str) -> bytes:
        self.output_tokens += len(text.split())
        return (
            self._block_start({"type": "thinking", "thinking": "", "signature": ""})
            + self._delta({"type": "thinking_delta", "thinking": text})
            + self._delta({"type": "signature_delta", "signature": FAKE_SIGNATURE})
            + self._block_stop()
        )

    def text_open(self) -> bytes:
        return self._block_start({"type": "text", "text": ""}) + self._event({"type": "ping"})

    def text_delta(self, text: str) -> bytes:
        self.output_tokens += max(1, len(text.split()))
        return self._delta({"type": "text_delta", "text": text})

    def text_close(self) -> bytes:
        return self._block_stop()

    def tool_call(self, call: ToolCall) -> bytes:
        self.stop_reason = "tool_use"
        self.output_tokens += 5
        arguments = json.dumps(call.arguments)
        half = len(arguments) // 2  # two fragments, as the real API splits partial JSON
        return (
            self._block_start({"type": "tool_use", "id": call.call_id, "name": call.name, "input": {}})
            + self._delta({"type": "input_json_delta", "partial_json": arguments[:half]})
            + self._delta({"type": "input_json_delta", "partial_json": arguments[half:]})
            + self._block_stop()
        )

    def closing(self) -> bytes:
        return self._event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": self.output_tokens},
            }
        ) + self._event({"type": "message_stop"})

    def error(self, message: str) -> bytes:
        return self._event({"type": "error", "error": {"type": "overloaded_error", "message": message}})
