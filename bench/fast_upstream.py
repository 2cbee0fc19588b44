"""A fake vendor upstream that is much cheaper than the proxy it measures.

A raw asyncio protocol (uvloop when importable) that answers, on keep-alive
HTTP/1.1 connections, the vendor calls the proxy forwards:

- Anthropic ``POST …/v1/messages`` — JSON, or SSE (``event:`` + ``data:`` lines,
  N ``content_block_delta`` events) when the body has ``"stream": true``;
- OpenAI ``POST …/v1/chat/completions`` and ``…/v1/responses`` — JSON or SSE;
- Gemini ``POST …:generateContent`` (JSON) and ``…:streamGenerateContent``
  (SSE with ``?alt=sse``, else a streamed JSON array);
- ``GET /health`` and ``GET /stats`` (``{"requests": N}``: vendor calls served,
  which the driver uses to count what the proxy really forwarded).

Paths match on their suffix and the query is ignored for routing. Responses
are built once at start-up, so a request costs a header scan and one write.
A request header ``x-bench-chunk-delay-ms`` paces a stream (one chunk per
event, that many ms apart) so the proxy relays each event separately, as it
does with a real model; without it the whole stream is written at once.

Run alone: ``python bench/fast_upstream.py --port 18300``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections.abc import Callable

_STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')
_MAX_HEAD = 64 * 1024
_REQUEST_ID = "req_bench_0000000000000000"


def _http_head(status: str, content_type: str, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-type: {content_type}", f"request-id: {_REQUEST_ID}"]
    lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_response(payload: object) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return _http_head("200 OK", "application/json", len(body)) + body


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _sse(event: str | None, payload: object) -> bytes:
    data = "data: " + (payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":")))
    return ((f"event: {event}\n" if event else "") + data + "\n\n").encode()


class Stream:
    """One streamed reply: the head, then one body piece per event."""

    def __init__(self, content_type: str, events: list[bytes]) -> None:
        self.head = _http_head("200 OK", content_type, None)
        self.chunks = [_chunk(e) for e in events]
        self.whole = self.head + b"".join(self.chunks) + b"0\r\n\r\n"


class Replies:
    """Every reply the fake can give, prebuilt from the stream shape options."""

    def __init__(self, chunks: int, delta: str, text: str) -> None:
        usage_a = {
            "input_tokens": 1200,
            "output_tokens": 60,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        self.anthropic_json = _json_response(
            {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": usage_a,
            }
        )
        start: dict[str, object] = {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage_a, "output_tokens": 1},
        }
        self.anthropic_sse = Stream(
            "text/event-stream",
            [
                _sse("message_start", {"type": "message_start", "message": start}),
                _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                *[
                    _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": delta},
                        },
                    )
                    for _ in range(chunks)
                ],
                _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
                _sse(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": chunks},
                    },
                ),
                _sse("message_stop", {"type": "message_stop"}),
            ],
        )
        usage_o = {"prompt_tokens": 1200, "completion_tokens": 60, "total_tokens": 1260}
        self.chat_json = _json_response(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "gpt-4.1-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage_o,
            }
        )

        def chat_chunk(delta_obj: dict[str, str], finish: str | None) -> dict[str, object]:
            return {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": "gpt-4.1-mini",
                "choices": [{"index": 0, "delta": delta_obj, "finish_reason": finish}],
            }

        self.chat_sse = Stream(
            "text/event-stream",
            [
                _sse(None, chat_chunk({"role": "assistant", "content": ""}, None)),
                *[_sse(None, chat_chunk({"content": delta}, None)) for _ in range(chunks)],
                _sse(None, chat_chunk({}, "stop")),
                _sse(
                    None,
                    {
                        "id": "chatcmpl-bench",
                        "object": "chat.completion.chunk",
                        "created": 1700000000,
                        "model": "gpt-4.1-mini",
                        "choices": [],
                        "usage": usage_o,
                    },
                ),
                _sse(None, "[DONE]"),
            ],
        )
        usage_r = {"input_tokens": 1200, "output_tokens": 60, "total_tokens": 1260}
        response = {
            "id": "resp_bench",
            "object": "response",
            "created_at": 1700000000,
            "status": "completed",
            "model": "gpt-4.1-mini",
            "output": [
                {
                    "type": "message",
                    "id": "msg_bench",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "usage": usage_r,
        }
        self.responses_json = _json_response(response)
        self.responses_sse = Stream(
            "text/event-stream",
            [
                _sse(
                    "response.created",
                    {
                        "type": "response.created",
                        "sequence_number": 0,
                        "response": {**response, "status": "in_progress", "output": [], "usage": None},
                    },
                ),
                *[
                    _sse(
                        "response.output_text.delta",
                        {
                            "type": "response.output_text.delta",
                            "sequence_number": i + 1,
                            "item_id": "msg_bench",
                            "output_index": 0,
                            "content_index": 0,
                            "delta": delta,
                        },
                    )
                    for i in range(chunks)
                ],
                _sse(
                    "response.completed",
                    {"type": "response.completed", "sequence_number": chunks + 1, "response": response},
                ),
            ],
        )
        usage_g = {"promptTokenCount": 1200, "candidatesTokenCount": 60, "totalTokenCount": 1260}

        def gemini_part(piece: str, last: bool) -> dict[str, object]:
            candidate: dict[str, object] = {
                "content": {"role": "model", "parts": [{"text": piece}]},
                "index": 0,
            }
            out: dict[str, object] = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash"}
            if last:
                candidate["finishReason"] = "STOP"
                out["usageMetadata"] = usage_g
            return out

        self.gemini_json = _json_response(gemini_part(text, True))
        pieces = [gemini_part(delta, i == chunks - 1) for i in range(chunks)]
        self.gemini_sse = Stream("text/event-stream", [_sse(None, p) for p in pieces])
        array = [json.dumps(p, separators=(",", ":")).encode() for p in pieces]
        self.gemini_array = Stream("application/json", [b"[" + array[0], *[b",\r\n" + a for a in array[1:]], b"]"])
        self.health = _json_response({"status": "ok"})
        self.not_found = _http_head("404 Not Found", "application/json", 2) + b"{}"
        self.unsupported = _http_head("501 Not Implemented", "application/json", 2) + b"{}"

    def pick(self, path: str, query: str, body: bytes) -> bytes | Stream | None:
        """The vendor reply for a POST, or None for an unknown path."""
        streaming = _STREAM_FLAG.search(body) is not None
        if path.endswith("/v1/messages"):
            return self.anthropic_sse if streaming else self.anthropic_json
        if path.endswith("/chat/completions"):
            return self.chat_sse if streaming else self.chat_json
        if path.endswith("/responses"):
            return self.responses_sse if streaming else self.responses_json
        if path.endswith(":streamGenerateContent"):
            return self.gemini_sse if "alt=sse" in query else self.gemini_array
        if path.endswith(":generateContent"):
            return self.gemini_json
        return None


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection; requests are answered in order."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a paced stream is being written: hold later requests

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._drain()

    def _drain(self) -> None:
        while self.transport is not None and not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self.transport.write(self.server.replies.unsupported)
                self.transport.close()
                return
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self._answer(method, target, headers, body)
            if headers.get("connection", "").lower() == "close" and self.transport is not None:
                self.transport.close()

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        path, _, query = target.partition("?")
        replies = self.server.replies
        if method == "GET" and path == "/health":
            self.transport.write(replies.health)
            return
        if method == "GET" and path == "/stats":
            self.transport.write(_json_response({"requests": self.server.requests}))
            return
        reply = replies.pick(path, query, body) if method == "POST" else None
        if reply is None:
            self.transport.write(replies.not_found)
            return
        self.server.requests += 1
        if isinstance(reply, bytes):
            self.transport.write(reply)
            return
        delay_ms = float(headers.get("x-bench-chunk-delay-ms", "0") or 0)
        if delay_ms <= 0:
            self.transport.write(reply.whole)
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._pace(reply, delay_ms / 1000))

    async def _pace(self, stream: Stream, delay_s: float) -> None:
        transport = self.transport
        if transport is None:
            return
        transport.write(stream.head)
        for chunk in stream.chunks:
            await asyncio.sleep(delay_s)
            if transport.is_closing():
                return
            transport.write(chunk)
        transport.write(b"0\r\n\r\n")
        self.busy = False
        self._drain()


class FakeUpstream:
    def __init__(self, replies: Replies) -> None:
        self.replies = replies
        self.requests = 0

    def protocol(self) -> Callable[[], UpstreamProtocol]:
        return lambda: UpstreamProtocol(self)


async def serve(host: str, port: int, replies: Replies) -> None:
    fake = FakeUpstream(replies)
    server = await asyncio.get_running_loop().create_server(fake.protocol(), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18300)
    parser.add_argument("--chunks", type=int, default=50, help="content deltas per stream")
    parser.add_argument("--delta", default="lorem ipsum ", help="text of each delta")
    parser.add_argument("--text-bytes", type=int, default=800, help="size of a non-streaming completion")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost"):
        parser.error("loopback only: --host must be 127.0.0.1")
    text = ("lorem ipsum " * (args.text_bytes // 12 + 1))[: args.text_bytes]
    replies = Replies(args.chunks, args.delta, text)
    try:
        import uvloop

        run: Callable[..., None] = uvloop.run
    except ImportError:
        run = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args.host, args.port, replies))


if __name__ == "__main__":
    main()
