"""OpenAI: Responses API (``POST /v1/responses``) and Chat Completions (``POST /v1/chat/completions``)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.support.fake_vendor.scenarios import Reply, ToolCall, ToolSpec, Turn, estimate_tokens, result_text
from tests.support.fake_vendor.wire import sse

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": f"fake_{status}"}}


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return "\n".join(parts)


def _new_id(prefix: str) -> str:
    return f"{prefix}_fake_{uuid.uuid4().hex[:24]}"


# ---------------------------------------------------------------- Responses API


def _responses_schema(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return fmt.get("schema") or {"type": "object"}, True
    return None, fmt.get("type") == "json_object"


class OpenAIResponses:
    vendor_label = "openai"
    request_id_header: str | None = "x-request-id"

    def read_turn(self, body: Any, path: str, query: dict[str, list[str]]) -> Turn:
        items = body.get("input", "")
        if isinstance(items, str):
            items = [{"type": "message", "role": "user", "content": items}]
        last_user, last_output = -1, -1
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            if item.get("role") == "user":
                last_user = index
            elif str(item.get("type", "")).endswith("call_output"):
                last_output = index
        tool_result = result_text(items[last_output].get("output", "")) if last_output > last_user else None
        tools = [
            ToolSpec(str(t["name"]), t.get("parameters") or {})
            for t in body.get("tools", []) or []
            if isinstance(t, dict) and t.get("type") == "function" and "name" in t
        ]
        schema, json_object = _responses_schema(body)
        return Turn(
            model=str(body.get("model", "gpt-fake")),
            stream=bool(body.get("stream")),
            last_user_text=_message_text(items[last_user].get("content")) if last_user >= 0 else "",
            tool_result=tool_result,
            tools=tools,
            output_schema=schema,
            json_output=json_object or schema is not None,
            input_tokens=estimate_tokens(body),
        )

    def render_json(self, turn: Turn, reply: Reply) -> dict[str, Any]:
        builder = ResponsesStream(turn, include_encrypted=False)
        if reply.thinking is not None:
            builder.thinking(reply.thinking)
        if reply.tool_call is not None:
            builder.tool_call(reply.tool_call)
        else:
            builder.text_open()
            builder.text_delta(reply.text)
            builder.text_close()
        return builder.response("completed")

    def encoder(self, turn: Turn, body: Any, query: dict[str, list[str]]) -> ResponsesStream:
        return ResponsesStream(turn, include_encrypted="reasoning.encrypted_content" in (body.get("include") or []))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return error_body(status, message)


class ResponsesStream:
    """Builds the Responses event sequence; also used to assemble the non-streaming object."""

    media_type = "text/event-stream"

    def __init__(self, turn: Turn, include_encrypted: bool) -> None:
        self.turn = turn
        self.include_encrypted = include_encrypted
        self.response_id = _new_id("resp")
        self.created_at = int(time.time())
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.message: dict[str, Any] = {}
        self.text = ""
        self.output_tokens = 0
        self.reasoning_tokens = 0

    def _event(self, kind: str, **fields: Any) -> bytes:
        frame = sse({"type": kind, "sequence_number": self.sequence, **fields}, event=kind)
        self.sequence += 1
        return frame

    def response(self, status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
        done = status in ("completed", "failed")
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.turn.model,
            "output": list(self.output) if done else [],
            "error": error,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": True,
            "temperature": 1.0,
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "usage": self._usage() if status == "completed" else None,
        }

    def _usage(self) -> dict[str, Any]:
        output_tokens = max(1, self.output_tokens + self.reasoning_tokens)
        return {
            "input_tokens": self.turn.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.turn.input_tokens + output_tokens,
        }

    def opening(self) -> bytes:
        return self._event("response.created", response=self.response("in_progress")) + self._event(
            "response.in_progress", response=self.response("in_progress")
        )

    def thinking(self, text: str) -> bytes:
        self.reasoning_tokens += len(text.split())
        index = len(self.output)
        item: dict[str, Any] = {"id": _new_id("rs"), "type": "reasoning", "summary": []}
        part = {"type": "summary_text", "text": text}
        done_item = {**item, "summary": [part]}
        if self.include_encrypted:
            done_item["encrypted_content"] = "ZmFrZS1yZWFzb25pbmc="
        self.output.append(done_item)
        ids = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        return (
            self._event("response.output_item.added", output_index=index, item=item)
            + self._event("response.reasoning_summary_part.added", **ids, part={**part, "text": ""})
            + self._event("response.reasoning_summary_text.delta", **ids, delta=text)
            + self._event("response.reasoning_summary_text.done", **ids, text=text)
            + self._event("response.reasoning_summary_part.done", **ids, part=part)
            + self._event("response.output_item.done", output_index=index, item=done_item)
        )

    def _message_ids(self) -> dict[str, Any]:
        return {"item_id": self.message["id"], "output_index": len(self.output), "content_index": 0}

    def text_open(self) -> bytes:
        self.message = {
            "id": _new_id("msg"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self.text = ""
        part = {"type": "output_text", "text": "", "annotations": []}
        return self._event(
            "response.output_item.added", output_index=len(self.output), item=self.message
        ) + self._event("response.content_part.added", **self._message_ids(), part=part)

    def text_delta(self, text: str) -> bytes:
        self.text += text
        self.output_tokens += max(1, len(text.split()))
        return self._event("response.output_text.delta", **self._message_ids(), delta=text, logprobs=[])

    def text_close(self) -> bytes:
        part = {"type": "output_text", "text": self.text, "annotations": []}
        item = {**self.message, "status": "completed", "content": [part]}
        ids = self._message_ids()
        frames = (
            self._event("response.output_text.done", **ids, text=self.text, logprobs=[])
            + self._event("response.content_part.done", **ids, part=part)
            + self._event("response.output_item.done", output_index=ids["output_index"], item=item)
        )
        self.output.append(item)
        return frames

    def tool_call(self, call: ToolCall) -> bytes:
        self.output_tokens += 5
        index = len(self.output)
        arguments = json.dumps(call.arguments)
        item = {
            "id": _new_id("fc"),
            "type": "function_call",
            "status": "in_progress",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": "",
        }
        done_item = {**item, "status": "completed", "arguments": arguments}
        self.output.append(done_item)
        ids = {"item_id": item["id"], "output_index": index}
        return (
            self._event("response.output_item.added", output_index=index, item=item)
            + self._event("response.function_call_arguments.delta", **ids, delta=arguments)
            + self._event("response.function_call_arguments.done", **ids, name=call.name, arguments=arguments)
            + self._event("response.output_item.done", output_index=index, item=done_item)
        )

    def closing(self) -> bytes:
        return self._event("response.completed", response=self.response("completed"))

    def error(self, message: str) -> bytes:
        error = {"code": "server_error", "message": message}
        return self._event("response.failed", response=self.response("failed", error))


# ---------------------------------------------------------------- Chat Completions


def _chat_schema(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}, True
    return None, fmt.get("type") == "json_object"


class OpenAIChat:
    vendor_label = "openai"
    request_id_header: str | None = "x-request-id"

    def read_turn(self, body: Any, path: str, query: dict[str, list[str]]) -> Turn:
        messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        last_tool = max((i for i, m in enumerate(messages) if m.get("role") == "tool"), default=-1)
        tools = [
            ToolSpec(str(t["function"]["name"]), t["function"].get("parameters") or {})
            for t in body.get("tools", []) or []
            if isinstance(t, dict) and isinstance(t.get("function"), dict) and "name" in t["function"]
        ]
        schema, json_object = _chat_schema(body)
        return Turn(
            model=str(body.get("model", "gpt-fake")),
            stream=bool(body.get("stream")),
            last_user_text=_message_text(messages[last_user].get("content")) if last_user >= 0 else "",
            tool_result=_message_text(messages[last_tool].get("content")) if last_tool > last_user else None,
            tools=tools,
            output_schema=schema,
            json_output=json_object or schema is not None,
            input_tokens=estimate_tokens(body),
        )

    def render_json(self, turn: Turn, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
        if reply.tool_call is not None:
            call = reply.tool_call
            message["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
            ]
        return {
            "id": _new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": turn.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_call else "stop",
                    "logprobs": None,
                }
            ],
            "usage": _chat_usage(turn, reply.output_tokens),
        }

    def encoder(self, turn: Turn, body: Any, query: dict[str, list[str]]) -> ChatStream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return ChatStream(turn, include_usage)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return error_body(status, message)


def _chat_usage(turn: Turn, output_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": turn.input_tokens + output_tokens,
    }


class ChatStream:
    """``data:`` chunks without ``event:`` lines, ending in ``data: [DONE]``."""

    media_type = "text/event-stream"

    def __init__(self, turn: Turn, include_usage: bool) -> None:
        self.turn = turn
        self.include_usage = include_usage
        self.chunk_id = _new_id("chatcmpl")
        self.created = int(time.time())
        self.finish_reason = "stop"
        self.output_tokens = 0

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse(self._envelope(choices=[choice]))

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": self.chunk_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.turn.model,
            **fields,
        }

    def opening(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def thinking(self, text: str) -> bytes:
        # Chat Completions has no standard reasoning delta; thinking is not shown on this wire.
        return b""

    def text_open(self) -> bytes:
        return b""

    def text_delta(self, text: str) -> bytes:
        self.output_tokens += max(1, len(text.split()))
        return self._chunk({"content": text})

    def text_close(self) -> bytes:
        return b""

    def tool_call(self, call: ToolCall) -> bytes:
        self.finish_reason = "tool_calls"
        self.output_tokens += 5
        arguments = json.dumps(call.arguments)
        half = len(arguments) // 2
        head = {
            "index": 0,
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        return (
            self._chunk({"tool_calls": [head]})
            + self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:half]}}]})
            + self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]})
        )

    def closing(self) -> bytes:
        frames = self._chunk({}, self.finish_reason)
        if self.include_usage:
            frames += sse(self._envelope(choices=[], usage=_chat_usage(self.turn, max(1, self.output_tokens))))
        return frames + sse("[DONE]")

    def error(self, message: str) -> bytes:
        return sse({"error": {"message": message, "type": "server_error", "param": None, "code": None}})
