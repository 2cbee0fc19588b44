"""Blocking on a labelled use set, in every agent request shape: recall, precision, hard negatives.

    .venv/bin/python bench/eval_use_set.py [--set tests/data/frozen_use_set] [--policy FILE]

Each prompt is sent through the real adapters and the decider in seven request
shapes built from the captured bodies in ``tests/data/bodies``: plain text, and
Claude Code, Codex and Gemini CLI first turns and tool-loop turns (the prompt
replaces the captured human instruction; system prompts, tools and tool
results stay). Each session is replayed turn by turn, as plain text (session
evidence only) and as a Claude Code body that re-sends the history.

Reported: block recall on eval_task_generation + training_data_generation,
block precision (blocked rows whose label the policy blocks), hard negatives
blocked — overall, per agent shape, per language and per style — per-label
precision/recall of the plain-text label, and sessions apart. The frozen set
is for reporting once: never tune on it.
"""

from __future__ import annotations

import argparse
import copy
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from proxy.adapters import resolve_route
from proxy.adapters.base import CallView
from proxy.classify import FORBIDDEN_LABELS, LABELS
from proxy.decider import PolicyDecider
from proxy.events import Decision
from proxy.hooks import Identity

ROOT = Path(__file__).resolve().parent.parent
BODIES = ROOT / "tests" / "data" / "bodies"
EXPECTED = orjson.loads((BODIES / "expected.json").read_bytes())
SHAPES = {
    "claude_code_first": "claude_code_first_turn.json",
    "claude_code_loop": "claude_code_multi_turn.json",
    "codex_first": "codex_exec_first_turn.json",
    "codex_loop": "codex_multi_turn.json",
    "gemini_first": "gemini_cli_main.json",
    "gemini_loop": "gemini_cli_function_response.json",
}


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, old, new) for key, item in value.items()}
    return value


def shaped_call(shape: str, text: str) -> CallView:
    """``text`` as the human instruction of a request in ``shape``."""
    if shape == "plain":
        return CallView(vendor="text", endpoint="text", instruction=text)
    name = SHAPES[shape]
    expected = EXPECTED[name]
    body = _replace(orjson.loads((BODIES / name).read_bytes()), expected["instruction"], text)
    path = expected["path"].split("?", 1)[0]
    adapter, route = resolve_route("POST", path, {"x-goog-api-key": "k"} if "gemini" in name else {})
    assert adapter is not None and route is not None
    return adapter.read_call(route, body, {})


def _session_history_call(turns: list[str]) -> CallView:
    """A Claude Code body whose messages are the session's turns so far."""
    body = copy.deepcopy(orjson.loads((BODIES / SHAPES["claude_code_first"]).read_bytes()))
    messages: list[dict[str, Any]] = []
    for at, text in enumerate(turns):
        if at:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": "Done."}]})
        messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
    body["messages"] = messages
    adapter, route = resolve_route("POST", "/v1/messages", {})
    assert adapter is not None and route is not None
    return adapter.read_call(route, body, {})


class Tally:
    """Block counts of one slice: forbidden rows blocked, all rows blocked, hard negatives blocked."""

    def __init__(self) -> None:
        self.forbidden = self.forbidden_blocked = 0
        self.blocked = self.blocked_right = 0
        self.hard = self.hard_blocked = 0

    def add(self, label: str, hard: bool, blocked: bool) -> None:
        if label in FORBIDDEN_LABELS:
            self.forbidden += 1
            self.forbidden_blocked += blocked
        if blocked:
            self.blocked += 1
            self.blocked_right += label in FORBIDDEN_LABELS
        if hard:
            self.hard += 1
            self.hard_blocked += blocked

    def line(self, name: str) -> str:
        recall = self.forbidden_blocked / self.forbidden if self.forbidden else float("nan")
        precision = self.blocked_right / self.blocked if self.blocked else float("nan")
        hard = self.hard_blocked / self.hard if self.hard else float("nan")
        return (
            f"{name:22} block recall {recall:5.3f} ({self.forbidden_blocked}/{self.forbidden})"
            f"  block precision {precision:5.3f} ({self.blocked_right}/{self.blocked})"
            f"  hard negatives blocked {hard:5.3f} ({self.hard_blocked}/{self.hard})"
        )


def evaluate_prompts(rows: list[dict[str, Any]], decider: PolicyDecider) -> None:
    slices: dict[str, dict[str, Tally]] = {"overall": defaultdict(Tally), "shape": defaultdict(Tally)}
    slices["lang"], slices["style"] = defaultdict(Tally), defaultdict(Tally)
    confusion: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        for shape in ("plain", *SHAPES):
            call = shaped_call(shape, row["text"])
            verdict = decider.decide(call, Identity(principal="eval", tool=shape, session_id=f"{row['id']}:{shape}"))
            blocked = verdict.action is Decision.BLOCK
            hard = bool(row.get("hard_negative"))
            for kind, key in (("overall", "all"), ("shape", shape), ("lang", row["lang"]), ("style", row["style"])):
                slices[kind][key].add(row["label"], hard, blocked)
            if shape == "plain":
                confusion[(row["label"], verdict.label or "")] += 1
    for kind, tallies in slices.items():
        print(f"-- prompts by {kind}")
        for key in sorted(tallies):
            print(tallies[key].line(key))
    print("-- plain-text label, per label")
    for label in LABELS:
        truth = sum(count for (true, _), count in confusion.items() if true == label)
        predicted = sum(count for (_, guess), count in confusion.items() if guess == label)
        right = confusion[(label, label)]
        print(
            f"{label:26} precision {right / predicted if predicted else float('nan'):5.3f}"
            f"  recall {right / truth if truth else float('nan'):5.3f}  (n={truth})"
        )


def evaluate_sessions(rows: list[dict[str, Any]], decider: PolicyDecider) -> None:
    for shape in ("plain", "claude_code_history"):
        tally: Tally = Tally()
        by_lang: defaultdict[str, Tally] = defaultdict(Tally)
        for row in rows:
            turns = [turn if isinstance(turn, str) else str(turn.get("text", "")) for turn in row["turns"]]
            identity = Identity(principal="eval", tool=shape, session_id=f"{row['id']}:{shape}")
            blocked = False
            for number in range(1, len(turns) + 1):
                if shape == "plain":
                    call = CallView(vendor="text", endpoint="text", instruction=turns[number - 1])
                else:
                    call = _session_history_call(turns[:number])
                verdict = decider.decide(call, identity)
                if verdict.on_recorded is not None:
                    verdict.on_recorded(f"{row['id']}-{number}")
                blocked = blocked or verdict.action is Decision.BLOCK
            hard = bool(row.get("hard_negative"))
            tally.add(row["label"], hard, blocked)
            by_lang[row["lang"]].add(row["label"], hard, blocked)
        print(f"-- sessions as {shape} (a session counts as blocked when any of its calls is)")
        print(tally.line("all"))
        for lang in sorted(by_lang):
            print(by_lang[lang].line(lang))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", type=Path, default=ROOT / "tests" / "data" / "frozen_use_set")
    parser.add_argument("--policy", type=Path, default=None)
    args = parser.parse_args()
    prompts = [orjson.loads(line) for line in (args.set / "prompts.jsonl").read_bytes().splitlines() if line.strip()]
    sessions = [orjson.loads(line) for line in (args.set / "sessions.jsonl").read_bytes().splitlines() if line.strip()]
    evaluate_prompts(prompts, PolicyDecider(args.policy))
    evaluate_sessions(sessions, PolicyDecider(args.policy))


if __name__ == "__main__":
    main()
