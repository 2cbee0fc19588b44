"""Gemini API: ``models/{model}:generateContent`` and ``:streamGenerateContent`` (SSE or JSON array)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.fake_vendor.scenarios import Reply, ToolCall, ToolSpec, Turn, estimate_tokens, result_text
from tests.support.fake_vendor.wire import sse

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
FAKE_THOUGHT_SIGNATURE = "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZQ=="


def error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "status": STATUSES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"),
            "details": [],
        }
    }


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    specs = []
    for tool in body.get("tools", []) or []:
        declarations = tool.get("functionDeclarations") or tool.get("function_declarations") or []
        for decl in declarations:
            params = decl.get("parametersJsonSchema") or decl.get("parameters") or {}
            specs.append(ToolSpec(str(decl.get("name", "")), _lower_types(params)))
    return specs


def _lower_types(schema: Any) -> Any:
    """Gemini's own Schema spells types in capitals (``OBJECT``); JSON schema uses lower case."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lower_types(item) for item in schema]
    return schema


def _function_call_part(call: ToolCall) -> dict[str, Any]:
    return {
        "functionCall": {"name": call.name, "args": call.arguments, "id": call.call_id},
        "thoughtSignature": FAKE_THOUGHT_SIGNATURE,
    }


class GeminiGenerate:
    vendor_label = "gemini"
    request_id_header: str | None = None

    def read_turn(self, body: Any, path: str, query: dict[str, list[str]]) -> Turn:
        contents = [c for c in body.get("contents", []) if isinstance(c, dict)]
        last_user = next((c for c in reversed(contents) if c.get("role", "user") == "user"), {})
        parts = [p for p in last_user.get("parts", []) if isinstance(p, dict)]
        texts = [str(p["text"]) for p in parts if "text" in p]
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        config = body.get("generationConfig") or body.get("generation_config") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema") or config.get("response_schema")
        mime = config.get("responseMimeType") or config.get("response_mime_type") or ""
        model = path.rsplit("/models/", 1)[-1].split(":", 1)[0]
        return Turn(
            model=model,
            stream=":streamGenerateContent" in path,
            last_user_text="\n".join(texts),
            tool_result=result_text(responses[-1].get("response", {})) if responses else None,
            tools=_tools(body),
            output_schema=_lower_types(schema) if isinstance(schema, dict) else None,
            json_output=mime == "application/json",
            input_tokens=estimate_tokens(body),
        )

    def render_json(self, turn: Turn, reply: Reply) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if reply.thinking is not None:
            parts.append({"text": reply.thinking, "thought": True})
        if reply.tool_call is not None:
            parts.append(_function_call_part(reply.tool_call))
        else:
            parts.append({"text": reply.text})
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": _usage(turn, reply.output_tokens),
            "modelVersion": turn.model,
            "responseId": uuid.uuid4().hex[:22],
        }

    def encoder(self, turn: Turn, body: Any, query: dict[str, list[str]]) -> GeminiStream:
        return GeminiStream(turn, sse_mode="sse" in query.get("alt", []))

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return error_body(status, message)


def _usage(turn: Turn, output_tokens: int) -> dict[str, int]:
    return {
        "promptTokenCount": turn.input_tokens,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": turn.input_tokens + output_tokens,
    }


class GeminiStream:
    """Each chunk is a whole GenerateContentResponse: SSE ``data:`` lines, or elements of one JSON array."""

    def __init__(self, turn: Turn, sse_mode: bool) -> None:
        self.turn = turn
        self.sse_mode = sse_mode
        self.media_type = "text/event-stream" if sse_mode else "application/json"
        self.response_id = uuid.uuid4().hex[:22]
        self.started = False
        self.output_tokens = 0

    def _frame(self, payload: dict[str, Any]) -> bytes:
        if self.sse_mode:
            return sse(payload)
        lead = "," if self.started else "["
        self.started = True
        return f"{lead}{json.dumps(payload, separators=(',', ':'))}\n".encode()

    def _chunk(self, parts: list[dict[str, Any]], finish: bool = False) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        usage: dict[str, int] = {
            "promptTokenCount": self.turn.input_tokens,
            "totalTokenCount": self.turn.input_tokens,
        }
        if finish:
            candidate["finishReason"] = "STOP"
            usage = _usage(self.turn, max(1, self.output_tokens))
        return self._frame(
            {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": self.turn.model,
                "responseId": self.response_id,
            }
        )

    def opening(self) -> bytes:
        return b""  # Gemini has no envelope event; the first content chunk opens the stream.

    def thinking(self, text: str) -> bytes:
        self.output_tokens += len(text.split())
        return self._chunk([{"text": text, "thought": True}])

    def text_open(self) -> bytes:
        return b""

    def text_delta(self, text: str) -> bytes:
        self.output_tokens += max(1, len(text.split()))
        return self._chunk([{"text": text}])

    def text_close(self) -> bytes:
        return b""

    def tool_call(self, call: ToolCall) -> bytes:
        self.output_tokens += 5
        return self._chunk([_function_call_part(call)])

    def closing(self) -> bytes:
        frame = self._chunk([{"text": ""}], finish=True)
        return frame if self.sse_mode else frame + b"]"

    def error(self, message: str) -> bytes:
        return self._frame(error_body(500, message))
