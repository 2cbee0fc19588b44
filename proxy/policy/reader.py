"""Reading a policy file: validated from its YAML node tree, so that every
error carries the line it is on (``provproxy policy check``)."""

from __future__ import annotations

import string
from collections.abc import Iterable
from pathlib import Path

import yaml

from proxy.classify.rules import LABELS, OVERHEAD
from proxy.durations import parse_duration
from proxy.events import Decision
from proxy.policy.model import Match, Policy, PolicyError, PolicyIssue, PolicyRule, Volume, VolumeCounter

TEMPLATE_FIELDS = frozenset({"rule", "label", "appeal", "principal", "tool", "evidence"})
# Claude Code replaces API errors containing these with its own texts (protocols §1.5).
FORBIDDEN_MESSAGE_PHRASES = ("x-api-key", "prompt is too long", "oauth token has been revoked", "credit balance")
STRENGTHS = ("strong", "weak")
KNOWN_LABELS = frozenset((*LABELS, OVERHEAD))


def load_policy(path: Path, counter: VolumeCounter | None = None) -> Policy:
    """Parse and validate a policy file; raises :class:`PolicyError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), [PolicyIssue(0, f"cannot read: {exc.strerror or exc}")]) from exc
    return parse_policy(text, str(path), counter)


def parse_policy(text: str, source: str = "<policy>", counter: VolumeCounter | None = None) -> Policy:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise PolicyError(source, [PolicyIssue(line, f"YAML syntax: {exc.problem or exc}")]) from exc
    reader = PolicyReader()
    policy = reader.policy(root, source)
    if reader.issues:
        raise PolicyError(source, reader.issues)
    assert policy is not None
    if counter is not None:
        policy.counter = counter
    return policy


class PolicyReader:
    """Builds a Policy from YAML nodes, collecting every issue with its line."""

    def __init__(self) -> None:
        self.issues: list[PolicyIssue] = []

    def fail(self, node: yaml.Node, message: str) -> None:
        self.issues.append(PolicyIssue(node.start_mark.line + 1, message))

    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str]) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what} must be a mapping")
            return None
        allowed = set(allowed)
        fields: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name not in allowed:
                self.fail(key, f"unknown key {name!r} in {what} (allowed: {', '.join(sorted(allowed))})")
            elif name in fields:
                self.fail(key, f"duplicate key {name!r} in {what}")
            else:
                fields[name] = value
        return fields

    def text(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value.strip():
            self.fail(node, f"{what} must be a non-empty string")
            return None
        return str(node.value)

    def integer(self, node: yaml.Node, what: str) -> int | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int" or int(node.value) < 0:
            self.fail(node, f"{what} must be a non-negative integer")
            return None
        return int(node.value)

    def strings(self, node: yaml.Node, what: str, choices: Iterable[str] | None = None) -> tuple[str, ...] | None:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        before = len(self.issues)
        values: list[str] = []
        for item in items:
            value = self.text(item, f"each entry of {what}")
            if value is None:
                continue
            if choices is not None and value not in choices:
                self.fail(item, f"unknown {what} value {value!r} (one of: {', '.join(sorted(choices))})")
                continue
            values.append(value)
        if not values and len(self.issues) == before:
            self.fail(node, f"{what} must not be empty")
        return tuple(values)

    def action(self, node: yaml.Node, what: str) -> Decision | None:
        value = self.text(node, what)
        if value is None:
            return None
        try:
            return Decision(value)
        except ValueError:
            self.fail(node, f"{what} must be one of allow, flag, block (got {value!r})")
            return None

    def template(self, node: yaml.Node, what: str) -> str | None:
        value = self.text(node, what)
        if value is None:
            return None
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            self.fail(node, f"{what}: bad template ({exc})")
            return None
        for _, name, spec, conversion in parsed:
            if name is not None and (name not in TEMPLATE_FIELDS or spec or conversion):
                self.fail(node, f"{what}: unknown placeholder {{{name}}} (use {', '.join(sorted(TEMPLATE_FIELDS))})")
        self.safe_for_clients(node, value, what)
        return value

    def safe_for_clients(self, node: yaml.Node, value: str, what: str) -> None:
        lowered = value.lower()
        for phrase in FORBIDDEN_MESSAGE_PHRASES:
            if phrase in lowered:
                self.fail(node, f"{what} must not contain {phrase!r} (clients replace such errors with their own text)")

    def window(self, node: yaml.Node) -> float | None:
        raw = node.value if isinstance(node, yaml.ScalarNode) else ""
        duration = parse_duration(raw, bare_unit="s")
        if not duration:
            self.fail(node, "volume window must be a positive duration such as 3600, 90s, 30m, 1h or 1d")
            return None
        return duration.total_seconds()

    def policy(self, root: yaml.Node | None, source: str) -> Policy | None:
        if root is None:
            self.issues.append(PolicyIssue(1, "empty policy file"))
            return None
        top = self.mapping(root, "the policy", ("version", "appeal", "default_action", "rules"))
        if top is None:
            return None
        if "version" in top and (version := self.integer(top["version"], "version")) not in (None, 1):
            self.fail(top["version"], f"unsupported policy version {version}")
        appeal = None
        if "appeal" in top and (appeal := self.text(top["appeal"], "appeal")) is not None:
            self.safe_for_clients(top["appeal"], appeal, "appeal")
        default_action = Decision.ALLOW
        if "default_action" in top:
            default_action = self.action(top["default_action"], "default_action") or Decision.ALLOW
        rules: list[PolicyRule] = []
        rules_node = top.get("rules")
        if rules_node is None:
            self.fail(root, "the policy needs a 'rules' list")
        elif not isinstance(rules_node, yaml.SequenceNode):
            self.fail(rules_node, "rules must be a list")
        else:
            seen: set[str] = set()
            for item in rules_node.value:
                rule = self.rule(item)
                if rule is None:
                    continue
                if rule.id in seen:
                    self.fail(item, f"duplicate rule id {rule.id!r}")
                seen.add(rule.id)
                rules.append(rule)
        return Policy(tuple(rules), default_action, appeal, source)

    def rule(self, node: yaml.Node) -> PolicyRule | None:
        fields = self.mapping(node, "a rule", ("id", "match", "volume", "action", "message"))
        if fields is None:
            return None
        if "id" not in fields or "action" not in fields:
            self.fail(node, "a rule needs an 'id' and an 'action'")
            return None
        before = len(self.issues)
        rule_id = self.text(fields["id"], "rule id")
        action = self.action(fields["action"], "action")
        match = self.match(fields["match"]) if "match" in fields else Match()
        volume = self.volume(fields["volume"]) if "volume" in fields else None
        message = self.template(fields["message"], "message") if "message" in fields else None
        if len(self.issues) > before or rule_id is None or action is None or match is None:
            return None
        return PolicyRule(rule_id, action, match, volume, message)

    def match(self, node: yaml.Node) -> Match | None:
        keys = ("labels", "strength", "principals", "teams", "tools", "vendors", "models", "side_call")
        fields = self.mapping(node, "match", keys)
        if fields is None:
            return None
        globs = {
            name: self.strings(fields[name], name)
            for name in ("principals", "teams", "tools", "vendors", "models")
            if name in fields
        }
        labels = self.strings(fields["labels"], "labels", KNOWN_LABELS) if "labels" in fields else None
        strength = self.strings(fields["strength"], "strength", STRENGTHS) if "strength" in fields else None
        side_call = None
        if "side_call" in fields:
            flag = fields["side_call"]
            if not isinstance(flag, yaml.ScalarNode) or flag.tag != "tag:yaml.org,2002:bool":
                self.fail(flag, "side_call must be true or false")
            else:
                side_call = flag.value.lower() in ("true", "yes", "on")
        return Match(
            labels=frozenset(labels) if labels is not None else None,
            strength=frozenset(strength) if strength is not None else None,
            side_call=side_call,
            **globs,
        )

    def volume(self, node: yaml.Node) -> Volume | None:
        fields = self.mapping(node, "volume", ("more_than", "window"))
        if fields is None:
            return None
        if "more_than" not in fields or "window" not in fields:
            self.fail(node, "volume needs 'more_than' and 'window'")
            return None
        more_than = self.integer(fields["more_than"], "volume more_than")
        window_s = self.window(fields["window"])
        if more_than is None or window_s is None:
            return None
        return Volume(more_than, window_s)
