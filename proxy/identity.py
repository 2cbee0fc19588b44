"""Which tool is calling, which version, and in which session.

Signals, strongest first: an explicit ``x-provproxy-tool`` header (set through
each tool's custom-header setting), the tool's own headers and User-Agent,
then fingerprints the adapter found in the body (Claude Code's billing
header, well-known system prompts). Header lookups come first; nothing here
parses the body again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from proxy.adapters.base import CallView

UNKNOWN = "unknown"
OVERRIDE_HEADER = "x-provproxy-tool"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")
_SESSION = re.compile(r"[\x21-\x7e]{1,128}")
_CODEX_UA = re.compile(r"(?:codex[_-][a-z_-]+|codex)/([0-9][^\s(;]*)")
_GENAI_CLIENT = re.compile(r"google-genai-sdk/(\S+)\s+gl-(python|node)/")

# UA prefixes "<Product>/<version>" mapped to tool names.
_UA_PRODUCTS = (
    ("claude-cli/", "claude-code"),
    ("GeminiCLI", "gemini-cli"),  # GeminiCLI/0.x or GeminiCLI-tui/0.x/<model>
    ("Anthropic/Python ", "anthropic-sdk-python"),
    ("Anthropic/JS ", "anthropic-sdk-js"),
    ("OpenAI/Python ", "openai-sdk-python"),
    ("OpenAI/JS ", "openai-sdk-js"),
    ("litellm/", "litellm"),
    ("Cline/", "cline"),
    ("Continue/", "continue"),
    ("Cursor/", "cursor"),
)
# Well-known system prompt openings of tools that use stock SDKs.
_SYSTEM_FINGERPRINTS = (
    ("Act as an expert software developer", "aider"),
    ("You are Cline", "cline"),
    ("You are Claude Code", "claude-code"),
)
_SESSION_HEADERS = ("x-claude-code-session-id", "session-id", "session_id", "conversation_id", "thread-id")


def _version_after(ua: str, start: int) -> str | None:
    """The version token that starts at ``start`` in a User-Agent."""
    match = _VERSION.match(ua, start)
    return match.group(0) if match else None


def _override(value: str) -> tuple[str, str | None] | None:
    name, _, version = value.strip().partition("/")
    if not _NAME.fullmatch(name):
        return None
    return name.lower(), version if version and _VERSION.fullmatch(version) else None


def _from_user_agent(ua: str, headers: Mapping[str, str]) -> tuple[str, str | None] | None:
    for prefix, tool in _UA_PRODUCTS:
        if ua.startswith(prefix):
            if tool == "gemini-cli":
                slash = ua.find("/")
                return tool, _version_after(ua, slash + 1) if slash > 0 else None
            return tool, _version_after(ua, len(prefix))
    originator = headers.get("originator", "")
    if originator.startswith("codex") or ua.startswith("codex"):
        version = headers.get("version")
        if not version:
            match = _CODEX_UA.match(ua)
            version = match.group(1) if match else None
        return "codex-cli", version if version and _VERSION.fullmatch(version) else None
    client = headers.get("x-goog-api-client", "") or ua
    match = _GENAI_CLIENT.search(client)
    if match:
        tool = "google-genai-python" if match.group(2) == "python" else "google-genai-js"
        return tool, match.group(1)
    return None


def _from_body(call: CallView) -> tuple[str, str | None] | None:
    cc_version = call.extras.get("cc_version")
    if isinstance(cc_version, str):
        # "2.1.197.fa0": release plus build hash
        return "claude-code", ".".join(cc_version.split(".")[:3])
    head = call.extras.get("system_head")
    if isinstance(head, str):
        for prefix, tool in _SYSTEM_FINGERPRINTS:
            if head.startswith(prefix):
                return tool, None
    return None


def _session(headers: Mapping[str, str], call: CallView | None) -> str | None:
    for name in _SESSION_HEADERS:
        value = headers.get(name)
        if value and _SESSION.fullmatch(value):
            return value
    metadata = headers.get("x-codex-turn-metadata")
    if metadata and len(metadata) < 16384:
        try:
            parsed = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            parsed = None
        value = parsed.get("session_id") if isinstance(parsed, dict) else None
        if isinstance(value, str) and _SESSION.fullmatch(value):
            return value
    if call is not None and call.session_hint and _SESSION.fullmatch(call.session_hint):
        return call.session_hint
    return None


def detect_client(headers: Mapping[str, str], call: CallView | None) -> tuple[str, str | None, str | None]:
    """``(tool, tool_version, session_id)`` for one request; ``headers`` has lower-case keys."""
    session = _session(headers, call)
    override = headers.get(OVERRIDE_HEADER)
    if override:
        parsed = _override(override)
        if parsed is not None:
            return parsed[0], parsed[1], session
    ua = headers.get("user-agent", "")
    found = _from_user_agent(ua, headers)
    # Tools built on stock SDKs or litellm (aider, Cline) are told apart by their prompts.
    if found is None or found[0] in ("litellm", "openai-sdk-python", "openai-sdk-js", "anthropic-sdk-js"):
        from_body = _from_body(call) if call is not None else None
        if from_body is not None:
            return from_body[0], from_body[1], session
    if found is not None and found[0] == "openai-sdk-python" and headers.get("x-stainless-raw-response") == "true":
        found = ("litellm", None)  # litellm always asks the openai SDK for raw responses
    if found is None and (headers.get("x-app") == "cli" or "claude-code-" in headers.get("anthropic-beta", "")):
        found = ("claude-code", None)
    if found is None:
        return UNKNOWN, None, session
    return found[0], found[1], session
