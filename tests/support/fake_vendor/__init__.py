"""A fake Anthropic / OpenAI / Gemini upstream: a real HTTP server on 127.0.0.1.

Endpoints (matched on the path *suffix*, so any prefix such as ``/prefix/v1/messages`` works):

- Anthropic: ``POST /v1/messages`` (JSON, or SSE with ``event:`` lines when ``"stream": true``),
  ``POST /v1/messages/count_tokens``, ``GET /v1/models`` (Anthropic shape when the request
  has ``anthropic-version`` or ``x-api-key``), ``HEAD /``.
- OpenAI: ``POST /v1/responses`` (JSON or SSE ending in ``response.completed``),
  ``POST /v1/responses/input_tokens``, ``POST /v1/chat/completions`` (JSON or SSE ending in
  ``data: [DONE]``, usage chunk with ``stream_options.include_usage``), ``GET /v1/models``.
  ``GET /v1/responses`` (Codex's WebSocket attempt) gets 426.
- Gemini: ``POST /{v1beta,v1}/models/{model}:generateContent``, ``:streamGenerateContent``
  (``?alt=sse`` → SSE; otherwise one streamed JSON array), ``:countTokens``,
  ``GET /{ver}/models`` (Gemini shape with ``x-goog-api-key`` / ``?key=`` / ``v1beta``).

Every answer carries the vendor's request id header (Anthropic ``request-id``, OpenAI ``x-request-id``).

What it answers
---------------
- If the latest input carries a **tool result** (Anthropic ``tool_result``, OpenAI
  ``function_call_output`` / ``role: tool``, Gemini ``functionResponse``), the reply is the text
  ``"Tool result received: <first 200 chars of the result>"``.
- If the request asks for **structured JSON output** (Claude Code's title call, Codex's title call,
  Gemini CLI's router call with ``responseMimeType: application/json``), the reply text is JSON that
  fits the schema: strings ``"fake <field>"``, numbers ``1`` — e.g. ``{"title": "fake title"}``,
  ``{"complexity_reasoning": "fake complexity_reasoning", "complexity_score": 1}``.
- Otherwise the scenario named by a directive in the **latest user message text** decides.

Scenario directives
-------------------
Write ``[[fake:NAME]]`` or ``[[fake:NAME key=value ...]]`` anywhere in the last user message
(values are shell-quoted: ``args='{"a": 1}'``; the last directive wins):

=====================================  ==========================================================
``text reply=...`` (default)           "Hello from the fake <anthropic|openai|gemini> upstream." or ``reply``;
                                       ``chunks=K`` splits it into K stream deltas
``tool_call [tool=NAME args=JSON]``    calls a tool: ``tool``/``args`` if given, else the request's
                                       shell-like tool (``Bash``, ``exec_command``, ``shell``,
                                       ``run_shell_command``) with ``echo fake-tool-ran`` in its
                                       command field, whatever the field is called in its schema
``thinking [thought=...]``             a thinking block (Anthropic thinking + signature_delta, OpenAI
                                       reasoning item with summary deltas, Gemini ``thought`` part),
                                       then the text (Chat Completions shows only the text)
``error_midstream [after=1]``          streams ``after`` text deltas, then the vendor's in-stream
  ``[message=...]``                    error (Anthropic ``event: error``, Responses ``response.failed``,
                                       Chat/Gemini ``data: {"error": ...}``); non-streaming: normal reply
``http_error status=N [message=...]``  vendor-shaped error body with status N (default 500);
  ``[should_retry=false]``             ``should_retry`` sets the ``x-should-retry`` header
``slow delay_ms=N chunks=K``           K deltas with N ms between them (defaults 100, 3)
``gated chunks=K id=X``                delta i is sent only after ``release(X)`` was called i times
                                       (headers and the opening events go out at once)
``hang``                               headers and one delta, then nothing until the client leaves
                                       (non-streaming: no response at all)
``big chunks=K bytes=B``               K deltas of B characters each (defaults 8, 4096)
``drop [after=1]``                     ``after`` deltas, then the connection closes with no terminal
                                       event (non-streaming: half the promised body, then close)
=====================================  ==========================================================

Pacing scenarios (slow, gated, big, error_midstream) shape only streaming answers.

Control and inspection
----------------------
HTTP on the same server: ``GET /_fake/requests`` (JSON list of ``{method, path, query, headers,
body}``; headers lower-cased, query as ``{name: [values]}``), ``GET /_fake/count[?path_suffix=...]``
(``{"count", "disconnects"}``), ``POST /_fake/reset``, ``POST /_fake/release/<id>``.

From Python (thread-safe), via the ``fake`` pytest fixture (``tests/support/fixtures_fake.py``) or
``with FakeVendor() as fake:``: ``fake.url`` (``http://127.0.0.1:PORT``), ``fake.requests``
(list of :class:`RecordedRequest`), ``fake.count(path_suffix=None)``, ``fake.reset()``,
``fake.release(gate_id, times=1)``, ``fake.disconnects`` (client disconnects noticed mid-stream),
``fake.wait_for_disconnects(n=1, timeout=5.0)``.

Standalone: ``python -m tests.support.fake_vendor --port 8787``.
SDK clients for any base URL: :func:`sdk_clients`.
"""

from tests.support.fake_vendor.clients import sdk_clients
from tests.support.fake_vendor.scenarios import FAKE_TOOL_COMMAND, TOOL_RESULT_PREFIX
from tests.support.fake_vendor.server import FakeVendor, RecordedRequest

__all__ = ["FAKE_TOOL_COMMAND", "TOOL_RESULT_PREFIX", "FakeVendor", "RecordedRequest", "sdk_clients"]
