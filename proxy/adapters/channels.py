"""Every other place in a request where a caller can put words.

The latest human instruction is the classifier's primary signal, but a caller
controls much more of a request: the system prompt, earlier turns, tool
results, attached documents, an assistant prefill, the contents of wrappers the
instruction extraction walks over. The adapters hand all of that on as
secondary *channels* — ``(channel name, text)`` pairs — so that a request moved
out of the last user message is still read (``proxy.classify.channels`` weighs
them). Collection is bounded: newest content first, at most
:data:`MAX_CHANNEL_CHARS` in all.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

# Most text collected from the secondary channels of one request.
MAX_CHANNEL_CHARS = 512 * 1024
# Keys whose values are identifiers, signatures or encodings, never words.
_SKIPPED_KEYS = frozenset(
    {
        "id",
        "type",
        "role",
        "signature",
        "encrypted_content",
        "tool_use_id",
        "call_id",
        "cache_control",
        "media_type",
        "mimeType",
        "mime_type",
        "thoughtSignature",
        "thought_signature",
        "image_url",
        "status",
    }
)
# Keys that may carry a base64 payload: read when it decodes to text.
_ENCODED_KEYS = frozenset({"data", "file_data", "bytes"})
_MAX_DEPTH = 12

SYSTEM = "system"
EARLIER_TURN = "earlier_turn"
WRAPPED = "wrapped"
TOOL_RESULT = "tool_result"
DOCUMENT = "document"
PREFILL = "prefill"
MODEL_TURN = "model_turn"
ATTACHMENT = "attachment"


class ChannelCollector:
    """Collects ``(channel, text)`` pairs up to :data:`MAX_CHANNEL_CHARS` characters."""

    def __init__(self, limit: int = MAX_CHANNEL_CHARS) -> None:
        self.pairs: list[tuple[str, str]] = []
        self._room = limit

    @property
    def full(self) -> bool:
        return self._room <= 0

    def add(self, channel: str, text: object) -> None:
        if not isinstance(text, str) or self._room <= 0 or not text.strip():
            return
        text = text[: self._room]
        self._room -= len(text)
        self.pairs.append((channel, text))

    def add_user_text(self, text: object, instruction: str, latest: bool) -> None:
        """A user text block: what the instruction did not take from it (wrappers, machine
        prefixes, an earlier turn's words) is a channel of its own."""
        if not isinstance(text, str):
            return
        if latest:
            # Wrappers removed, or past the instruction's cap: the raw text is not all in it.
            # (Equality first: the usual case, a memory compare instead of a substring search.)
            if text != instruction and text.strip() not in instruction:
                self.add(WRAPPED, text)
        else:
            self.add(EARLIER_TURN, text)

    def add_json(self, channel: str, value: Any, depth: int = 0) -> None:
        """Every string leaf of a JSON value (base64 text payloads decoded), ids and signatures skipped."""
        if self.full or depth > _MAX_DEPTH:
            return
        if isinstance(value, str):
            self.add(channel, value)
        elif isinstance(value, list):
            for item in value:
                self.add_json(channel, item, depth + 1)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in _SKIPPED_KEYS:
                    continue
                if key in _ENCODED_KEYS and isinstance(item, str):
                    self.add(channel, decoded_text(item))
                else:
                    self.add_json(channel, item, depth + 1)


def decoded_text(value: str) -> str | None:
    """The text a base64 payload (or ``data:`` URL) carries, None when it is not UTF-8 text."""
    if value.startswith("data:"):
        _, _, value = value.partition(",")
    if len(value) > MAX_CHANNEL_CHARS * 2:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return value if " " in value else None  # plain text sent where a payload may go
    return text if text.isprintable() or "\n" in text else None
