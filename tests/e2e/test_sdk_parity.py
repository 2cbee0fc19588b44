"""The official SDKs see the same thing through the proxy as they do talking to the vendor directly.

Each case runs one SDK call twice, once against the fake vendor and once against
the proxy in front of it, and compares the parsed results (``model_dump()``),
streamed event by event. Only what the fake makes up per request differs and is
masked: ids (``*_fake_<hex>``, Gemini's ``responseId``) and creation times.
Errors must raise the same exception class with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.support.fake_vendor import FakeVendor, sdk_clients
from tests.support.fixtures_proxy import ProxyProcess

# Per-request values the fake generates (see tests/support/fake_vendor): masked before comparing.
_FAKE_ID = re.compile(r"_fake_[0-9a-f]{8,}")
_VARYING_KEYS = frozenset({"created", "created_at", "response_id", "responseId"})
# The SDK's record of the HTTP exchange (headers incl. date, request ids, x-provenance-id): not a result.
_TRANSPORT_KEYS = frozenset({"sdk_http_response"})


@dataclass(frozen=True, slots=True)
class Clients:
    anthropic: anthropic.Anthropic
    openai: openai.OpenAI
    genai_v1beta: genai.Client
    genai_v1: genai.Client


def _clients(base_url: str) -> Clients:
    anthropic_client, openai_client, genai_v1beta = sdk_clients(base_url, genai_api_version="v1beta")
    genai_v1 = sdk_clients(base_url, genai_api_version="v1")[2]
    return Clients(anthropic_client, openai_client, genai_v1beta, genai_v1)


@pytest.fixture(scope="module")
def direct(fake_vendor: FakeVendor) -> Iterator[Clients]:
    clients = _clients(fake_vendor.url)
    yield clients
    clients.anthropic.close()
    clients.openai.close()


@pytest.fixture(scope="module")
def proxied(shared_proxy: ProxyProcess) -> Iterator[Clients]:
    clients = _clients(shared_proxy.url)
    yield clients
    clients.anthropic.close()
    clients.openai.close()


def normalise(value: Any) -> Any:
    """A comparable copy: per-request ids and times masked, transport details dropped."""
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        return {
            key: "<varies>" if key in _VARYING_KEYS and item is not None else normalise(item)
            for key, item in value.items()
            if key not in _TRANSPORT_KEYS
        }
    if isinstance(value, list | tuple):
        return [normalise(item) for item in value]
    if isinstance(value, str):
        return _FAKE_ID.sub("_fake_<id>", value)
    return value


# -- the calls -------------------------------------------------------------------------

CLAUDE = "claude-opus-4-8"
GPT = "gpt-5.1"
GEMINI = "gemini-2.5-flash"

WEATHER_ARGS = '{"city": "Paris"}'
TOOL_DIRECTIVE = f"[[fake:tool_call tool=get_weather args='{WEATHER_ARGS}']]"
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
ANTHROPIC_TOOLS: list[Any] = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
RESPONSES_TOOLS: list[Any] = [
    {"type": "function", "name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA}
]
CHAT_TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA}}
]


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def anthropic_stream(c: Clients, prompt: str, **extra: Any) -> Any:
    with c.anthropic.messages.stream(model=CLAUDE, max_tokens=2048, messages=_user(prompt), **extra) as stream:
        events = list(stream)
        return {"events": events, "final": stream.get_final_message()}


def responses_stream(c: Clients, prompt: str, **extra: Any) -> Any:
    return list(c.openai.responses.create(model=GPT, input=prompt, stream=True, **extra))


def chat_stream(c: Clients, prompt: str, **extra: Any) -> Any:
    chunks = c.openai.chat.completions.create(
        model=GPT, messages=_user(prompt), stream=True, stream_options={"include_usage": True}, **extra
    )
    return list(chunks)


def _genai(c: Clients, version: str) -> genai.Client:
    return c.genai_v1 if version == "v1" else c.genai_v1beta


def genai_generate(version: str, prompt: str) -> Callable[[Clients], Any]:
    return lambda c: _genai(c, version).models.generate_content(model=GEMINI, contents=prompt)


def genai_stream(version: str, prompt: str) -> Callable[[Clients], Any]:
    return lambda c: list(_genai(c, version).models.generate_content_stream(model=GEMINI, contents=prompt))


def genai_tool_stream(version: str) -> Callable[[Clients], Any]:
    declaration = genai_types.FunctionDeclaration(
        name="get_weather", description="Weather", parameters_json_schema=WEATHER_SCHEMA
    )
    config = genai_types.GenerateContentConfig(tools=[genai_types.Tool(function_declarations=[declaration])])
    return lambda c: list(
        _genai(c, version).models.generate_content_stream(model=GEMINI, contents=TOOL_DIRECTIVE, config=config)
    )


def genai_count(version: str) -> Callable[[Clients], Any]:
    return lambda c: _genai(c, version).models.count_tokens(model=GEMINI, contents="How many tokens is this?")


CASES: dict[str, Callable[[Clients], Any]] = {
    "anthropic messages.create": lambda c: c.anthropic.messages.create(
        model=CLAUDE, max_tokens=256, messages=_user("hello")
    ),
    "anthropic messages.create tool call": lambda c: c.anthropic.messages.create(
        model=CLAUDE, max_tokens=256, messages=_user(TOOL_DIRECTIVE), tools=ANTHROPIC_TOOLS
    ),
    "anthropic messages.stream": lambda c: anthropic_stream(c, "hello [[fake:text chunks=4]]"),
    "anthropic messages.stream thinking": lambda c: anthropic_stream(
        c, "think [[fake:thinking thought='Weighing it up.']]", thinking={"type": "enabled", "budget_tokens": 1024}
    ),
    "anthropic messages.stream tool call": lambda c: anthropic_stream(c, TOOL_DIRECTIVE, tools=ANTHROPIC_TOOLS),
    "anthropic count_tokens": lambda c: c.anthropic.messages.count_tokens(model=CLAUDE, messages=_user("hello")),
    "anthropic models.list": lambda c: list(c.anthropic.models.list()),
    "openai responses.create": lambda c: c.openai.responses.create(model=GPT, input="hello"),
    "openai responses.create tool call": lambda c: c.openai.responses.create(
        model=GPT, input=TOOL_DIRECTIVE, tools=RESPONSES_TOOLS
    ),
    "openai responses stream": lambda c: responses_stream(c, "hello [[fake:text chunks=4]]"),
    "openai responses stream reasoning": lambda c: responses_stream(c, "think [[fake:thinking]]"),
    "openai responses stream tool call": lambda c: responses_stream(c, TOOL_DIRECTIVE, tools=RESPONSES_TOOLS),
    "openai chat.completions.create": lambda c: c.openai.chat.completions.create(model=GPT, messages=_user("hello")),
    "openai chat.completions.create tool call": lambda c: c.openai.chat.completions.create(
        model=GPT, messages=_user(TOOL_DIRECTIVE), tools=CHAT_TOOLS
    ),
    "openai chat stream include_usage": lambda c: chat_stream(c, "hello [[fake:text chunks=4]]"),
    "openai chat stream tool call": lambda c: chat_stream(c, TOOL_DIRECTIVE, tools=CHAT_TOOLS),
    "openai models.list": lambda c: list(c.openai.models.list()),
    "genai v1beta generate_content": genai_generate("v1beta", "hello"),
    "genai v1 generate_content": genai_generate("v1", "hello"),
    "genai v1beta generate_content_stream": genai_stream("v1beta", "hello [[fake:text chunks=4]]"),
    "genai v1 generate_content_stream": genai_stream("v1", "hello [[fake:text chunks=4]]"),
    "genai v1beta generate_content_stream thinking": genai_stream("v1beta", "think [[fake:thinking]]"),
    "genai v1beta generate_content_stream tool call": genai_tool_stream("v1beta"),
    "genai v1beta count_tokens": genai_count("v1beta"),
    "genai v1 count_tokens": genai_count("v1"),
}


@pytest.mark.parametrize("case", CASES)
def test_result_through_the_proxy_equals_direct(case: str, direct: Clients, proxied: Clients) -> None:
    call = CASES[case]
    expected = normalise(call(direct))
    assert expected, "the direct call returned nothing to compare"
    assert normalise(call(proxied)) == expected


# -- errors ------------------------------------------------------------------------------

ERROR_DIRECTIVE = "[[fake:http_error status={status} message='Parity check failed on purpose']]"

ERROR_CALLS: dict[str, Callable[[Clients, str], Any]] = {
    "anthropic messages.create": lambda c, p: c.anthropic.messages.create(
        model=CLAUDE, max_tokens=64, messages=_user(p)
    ),
    "anthropic messages.stream": lambda c, p: anthropic_stream(c, p),
    "openai responses.create": lambda c, p: c.openai.responses.create(model=GPT, input=p),
    "openai chat stream": lambda c, p: chat_stream(c, p),
    "genai v1beta generate_content": lambda c, p: genai_generate("v1beta", p)(c),
    "genai v1 generate_content_stream": lambda c, p: genai_stream("v1", p)(c),
}


def _raised(call: Callable[[Clients, str], Any], clients: Clients, prompt: str) -> BaseException:
    with pytest.raises((anthropic.APIError, openai.APIError, genai_errors.APIError)) as caught:
        call(clients, prompt)
    return caught.value


@pytest.mark.parametrize("status", [400, 429, 500])
@pytest.mark.parametrize("case", ERROR_CALLS)
def test_errors_raise_the_same_exception(case: str, status: int, direct: Clients, proxied: Clients) -> None:
    prompt = ERROR_DIRECTIVE.format(status=status)
    expected = _raised(ERROR_CALLS[case], direct, prompt)
    got = _raised(ERROR_CALLS[case], proxied, prompt)
    assert type(got) is type(expected)
    assert normalise(str(got)) == normalise(str(expected))
    assert "Parity check failed on purpose" in str(got)
