"""Fidelity of the fake vendor: the official SDKs, pointed straight at it, complete every scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.support.fake_vendor import FAKE_TOOL_COMMAND, TOOL_RESULT_PREFIX, FakeVendor, sdk_clients
from tests.support.fake_vendor.scenarios import Scenario, ToolSpec, Turn, parse_directive, plan_reply

CLAUDE = "claude-fake-sonnet"
GPT = "gpt-fake"
GEMINI = "gemini-fake-flash"
WEATHER_TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


def user(text: str) -> Any:
    return [{"role": "user", "content": text}]


def sse_events(raw: str) -> list[str]:
    return [line.removeprefix("event: ") for line in raw.splitlines() if line.startswith("event: ")]


# ---------------------------------------------------------------- Anthropic


def test_anthropic_text_json_and_request_id(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    message = client.messages.create(model=CLAUDE, max_tokens=64, messages=user("hi"))
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the fake anthropic upstream."
    assert message.stop_reason == "end_turn"
    assert message._request_id and message._request_id.startswith("req_fake_")
    assert fake.count("/v1/messages") == 1


def test_anthropic_stream_has_event_lines_in_vendor_order(fake: FakeVendor) -> None:
    body = {"model": CLAUDE, "max_tokens": 64, "stream": True, "messages": user("[[fake:text reply=abc]]")}
    raw = httpx.post(fake.url + "/v1/messages", json=body).text
    assert sse_events(raw) == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    client, _, _ = sdk_clients(fake.url)
    with client.messages.stream(
        model=CLAUDE, max_tokens=64, messages=user("[[fake:text reply=aaabbbccc chunks=3]]")
    ) as s:
        assert list(s.text_stream) == ["aaa", "bbb", "ccc"]


def test_anthropic_tool_round_trip(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    tools: Any = [{"name": "get_weather", "input_schema": WEATHER_TOOL_SCHEMA}]
    prompt = user("""[[fake:tool_call tool=get_weather args='{"city": "Oslo"}']]""")
    with client.messages.stream(model=CLAUDE, max_tokens=64, tools=tools, messages=prompt) as stream:
        first = stream.get_final_message()
    call = first.content[0]
    assert first.stop_reason == "tool_use"
    assert call.type == "tool_use"
    assert (call.name, call.input) == ("get_weather", {"city": "Oslo"})
    history: Any = [
        *prompt,
        {"role": "assistant", "content": [call.model_dump()]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}],
        },
    ]
    second = client.messages.create(model=CLAUDE, max_tokens=64, tools=tools, messages=history)
    assert second.content[0].type == "text"
    assert second.content[0].text == TOOL_RESULT_PREFIX + "sunny, 21C"


def test_anthropic_thinking_block_with_signature(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=user("[[fake:thinking thought=hmm]]")) as s:
        message = s.get_final_message()
    thinking, text = message.content
    assert thinking.type == "thinking"
    assert (thinking.thinking, bool(thinking.signature)) == ("hmm", True)
    assert text.type == "text"


def test_anthropic_http_error_raises_vendor_exception(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model=CLAUDE, max_tokens=8, messages=user("[[fake:http_error status=400 message='no way']]")
        )
    assert caught.value.body["error"] == {"type": "invalid_request_error", "message": "no way"}  # type: ignore[index]
    assert caught.value.request_id
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model=CLAUDE, max_tokens=8, messages=user("[[fake:http_error status=529]]"))


def test_anthropic_error_midstream_raises(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    stream = client.messages.create(model=CLAUDE, max_tokens=8, messages=user("[[fake:error_midstream]]"), stream=True)
    with pytest.raises(anthropic.APIStatusError, match="Fake mid-stream failure"):
        list(stream)


def test_anthropic_side_endpoints(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    assert client.messages.count_tokens(model=CLAUDE, messages=user("hi")).input_tokens > 0
    assert [m.id for m in client.models.list()] == ["claude-fake-sonnet", "claude-fake-haiku"]
    assert httpx.head(fake.url + "/").status_code == 200


def test_structured_title_call_answers_schema_json(fake: FakeVendor) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    body = {
        "model": "claude-haiku-fake",
        "max_tokens": 64,
        "system": [{"type": "text", "text": "Generate a concise, sentence-case title"}],
        "messages": user("[[fake:tool_call]] fix the bug"),
        "tools": [],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    reply = httpx.post(fake.url + "/v1/messages", json=body).json()
    assert json.loads(reply["content"][0]["text"]) == {"title": "fake title"}


def test_path_prefix_is_served(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url + "/prefix")
    assert client.messages.create(model=CLAUDE, max_tokens=8, messages=user("hi")).content[0].type == "text"
    assert fake.requests[-1].path == "/prefix/v1/messages"


# ---------------------------------------------------------------- OpenAI Responses


def test_responses_text_and_stream_sequence(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    response = client.responses.create(model=GPT, input="hi")
    assert response.output_text == "Hello from the fake openai upstream."
    assert response._request_id and response._request_id.startswith("req_fake_")
    kinds = [event.type for event in client.responses.create(model=GPT, input="hi", stream=True)]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_responses_tool_round_trip_fills_codex_style_cmd_field(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    exec_schema = {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}
    tools: Any = [{"type": "function", "name": "exec_command", "parameters": exec_schema}]
    with client.responses.stream(model=GPT, input="[[fake:tool_call]]", tools=tools) as stream:
        first = stream.get_final_response()
    call = first.output[0]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("exec_command", {"cmd": FAKE_TOOL_COMMAND})
    history: Any = [
        {"role": "user", "content": "[[fake:tool_call]]"},
        call.model_dump(),
        {"type": "function_call_output", "call_id": call.call_id, "output": "fake-tool-ran\n"},
    ]
    second = client.responses.create(model=GPT, input=history, tools=tools)
    assert second.output_text == TOOL_RESULT_PREFIX + "fake-tool-ran\n"


def test_responses_reasoning_summary(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    events = list(client.responses.create(model=GPT, input="[[fake:thinking thought=pondering]]", stream=True))
    deltas = [e.delta for e in events if e.type == "response.reasoning_summary_text.delta"]
    assert deltas == ["pondering"]
    final = events[-1]
    assert final.type == "response.completed"
    assert [item.type for item in final.response.output] == ["reasoning", "message"]


def test_responses_errors(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    with pytest.raises(openai.NotFoundError, match="Fake openai error 404"):
        client.responses.create(model=GPT, input="[[fake:http_error status=404]]")
    events = list(client.responses.create(model=GPT, input="[[fake:error_midstream]]", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error is not None
    assert events[-1].response.error.message == "Fake mid-stream failure"


def test_responses_side_endpoints(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    assert client.responses.input_tokens.count(model=GPT, input="hi").input_tokens > 0
    assert [m.id for m in client.models.list()] == ["gpt-fake", "gpt-fake-mini"]


# ---------------------------------------------------------------- OpenAI Chat Completions


def test_chat_text_stream_with_usage_chunk(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    completion = client.chat.completions.create(model=GPT, messages=user("hi"))
    assert completion.choices[0].message.content == "Hello from the fake openai upstream."
    chunks = list(
        client.chat.completions.create(
            model=GPT,
            messages=user("[[fake:text chunks=2]]"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake openai upstream."
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    raw = httpx.post(fake.url + "/v1/chat/completions", json={"model": GPT, "stream": True, "messages": user("x")})
    assert raw.text.rstrip().endswith("data: [DONE]")
    assert "event:" not in raw.text


def test_chat_tool_round_trip_streamed_arguments(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    tools: Any = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL_SCHEMA}}]
    prompt = user("""[[fake:tool_call tool=get_weather args='{"city": "Lima"}']]""")
    chunks = list(client.chat.completions.create(model=GPT, messages=prompt, tools=tools, stream=True))
    fragments = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert fragments[0].function is not None and fragments[0].function.name == "get_weather"
    arguments = "".join((f.function.arguments or "") if f.function else "" for f in fragments)
    assert json.loads(arguments) == {"city": "Lima"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    history: Any = [
        *prompt,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": fragments[0].id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": fragments[0].id, "content": "rainy"},
    ]
    second = client.chat.completions.create(model=GPT, messages=history, tools=tools)
    assert second.choices[0].message.content == TOOL_RESULT_PREFIX + "rainy"


def test_chat_errors(fake: FakeVendor) -> None:
    _, client, _ = sdk_clients(fake.url)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=GPT, messages=user("[[fake:http_error status=429]]"))
    with pytest.raises(openai.APIError, match="Fake mid-stream failure"):
        list(client.chat.completions.create(model=GPT, messages=user("[[fake:error_midstream]]"), stream=True))


# ---------------------------------------------------------------- Gemini


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_gemini_text_both_api_versions(fake: FakeVendor, api_version: str | None) -> None:
    _, _, client = sdk_clients(fake.url, genai_api_version=api_version)
    assert client.models.generate_content(model=GEMINI, contents="hi").text == "Hello from the fake gemini upstream."
    streamed = [c.text or "" for c in client.models.generate_content_stream(model=GEMINI, contents="hi")]
    assert "".join(streamed) == "Hello from the fake gemini upstream."
    assert fake.requests[-1].query == {"alt": ["sse"]}
    assert fake.requests[-1].path.startswith(f"/{api_version or 'v1'}/models/{GEMINI}:")


def test_gemini_stream_without_alt_sse_is_one_json_array(fake: FakeVendor) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "[[fake:text chunks=2]]"}]}]}
    raw = httpx.post(fake.url + f"/v1beta/models/{GEMINI}:streamGenerateContent", json=body)
    chunks = json.loads(raw.text)
    assert isinstance(chunks, list) and len(chunks) == 3
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_gemini_tool_round_trip_and_thoughts(fake: FakeVendor) -> None:
    _, _, client = sdk_clients(fake.url)
    shell = genai_types.FunctionDeclaration(
        name="run_shell_command",
        parameters_json_schema={"type": "object", "properties": {"command": {"type": "string"}}},
    )
    config = genai_types.GenerateContentConfig(tools=[genai_types.Tool(function_declarations=[shell])])
    first = client.models.generate_content(model=GEMINI, contents="[[fake:tool_call]]", config=config)
    assert first.function_calls is not None
    call = first.function_calls[0]
    assert (call.name, call.args) == ("run_shell_command", {"command": FAKE_TOOL_COMMAND})
    history: Any = [
        genai_types.Content(role="user", parts=[genai_types.Part(text="[[fake:tool_call]]")]),
        first.candidates[0].content if first.candidates else None,
        genai_types.Content(
            role="user",
            parts=[genai_types.Part.from_function_response(name="run_shell_command", response={"output": "ok"})],
        ),
    ]
    second = client.models.generate_content(model=GEMINI, contents=history, config=config)
    assert second.text == TOOL_RESULT_PREFIX + "ok"
    chunks = list(client.models.generate_content_stream(model=GEMINI, contents="[[fake:thinking thought=mull]]"))
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    assert [(p.thought, p.text) for p in parts if p.thought] == [(True, "mull")]


def test_gemini_router_call_gets_complexity_json(fake: FakeVendor) -> None:
    _, _, client = sdk_clients(fake.url, genai_api_version="v1beta")
    schema = {
        "type": "OBJECT",
        "properties": {"complexity_reasoning": {"type": "STRING"}, "complexity_score": {"type": "INTEGER"}},
    }
    config = genai_types.GenerateContentConfig(response_mime_type="application/json", response_json_schema=schema)
    reply = client.models.generate_content(model="gemini-fake-lite", contents="route: hello", config=config)
    assert json.loads(reply.text or "") == {
        "complexity_reasoning": "fake complexity_reasoning",
        "complexity_score": 1,
    }


def test_gemini_errors_and_side_endpoints(fake: FakeVendor) -> None:
    _, _, client = sdk_clients(fake.url)
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model=GEMINI, contents="[[fake:http_error status=403 message=denied]]")
    assert (caught.value.code, caught.value.status, caught.value.message) == (
        403,
        "PERMISSION_DENIED",
        "denied",
    )
    with pytest.raises(genai_errors.ServerError, match="Fake mid-stream failure"):
        list(client.models.generate_content_stream(model=GEMINI, contents="[[fake:error_midstream]]"))
    assert (client.models.count_tokens(model=GEMINI, contents="hi").total_tokens or 0) > 0
    assert [m.name for m in client.models.list()] == ["models/gemini-fake-pro", "models/gemini-fake-flash"]


# ---------------------------------------------------------------- pacing, failures, control API


def test_gated_stream_delivers_each_chunk_before_the_next_release(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url, timeout=10)
    prompt = user("[[fake:gated chunks=3 id=g1 reply='one two three']]")
    with client.messages.stream(model=CLAUDE, max_tokens=8, messages=prompt) as stream:
        texts = stream.text_stream
        received = []
        for _ in range(3):
            fake.release("g1")  # a buffering server would block here until the read timeout
            received.append(next(texts))
        assert received == ["one ", "two ", "three"]
        assert list(texts) == []


def test_gated_release_over_http(fake: FakeVendor) -> None:
    body = {"model": GPT, "stream": True, "messages": user("[[fake:gated chunks=2 id=h]]")}
    with httpx.stream("POST", fake.url + "/v1/chat/completions", json=body, timeout=10) as response:
        lines = response.iter_lines()
        assert '"role":"assistant"' in next(line for line in lines if line)
        for _ in range(2):
            assert httpx.post(fake.url + "/_fake/release/h").json() == {"ok": True}
            assert '"content":"' in next(line for line in lines if line)
        assert '"finish_reason":"stop"' in next(line for line in lines if line)


def test_hang_then_client_disconnect_is_noticed(fake: FakeVendor) -> None:
    body = {"model": CLAUDE, "max_tokens": 8, "stream": True, "messages": user("[[fake:hang]]")}
    with httpx.stream("POST", fake.url + "/v1/messages", json=body, timeout=10) as response:
        lines = response.iter_lines()
        assert next(line for line in lines if "text_delta" in line)
    assert fake.wait_for_disconnects(1)
    assert httpx.get(fake.url + "/_fake/count").json() == {"count": 1, "disconnects": 1}


def test_completed_stream_is_not_counted_as_disconnect(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    with client.messages.stream(model=CLAUDE, max_tokens=8, messages=user("[[fake:slow delay_ms=5]]")) as s:
        assert len(list(s.text_stream)) == 3
    assert fake.disconnects == 0


def test_drop_closes_without_terminal_event(fake: FakeVendor) -> None:
    body = {"model": GPT, "stream": True, "input": "[[fake:drop]]"}
    seen: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", fake.url + "/v1/responses", json=body, timeout=10) as response,
    ):
        seen.extend(response.iter_lines())
    assert any("response.output_text.delta" in line for line in seen)
    assert not any("response.completed" in line for line in seen)


def test_big_chunks(fake: FakeVendor) -> None:
    _, _, client = sdk_clients(fake.url)
    chunks = client.models.generate_content_stream(model=GEMINI, contents="[[fake:big chunks=4 bytes=10000]]")
    texts = [c.text for c in chunks if c.text]
    assert [len(t) for t in texts] == [10000] * 4


def test_control_api_lists_and_resets(fake: FakeVendor) -> None:
    httpx.post(
        fake.url + "/v1/messages?beta=true",
        json={"model": CLAUDE, "messages": user("hi")},
        headers={"X-Custom": "A"},
    )
    listed = httpx.get(fake.url + "/_fake/requests").json()
    assert len(listed) == 1
    assert listed[0]["query"] == {"beta": ["true"]}
    assert listed[0]["headers"]["x-custom"] == "A"
    assert listed[0]["body"]["messages"] == user("hi")
    assert fake.requests[0].method == "POST"
    assert httpx.post(fake.url + "/_fake/reset").json() == {"ok": True}
    assert fake.count() == 0


def test_unknown_directive_is_a_vendor_400(fake: FakeVendor) -> None:
    client, _, _ = sdk_clients(fake.url)
    with pytest.raises(anthropic.BadRequestError, match="unknown fake scenario"):
        client.messages.create(model=CLAUDE, max_tokens=8, messages=user("[[fake:nonsense]]"))


# ---------------------------------------------------------------- scenario parsing and planning


def test_directive_parsing_last_wins_and_quoted_json() -> None:
    text = "<wrapper>[[fake:slow]] then [[fake:tool_call tool=t args='{\"a\": [1, 2]}']]</wrapper>"
    assert parse_directive(text) == Scenario("tool_call", {"tool": "t", "args": '{"a": [1, 2]}'})
    assert parse_directive("plain prompt") == Scenario()


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (ToolSpec("Bash", {"properties": {"command": {"type": "string"}}}), {"command": FAKE_TOOL_COMMAND}),
        (ToolSpec("exec_command", {"properties": {"cmd": {"type": "string"}}}), {"cmd": FAKE_TOOL_COMMAND}),
        (
            ToolSpec(
                "shell",
                {
                    "properties": {"command": {"type": "array"}, "workdir": {"type": "string"}},
                    "required": ["command", "workdir"],
                },
            ),
            {"command": ["bash", "-lc", FAKE_TOOL_COMMAND], "workdir": "fake workdir"},
        ),
    ],
)
def test_tool_call_adapts_to_the_shell_tool_schema(tool: ToolSpec, expected: dict[str, Any]) -> None:
    turn = Turn("m", True, "", None, [ToolSpec("Read", {}), tool], None, False, 1)
    reply = plan_reply("x", turn, Scenario("tool_call"))
    assert reply.tool_call is not None
    assert (reply.tool_call.name, reply.tool_call.arguments) == (tool.name, expected)


BODIES = Path(__file__).resolve().parents[1] / "data" / "bodies"
REALISTIC = json.loads((BODIES / "expected.json").read_text())
STREAM_TERMINALS = ("event: message_stop", "event: response.completed", "data: [DONE]", '"finishReason":"STOP"')


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_realistic_client_bodies_get_complete_answers(fake: FakeVendor, name: str) -> None:
    """Bodies shaped like the real clients' (tests/data/bodies) are answered to the end; side calls get JSON."""
    path = REALISTIC[name]["path"]
    headers = {"x-goog-api-key": "k"} if "/models/" in path else {}
    response = httpx.post(fake.url + path, json=json.loads((BODIES / name).read_text()), headers=headers)
    assert response.status_code == 200
    text = response.text
    if response.headers["content-type"] == "application/json":
        json.loads(text)  # one complete JSON document
    else:
        assert any(marker in text for marker in STREAM_TERMINALS)
    if name in ("claude_code_title.json", "codex_title.json"):
        assert "fake title" in text
    if name == "gemini_cli_router.json":
        assert "complexity_score" in text
