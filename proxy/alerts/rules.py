"""Alert rules, read from YAML and validated with pydantic.

A rule names a signal, a score threshold, the scope it watches and a cooldown::

    rules:
      - name: person-prompt-sweep
        signal: sweep
        threshold: 0.8
        scope: person          # person | team | group | tool | any
        cooldown: 6h

``scope: tool`` (with ``tool: <name>``) watches hits of every scope whose evidence includes a
call made with that tool. A broken file is one :class:`RulesError` whose message is one line.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxy.durations import parse_duration

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.yaml")
# The signals proxy/signals computes; a rule on any other name is a typo, refused at start.
Signal = Literal["volume", "sweep", "reasoning", "dataset", "evasion", "scripted", "coordination"]
SIGNALS: tuple[str, ...] = get_args(Signal)
Scope = Literal["person", "team", "group", "tool", "any"]
# A rule's scope → the signal hits' scope_kind it matches (None: every kind).
SCOPE_KINDS: dict[str, str | None] = {
    "person": "principal",
    "team": "team",
    "group": "group",
    "tool": None,
    "any": None,
}


class RulesError(ValueError):
    """A rules file that cannot be used; ``str()`` is one line naming the file and the problem."""


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=255, pattern=r"^[\w.:@+-]+$")
    signal: Signal
    threshold: float = Field(ge=0)
    scope: Scope = "any"
    tool: str | None = Field(default=None, min_length=1, max_length=255)
    cooldown: timedelta = timedelta(hours=6)

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            parsed = parse_duration(value.strip())
            if parsed is None:
                raise ValueError("must be a duration like 90s, 15m, 6h, 1d")
            return parsed
        return value

    @field_validator("cooldown")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @model_validator(mode="after")
    def _tool_with_tool_scope(self) -> AlertRule:
        if (self.scope == "tool") != (self.tool is not None):
            raise ValueError("'tool' is required with scope: tool, and only there")
        return self

    def matches(self, signal: str, scope_kind: str) -> bool:
        """Whether a hit of ``signal`` on ``scope_kind`` is this rule's (the tool is checked apart)."""
        wanted = SCOPE_KINDS[self.scope]
        return signal == self.signal and (wanted is None or wanted == scope_kind)


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule]

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule names: {', '.join(duplicates)}")
        return self


def load_rules(path: Path | None = None) -> list[AlertRule]:
    """The rules of ``path`` (the shipped defaults when None); raises :class:`RulesError`."""
    path = path or DEFAULT_RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"alert rules {path}: cannot read: {exc.strerror or exc}") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "<rules>") -> list[AlertRule]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not YAML"
        raise RulesError(f"alert rules {source}:{where} YAML syntax: {problem}") from None
    if not isinstance(document, dict):
        raise RulesError(f"alert rules {source}: must be a mapping with a 'rules' list")
    try:
        return RuleSet.model_validate(document).rules
    except ValidationError as exc:
        raise RulesError(f"alert rules {source}: {_one_line(exc, document)}") from None


def _one_line(exc: ValidationError, document: object) -> str:
    """Every problem on one line, each at its place (``rules[2] (name) threshold: …``)."""
    problems = []
    for error in exc.errors():
        where = _place(error["loc"], document)
        problems.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(problems)


def _place(loc: tuple[int | str, ...], document: object) -> str:
    rules = document.get("rules") if isinstance(document, dict) else None
    text = ""
    for item in loc:
        if isinstance(item, str):
            text += f" {item}" if text else item
            continue
        text += f"[{item}]"
        if isinstance(rules, list) and item < len(rules) and isinstance(rules[item], dict):
            name = rules[item].get("name")
            text += f" ({name})" if isinstance(name, str) else ""
    return text
