"""Vendor-neutral model of a turn, the ``[[fake:...]]`` directive parser and reply planning.

Each vendor module reads its request body into a :class:`Turn`; :func:`plan_reply`
decides *what* to answer (text, thinking, a tool call, structured JSON) and the
vendor module decides *how* it looks on the wire.
"""

from __future__ import annotations

import json
import re
import shlex
import uuid
from dataclasses import dataclass, field
from typing import Any

FAKE_TOOL_COMMAND = "echo fake-tool-ran"
TOOL_RESULT_PREFIX = "Tool result received: "
THINKING_TEXT = "Let me think about this fake request step by step."

# Names of shell-like tools, best first: Claude Code, Codex (new and old), Gemini CLI.
SHELL_TOOL_NAMES = ("Bash", "exec_command", "shell", "run_shell_command", "local_shell", "bash")
COMMAND_FIELD_NAMES = ("command", "cmd", "script")

DIRECTIVE = re.compile(r"\[\[fake:(.*?)\]\]", re.DOTALL)

SCENARIOS = frozenset(
    {"text", "tool_call", "thinking", "error_midstream", "http_error", "slow", "gated", "hang", "big", "drop"}
)


@dataclass(frozen=True)
class Scenario:
    """A parsed ``[[fake:NAME key=value ...]]`` directive."""

    name: str = "text"
    params: dict[str, str] = field(default_factory=dict)

    def int_param(self, key: str, default: int) -> int:
        value = self.params.get(key)
        return int(value) if value is not None else default


@dataclass(frozen=True)
class ToolSpec:
    """One function tool the client offered, with its JSON-schema parameters."""

    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """What the fake needs to know about one generation request."""

    model: str
    stream: bool
    last_user_text: str
    tool_result: str | None  # result text when the latest input answers a tool call
    tools: list[ToolSpec]
    output_schema: dict[str, Any] | None  # JSON schema when structured output is requested
    json_output: bool  # JSON output requested (with or without schema)
    input_tokens: int


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The content of one answer, before any vendor encoding."""

    text_chunks: list[str]
    thinking: str | None = None
    tool_call: ToolCall | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_chunks)

    @property
    def output_tokens(self) -> int:
        words = len(self.text.split()) + len((self.thinking or "").split())
        return max(1, words + (5 if self.tool_call else 0))


def parse_directive(text: str) -> Scenario:
    """The last ``[[fake:...]]`` directive in ``text``, or the default ``text`` scenario."""
    matches = DIRECTIVE.findall(text)
    if not matches:
        return Scenario()
    tokens = shlex.split(matches[-1])
    if not tokens or tokens[0] not in SCENARIOS:
        raise ValueError(f"unknown fake scenario directive: [[fake:{matches[-1]}]]")
    params: dict[str, str] = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"fake directive parameter without '=': {token!r}")
        params[key] = value
    return Scenario(tokens[0], params)


def estimate_tokens(body: Any) -> int:
    """A stable, crude token count: about four characters per token."""
    return max(1, len(json.dumps(body, separators=(",", ":"))) // 4)


def result_text(value: Any) -> str:
    """Plain text of a tool result in any vendor's shape (string, blocks, dict)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(result_text(item) for item in value)
    if isinstance(value, dict):
        for key in ("text", "output", "result", "content"):
            if key in value:
                return result_text(value[key])
    return json.dumps(value)


def sample_for_schema(schema: Any, name: str = "value") -> Any:
    """A small value that satisfies ``schema`` (enough for router and title calls)."""
    if not isinstance(schema, dict):
        return f"fake {name}"
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return sample_for_schema(schema[combinator][0], name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower()
    if kind == "object":
        props = schema.get("properties", {})
        return {key: sample_for_schema(sub, key) for key, sub in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    return f"fake {name}"


def _shell_tool(tools: list[ToolSpec]) -> ToolSpec | None:
    by_name = {tool.name: tool for tool in tools}
    for name in SHELL_TOOL_NAMES:
        if name in by_name:
            return by_name[name]
    for tool in tools:
        if any(word in tool.name.lower() for word in ("shell", "bash", "exec")):
            return tool
    return None


def _command_arguments(tool: ToolSpec) -> dict[str, Any]:
    """Arguments for a shell-like tool, filling its command field whatever its name and type."""
    props: dict[str, Any] = tool.parameters.get("properties", {}) or {}
    required: list[str] = tool.parameters.get("required", []) or []
    field_name = next((n for n in COMMAND_FIELD_NAMES if n in props), None)
    if field_name is None:
        field_name = next((n for n in required if props.get(n, {}).get("type") in ("string", "array")), "command")
    args: dict[str, Any] = {n: sample_for_schema(props.get(n), n) for n in required if n != field_name}
    if props.get(field_name, {}).get("type") == "array":
        args[field_name] = ["bash", "-lc", FAKE_TOOL_COMMAND]
    else:
        args[field_name] = FAKE_TOOL_COMMAND
    return args


def _planned_tool_call(turn: Turn, scenario: Scenario) -> ToolCall | None:
    call_id = "call_fake_" + uuid.uuid4().hex[:16]
    wanted = scenario.params.get("tool")
    if wanted:
        arguments = json.loads(scenario.params.get("args", "{}"))
        return ToolCall(call_id, wanted, arguments)
    tool = _shell_tool(turn.tools)
    if tool is None:
        return None
    return ToolCall(call_id, tool.name, _command_arguments(tool))


def _text_chunks(vendor_label: str, scenario: Scenario) -> list[str]:
    if scenario.name == "big":
        count, size = scenario.int_param("chunks", 8), scenario.int_param("bytes", 4096)
        return [(f"[{i}]" + "x" * size)[:size] for i in range(count)]
    reply = scenario.params.get("reply", f"Hello from the fake {vendor_label} upstream.")
    count = scenario.int_param("chunks", 3 if scenario.name in ("slow", "gated") else 1)
    if count <= 1:
        return [reply]
    # Split into exactly `count` non-empty pieces where possible; numbered pieces if the reply is short.
    if len(reply) < count:
        return [f"chunk {i} " for i in range(count)]
    step = len(reply) // count
    cuts = [i * step for i in range(count)] + [len(reply)]
    return [reply[cuts[i] : cuts[i + 1]] for i in range(count)]


def plan_reply(vendor_label: str, turn: Turn, scenario: Scenario) -> Reply:
    """Decide the content of the answer; pacing and failures are the server's job."""
    if turn.tool_result is not None:
        return Reply([TOOL_RESULT_PREFIX + turn.tool_result[:200]])
    if turn.output_schema is not None or turn.json_output:
        return Reply([json.dumps(sample_for_schema(turn.output_schema or {"type": "object"}))])
    if scenario.name == "tool_call":
        call = _planned_tool_call(turn, scenario)
        if call is not None:
            return Reply([], tool_call=call)
        return Reply(["The fake found no shell-like tool to call."])
    chunks = _text_chunks(vendor_label, scenario)
    thinking = scenario.params.get("thought", THINKING_TEXT) if scenario.name == "thinking" else None
    return Reply(chunks, thinking=thinking)
