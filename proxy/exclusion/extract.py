"""What a vendor produced that can land in a file: the units the index fingerprints.

A completion gives its whole text and each fenced code block on its own; a tool
call gives the file contents it writes (Claude Code ``Write``/``Edit``/
``MultiEdit``, Codex ``apply_patch`` and shell heredocs, Gemini CLI
``write_file``/``replace``) and, for tools not known here, any long string argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from proxy.exclusion.languages import TEXT, guess_language, language_for_fence, language_for_path


@dataclass(frozen=True, slots=True)
class Unit:
    language: str
    text: str


_FENCE = re.compile(r"^[ \t]*(```+|~~~+)([^\n`]*)\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_HEREDOC = re.compile(
    r"(?:cat|tee)\s*(?:-a\s*)?>{1,2}\s*['\"]?([^\s'\"<>;|&]+)['\"]?\s*<<-?\s*['\"]?(\w+)['\"]?[^\n]*\n(.*?)\n\s*\2\b"
    r"|<<-?\s*['\"]?(\w+)['\"]?\s*>{1,2}\s*['\"]?([^\s'\"<>;|&]+)['\"]?[^\n]*\n(.*?)\n\s*\4\b",
    re.S,
)
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update) File: (.+)$")
_LONG_ARGUMENT = 200  # characters: shorter strings in unknown tools are names and flags


def completion_units(text: str | None) -> list[Unit]:
    """The whole completion (code language if it is bare code) and each fenced block."""
    if not text or not text.strip():
        return []
    blocks = [Unit(language_for_fence(m.group(2), m.group(3)), m.group(3)) for m in _FENCE.finditer(text)]
    whole = Unit(TEXT if blocks else guess_language(text), text)
    return [whole, *blocks]


def tool_call_units(calls: list[dict[str, Any]] | None) -> list[Unit]:
    units: list[Unit] = []
    for call in calls or []:
        arguments = _arguments(call.get("arguments"))
        units.extend(_call_units(str(call.get("name") or ""), arguments))
    return units


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # Codex custom tools (apply_patch) send the patch text itself
    return raw


def _call_units(name: str, arguments: Any) -> list[Unit]:
    if isinstance(arguments, str):
        return _patch_units(arguments) or _heredoc_units(arguments) or _long_strings(arguments)
    if not isinstance(arguments, dict):
        return []
    path = str(arguments.get("file_path") or arguments.get("path") or arguments.get("absolute_path") or "")
    language = language_for_path(path) if path else None
    pieces: list[str] = []
    for key in ("content", "new_string", "new_str", "file_text", "contents"):
        if isinstance(arguments.get(key), str):
            pieces.append(arguments[key])
    edits = arguments.get("edits")
    if isinstance(edits, list):
        pieces.extend(
            str(edit.get("new_string")) for edit in edits if isinstance(edit, dict) and edit.get("new_string")
        )
        if len(pieces) > 1:
            pieces.append("\n".join(pieces))
    for key in ("input", "patch"):
        if isinstance(arguments.get(key), str):
            return _patch_units(arguments[key]) or _long_strings(arguments[key])
    command = arguments.get("command") or arguments.get("cmd")
    if isinstance(command, list):
        command = " ".join(str(part) for part in command)
    if isinstance(command, str) and "<<" in command:
        return _heredoc_units(command)
    if pieces:
        return [Unit(language or guess_language(piece), piece) for piece in pieces if piece.strip()]
    return _long_strings(arguments)


def _patch_units(patch: str) -> list[Unit]:
    """Added lines per file of a Codex ``*** Begin Patch`` text."""
    if "*** Begin Patch" not in patch:
        return []
    units: list[Unit] = []
    path: str | None = None
    added: list[str] = []
    for line in [*patch.splitlines(), "*** End of File: "]:
        header = _PATCH_FILE.match(line)
        if header or line.startswith(("*** End Patch", "*** Delete File", "*** End of File: ")):
            if path is not None and added:
                units.append(Unit(language_for_path(path), "\n".join(added)))
            path, added = (header.group(1).strip() if header else None), []
        elif path is not None and line.startswith("+"):
            added.append(line[1:])
    return units


def _heredoc_units(command: str) -> list[Unit]:
    units = []
    for match in _HEREDOC.finditer(command):
        path, body = (match.group(1), match.group(3)) if match.group(1) else (match.group(5), match.group(6))
        units.append(Unit(language_for_path(path), body))
    return units


def _long_strings(value: Any) -> list[Unit]:
    return [Unit(guess_language(text), text) for text in _strings(value) if len(text) >= _LONG_ARGUMENT]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
