"""Decisions from the YAML use policy.

A policy is an ordered list of rules; the first rule whose ``match`` (and, if
present, ``volume``) holds decides ``allow``, ``flag`` or ``block``. Calls no
rule matches get ``default_action``. The file is validated from its YAML node
tree, so every error carries the line it is on (``provproxy policy check``).

:class:`PolicySource` serves the current policy on the request path and swaps
in an edited file atomically; a broken edit keeps the old policy running.
"""

from __future__ import annotations

import string
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import structlog
import yaml

from proxy.adapters.base import CallView
from proxy.classify import Classification
from proxy.classify.rules import LABELS, OVERHEAD
from proxy.durations import parse_duration
from proxy.events import Decision
from proxy.hooks import Identity

log = structlog.get_logger(__name__)

DEFAULT_POLICY_PATH = Path(__file__).with_name("policies") / "default.yaml"

TEMPLATE_FIELDS = frozenset({"rule", "label", "appeal", "principal", "tool"})
# Claude Code replaces API errors containing these with its own texts (protocols §1.5).
FORBIDDEN_MESSAGE_PHRASES = ("x-api-key", "prompt is too long", "oauth token has been revoked", "credit balance")
DEFAULT_BLOCK_MESSAGE = (
    'Refused by the company AI-use policy, rule "{rule}": this request was classified as {label}. '
    'If this is ordinary engineering work, appeal to {appeal} and quote rule "{rule}".'
)
STRENGTHS = ("strong", "weak")
KNOWN_LABELS = frozenset((*LABELS, OVERHEAD))
# Volume counters kept at most for this many (rule, principal) pairs.
MAX_VOLUME_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class PolicyError(ValueError):
    """A policy file that cannot be used, with every issue found in it."""

    def __init__(self, source: str, issues: list[PolicyIssue]) -> None:
        self.source = source
        self.issues = issues
        super().__init__(f"{source}: " + "; ".join(str(issue) for issue in issues))


@dataclass(frozen=True, slots=True)
class Match:
    labels: frozenset[str] | None = None
    strength: frozenset[str] | None = None
    principals: tuple[str, ...] | None = None
    teams: tuple[str, ...] | None = None
    tools: tuple[str, ...] | None = None
    vendors: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    side_call: bool | None = None

    def holds(self, result: Classification, call: CallView, identity: Identity) -> bool:
        return (
            (self.labels is None or result.label in self.labels)
            and (self.strength is None or result.strength in self.strength)
            and _globs(self.principals, identity.principal)
            and _globs(self.teams, identity.team)
            and _globs(self.tools, identity.tool)
            and _globs(self.vendors, call.vendor)
            and _globs(self.models, call.model)
            and (self.side_call is None or (call.side_call is not None) == self.side_call)
        )


def _globs(patterns: tuple[str, ...] | None, value: str | None) -> bool:
    if patterns is None:
        return True
    return value is not None and any(fnmatchcase(value, pattern) for pattern in patterns)


@dataclass(frozen=True, slots=True)
class Volume:
    """The rule applies once a principal made more than ``more_than`` matching
    calls within the last ``window_s`` seconds (this call included)."""

    more_than: int
    window_s: float


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    action: Decision
    match: Match = field(default_factory=Match)
    volume: Volume | None = None
    message: str | None = None


class VolumeCounter:
    """Sliding-window call counts per (rule, principal), bounded in keys and length."""

    def __init__(self, max_keys: int = MAX_VOLUME_KEYS) -> None:
        self._max_keys = max_keys
        self._windows: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, rule_id: str, principal: str, volume: Volume, now: float) -> int:
        """Record one call and return the count in the window, capped at ``more_than + 1``."""
        key = (rule_id, principal)
        with self._lock:
            stamps = self._windows.get(key)
            if stamps is None:
                # Only whether the threshold is passed matters, so keep that many stamps.
                stamps = self._windows[key] = deque(maxlen=volume.more_than + 1)
                if len(self._windows) > self._max_keys:
                    self._windows.popitem(last=False)
            else:
                self._windows.move_to_end(key)
            horizon = now - volume.window_s
            while stamps and stamps[0] <= horizon:
                stamps.popleft()
            stamps.append(now)
            return len(stamps)


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Decision
    rule: str | None
    message: str | None


@dataclass(slots=True)
class Policy:
    rules: tuple[Rule, ...]
    default_action: Decision = Decision.ALLOW
    appeal: str | None = None
    source: str = "<policy>"
    counter: VolumeCounter = field(default_factory=VolumeCounter)

    def decide(
        self,
        result: Classification,
        call: CallView,
        identity: Identity,
        appeal_default: str,
        now: float | None = None,
    ) -> Outcome:
        for rule in self.rules:
            if not rule.match.holds(result, call, identity):
                continue
            if rule.volume is not None:
                moment = time.monotonic() if now is None else now
                count = self.counter.add(rule.id, identity.principal or "anonymous", rule.volume, moment)
                if count <= rule.volume.more_than:
                    continue
            return Outcome(rule.action, rule.id, self._message(rule, result, identity, appeal_default))
        return Outcome(self.default_action, None, None)

    def _message(self, rule: Rule, result: Classification, identity: Identity, appeal_default: str) -> str | None:
        template = rule.message
        if template is None:
            if rule.action is not Decision.BLOCK:
                return None
            template = DEFAULT_BLOCK_MESSAGE
        values = {
            "rule": rule.id,
            "label": result.label,
            "appeal": self.appeal or appeal_default,
            "principal": identity.principal or "unknown",
            "tool": identity.tool,
        }
        return " ".join(template.format_map(values).split())


# --------------------------------------------------------------------------- loading


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
    reader = _Reader()
    policy = reader.policy(root, source)
    if reader.issues:
        raise PolicyError(source, reader.issues)
    assert policy is not None
    if counter is not None:
        policy.counter = counter
    return policy


class _Reader:
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
        rules: list[Rule] = []
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

    def rule(self, node: yaml.Node) -> Rule | None:
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
        return Rule(rule_id, action, match, volume, message)

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


# --------------------------------------------------------------------------- live source


class PolicySource:
    """The policy in force, reloaded when its file changes.

    ``current()`` is called on the request path: it stats the file at most once
    per ``check_interval_s`` and swaps the new policy in with one assignment,
    so concurrent calls see either the old or the new policy, never a mix. A
    file that fails to parse is logged and skipped until it changes again.
    """

    def __init__(
        self,
        path: Path | None = None,
        appeal_default: str = "your security team",
        check_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path or DEFAULT_POLICY_PATH
        self.appeal_default = appeal_default
        self._interval = check_interval_s
        self._clock = clock
        self._counter = VolumeCounter()
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._policy = load_policy(self.path, self._counter)  # a broken file at startup is fatal
        self._next_check = clock() + check_interval_s

    @classmethod
    def from_settings(cls, settings: object) -> PolicySource:
        return cls(getattr(settings, "policy_file", None), getattr(settings, "appeal_contact", "your security team"))

    def current(self) -> Policy:
        now = self._clock()
        if now >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = now + self._interval
                self._reload_if_changed()
            finally:
                self._lock.release()
        return self._policy

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _reload_if_changed(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            policy = load_policy(self.path, self._counter)
        except PolicyError as exc:
            log.error("policy.reload_failed", path=str(self.path), issues=[str(i) for i in exc.issues])
            return
        self._policy = policy
        log.info("policy.reloaded", path=str(self.path), rules=len(policy.rules))
