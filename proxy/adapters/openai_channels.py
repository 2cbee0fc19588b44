"""OpenAI requests (Responses input items, Chat messages): the secondary channels."""

from __future__ import annotations

from typing import Any

from proxy.adapters.channels import (
    ATTACHMENT,
    DOCUMENT,
    MODEL_TURN,
    PREFILL,
    SYSTEM,
    TOOL_RESULT,
    ChannelCollector,
)
from proxy.adapters.collect import as_dict, as_list

TEXT_PART_TYPES = frozenset({"input_text", "text"})
_SYSTEM_ROLES = frozenset({"system", "developer"})
_FILE_PART_TYPES = frozenset({"input_file", "file"})


def channels(
    items: list[Any], instruction: str, latest_user: int | None, instructions: str | None
) -> list[tuple[str, str]]:
    """Everything but the instruction, newest first: input items, then ``instructions``."""
    collector = ChannelCollector()
    last = len(items) - 1
    for at in range(last, -1, -1):
        item = as_dict(items[at])
        role = item.get("role")
        if role == "user" and item.get("type", "message") == "message":
            _user_channels(collector, item.get("content"), instruction, at == latest_user)
        elif role in _SYSTEM_ROLES:
            collector.add_json(SYSTEM, item.get("content"))
        elif role == "assistant":
            collector.add_json(PREFILL if at == last else MODEL_TURN, item)
        elif role == "tool" or str(item.get("type", "")).endswith("_output"):
            collector.add_json(TOOL_RESULT, item)
        else:
            collector.add_json(MODEL_TURN if "call" in str(item.get("type", "")) else ATTACHMENT, item)
    collector.add(SYSTEM, instructions)
    return collector.pairs


def _user_channels(collector: ChannelCollector, content: Any, instruction: str, latest: bool) -> None:
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else as_list(content)
    for part in parts:
        part = as_dict(part)
        if part.get("type") in TEXT_PART_TYPES:
            collector.add_user_text(part.get("text"), instruction, latest)
        else:
            collector.add_json(DOCUMENT if part.get("type") in _FILE_PART_TYPES else ATTACHMENT, part)
