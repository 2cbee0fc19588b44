"""One call's decision in words, and the files its tool calls write: what the call page says."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from proxy.policy import Policy, PolicyError, load_policy
from proxy.policy.model import Match
from proxy.policy.source import DEFAULT_POLICY_PATH

VERBS = {"allow": "allowed", "flag": "allowed and flagged for review", "block": "blocked"}
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+)$", re.MULTILINE)
_PATH_KEYS = ("file_path", "path", "absolute_path", "filename", "target_file")


@dataclass(frozen=True, slots=True)
class ToolCallView:
    name: str
    files: list[str]
    arguments: str  # pretty JSON or the raw text (a Codex patch), shown escaped


def explanation(event: dict[str, Any], rule_text: str | None) -> str:
    """A sentence an analyst can paste: what happened and why."""
    decision = event.get("decision") or "allow"
    label = event.get("use_label") or "no label"
    score = (event.get("scores") or {}).get(event.get("use_label") or "", None)
    scored = f" (score {score:.2f})" if isinstance(score, int | float) else ""
    because = (
        f"policy rule “{event['policy_rule']}” matched"
        if event.get("policy_rule")
        else "no policy rule matched, so the policy's default action applied"
    )
    sentence = f"This call was {VERBS.get(decision, decision)}: the classifier labelled it {label}{scored}; {because}."
    if rule_text:
        sentence += f" The rule reads: {rule_text}"
    if event.get("outcome") not in (None, "completed", "blocked"):
        sentence += f" The call ended as {event['outcome']}."
    return sentence


def top_scores(scores: dict[str, Any] | None, limit: int = 5) -> list[tuple[str, float]]:
    numeric = [(k, float(v)) for k, v in (scores or {}).items() if isinstance(v, int | float)]
    return sorted(numeric, key=lambda item: -item[1])[:limit]


def live_policy_path(settings: object) -> Path:
    return getattr(settings, "policy_file", None) or DEFAULT_POLICY_PATH


def live_policy(settings: object) -> Policy | None:
    try:
        return load_policy(live_policy_path(settings))
    except PolicyError:
        return None


def rule_description(policy: Policy | None, rule_id: str | None) -> str | None:
    """How the live policy's rule ``rule_id`` reads now (it may have changed since the call)."""
    if policy is None or rule_id is None:
        return None
    for rule in policy.rules:
        if rule.id == rule_id:
            parts = [f"{rule.action.value} when {_match_text(rule.match)}"]
            if rule.volume is not None:
                parts.append(f"after more than {rule.volume.more_than} such calls in {rule.volume.window_s:g} s")
            return ", ".join(parts) + "."
    return None


def _match_text(match: Match) -> str:
    given = {f.name: getattr(match, f.name) for f in fields(match) if getattr(match, f.name) not in (None, ())}
    return ", ".join(f"{name} is {_joined(value)}" for name, value in given.items()) or "any call"


def _joined(value: Any) -> str:
    if isinstance(value, tuple | list | frozenset | set):
        return " or ".join(sorted(str(v) for v in value))
    return str(value)


def tool_calls(calls: list[Any] | None) -> list[ToolCallView]:
    """Each tool call with the files its arguments write (Claude Code/Gemini paths, Codex patches)."""
    views = []
    for call in calls or []:
        if not isinstance(call, dict):
            continue
        arguments = call.get("arguments")
        parsed = _parsed(arguments)
        files: list[str] = []
        if isinstance(parsed, dict):
            files = [str(parsed[k]) for k in _PATH_KEYS if isinstance(parsed.get(k), str)]
            for key in ("input", "patch"):
                if isinstance(parsed.get(key), str):
                    files += [m.group(2).strip() for m in _PATCH_FILE.finditer(parsed[key])]
        elif isinstance(parsed, str):
            files = [m.group(2).strip() for m in _PATCH_FILE.finditer(parsed)]
        shown = parsed if isinstance(parsed, str) else json.dumps(parsed, indent=2, ensure_ascii=False)
        views.append(ToolCallView(str(call.get("name") or "?"), files, shown))
    return views


def _parsed(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments
