"""The YAML policy: matchers, volume, messages, validation with line numbers, live reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.adapters.base import CallView
from proxy.classify import Classification
from proxy.events import Decision
from proxy.hooks import Identity
from proxy.policy import (
    DEFAULT_POLICY_PATH,
    FORBIDDEN_MESSAGE_PHRASES,
    PolicyError,
    PolicySource,
    load_policy,
    parse_policy,
)

STRICT_POLICY_PATH = DEFAULT_POLICY_PATH.with_name("strict.yaml")


def result(label: str = "code_generation", strength: str = "weak") -> Classification:
    return Classification(label, {label: 0.9}, ["some.rule"], strength)


def call(vendor: str = "anthropic", model: str | None = "claude-sonnet-4-5", side_call: str | None = None) -> CallView:
    return CallView(vendor=vendor, endpoint="messages", model=model, instruction="x", side_call=side_call)


def who(principal: str | None = "alice", team: str | None = "payments", tool: str = "claude-code") -> Identity:
    return Identity(principal=principal, team=team, tool=tool)


def one_rule(match: str, action: str = "block") -> str:
    return f"rules:\n  - id: r1\n    match: {match}\n    action: {action}\n"


def decide(
    policy_text: str, res: Classification | None = None, c: CallView | None = None, i: Identity | None = None
) -> tuple[Decision, str | None]:
    outcome = parse_policy(policy_text).decide(res or result(), c or call(), i or who(), "sec@example.com")
    return outcome.action, outcome.rule


# --- matchers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ("{labels: [debugging, documentation]}", {"res": result("debugging")}, {"res": result("code_generation")}),
        ("{strength: strong}", {"res": result(strength="strong")}, {"res": result(strength="weak")}),
        ("{principals: ['alice', 'svc-*']}", {"i": who("svc-ci")}, {"i": who("bob")}),
        ("{principals: ['*']}", {"i": who("bob")}, {"i": who(None)}),
        ("{teams: [ml-*]}", {"i": who(team="ml-research")}, {"i": who(team="payments")}),
        ("{tools: [codex*]}", {"i": who(tool="codex-cli")}, {"i": who(tool="claude-code")}),
        ("{vendors: [openai, gemini]}", {"c": call("gemini")}, {"c": call("anthropic")}),
        ("{models: ['claude-*-4-5']}", {"c": call(model="claude-haiku-4-5")}, {"c": call(model="gpt-5")}),
        ("{models: ['gpt-*']}", {"c": call(model="gpt-5.1-codex")}, {"c": call(model=None)}),
        ("{side_call: true}", {"c": call(side_call="title")}, {"c": call()}),
        ("{side_call: false}", {"c": call()}, {"c": call(side_call="router")}),
    ],
)
def test_each_matcher(match: str, hit: dict[str, object], miss: dict[str, object]) -> None:
    text = one_rule(match)
    assert decide(text, **hit) == (Decision.BLOCK, "r1")  # type: ignore[arg-type]
    assert decide(text, **miss) == (Decision.ALLOW, None)  # type: ignore[arg-type]


def test_all_conditions_of_a_match_must_hold_and_first_rule_wins() -> None:
    text = (
        "rules:\n"
        "  - id: ml-codex\n    match: {teams: [ml], tools: [codex]}\n    action: block\n"
        "  - id: ml\n    match: {teams: [ml]}\n    action: flag\n"
        "default_action: allow\n"
    )
    assert decide(text, i=who(team="ml", tool="codex")) == (Decision.BLOCK, "ml-codex")
    assert decide(text, i=who(team="ml", tool="claude-code")) == (Decision.FLAG, "ml")
    assert decide(text, i=who(team="web", tool="codex")) == (Decision.ALLOW, None)


def test_default_action_applies_when_nothing_matches() -> None:
    assert decide("default_action: flag\nrules: []\n") == (Decision.FLAG, None)


# --- volume --------------------------------------------------------------------------------------


def test_volume_rule_escalates_per_principal_within_the_window() -> None:
    policy = parse_policy(
        "rules:\n"
        "  - id: many\n    match: {labels: [model_comparison_redteam]}\n"
        "    volume: {more_than: 3, window: 1h}\n    action: block\n"
        "  - id: some\n    match: {labels: [model_comparison_redteam]}\n    action: flag\n"
    )
    redteam = result("model_comparison_redteam")

    def at(t: float, principal: str = "alice") -> str | None:
        return policy.decide(redteam, call(), who(principal), "x", now=t).rule

    assert [at(t) for t in (0, 10, 20)] == ["some", "some", "some"]
    assert at(30) == "many"  # the fourth call within the hour
    assert at(40, "bob") == "some"  # counted per principal
    assert at(3615) == "some"  # 0 and 10 slid out of the hour: 20, 30 and this one remain
    assert at(3616) == "many"  # 20, 30, 3615 and this one
    assert at(7300) == "some"  # the window has slid past them all
    # Calls of other labels do not count.
    assert policy.decide(result("debugging"), call(), who(), "x", now=7301).rule is None


# --- messages ------------------------------------------------------------------------------------


def test_block_message_names_the_rule_and_the_appeal_route() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    outcome = policy.decide(result("eval_task_generation", "strong"), call(), who(), "#ai-policy on Slack")
    assert outcome.action is Decision.BLOCK
    assert outcome.rule == "block-eval-task-generation"
    assert outcome.message is not None
    assert '"block-eval-task-generation"' in outcome.message
    assert "#ai-policy on Slack" in outcome.message
    assert "\n" not in outcome.message
    for phrase in FORBIDDEN_MESSAGE_PHRASES:
        assert phrase not in outcome.message.lower()


def test_message_template_variables_and_policy_appeal() -> None:
    policy = parse_policy(
        'appeal: "mail ai-policy@example.com"\n'
        "rules:\n  - id: r\n    action: block\n"
        '    message: "{rule}|{label}|{appeal}|{principal}|{tool}"\n'
    )
    outcome = policy.decide(result("debugging"), call(), who("carol", tool="gemini-cli"), "ignored")
    assert outcome.message == "r|debugging|mail ai-policy@example.com|carol|gemini-cli"


def test_flag_without_message_has_none() -> None:
    assert parse_policy(one_rule("{}", "flag")).decide(result(), call(), who(), "x").message is None


# --- shipped policies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "strength", "default", "strict"),
    [
        ("eval_task_generation", "strong", Decision.BLOCK, Decision.BLOCK),
        ("eval_task_generation", "weak", Decision.FLAG, Decision.FLAG),
        ("training_data_generation", "strong", Decision.BLOCK, Decision.BLOCK),
        ("training_data_generation", "weak", Decision.FLAG, Decision.FLAG),
        ("model_comparison_redteam", "strong", Decision.FLAG, Decision.FLAG),
        ("code_analysis_review", "weak", Decision.FLAG, Decision.BLOCK),
        ("unit_test_generation", "strong", Decision.ALLOW, Decision.FLAG),
        ("debugging", "strong", Decision.ALLOW, Decision.ALLOW),
        ("code_generation", "weak", Decision.ALLOW, Decision.ALLOW),
        ("documentation", "weak", Decision.ALLOW, Decision.ALLOW),
        ("overhead", "strong", Decision.ALLOW, Decision.ALLOW),
    ],
)
def test_shipped_policies(label: str, strength: str, default: Decision, strict: Decision) -> None:
    res = result(label, strength)
    assert load_policy(DEFAULT_POLICY_PATH).decide(res, call(), who(), "x").action is default
    assert load_policy(STRICT_POLICY_PATH).decide(res, call(), who(), "x").action is strict


def test_shipped_volume_block_counts_only_strong_model_comparison() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    weak = [policy.decide(result("model_comparison_redteam", "weak"), call(), who(), "x") for _ in range(40)]
    assert {o.action for o in weak} == {Decision.FLAG}
    strong = [policy.decide(result("model_comparison_redteam", "strong"), call(), who(), "x") for _ in range(40)]
    assert strong[29].action is Decision.FLAG and strong[30].action is Decision.BLOCK
    assert strong[30].rule == "block-model-comparison-at-volume"


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("rules:\n  - id: a\n    action: deny\n", 3, "allow, flag, block"),
        ("rules:\n  - id: a\n    action: block\n    match:\n      labels: [eval_tasks]\n", 5, "unknown labels value"),
        ("rules:\n  - id: a\n    action: block\n    match: {colour: red}\n", 4, "unknown key 'colour'"),
        ("rules:\n  - id: a\n    action: allow\n  - id: a\n    action: flag\n", 4, "duplicate rule id"),
        ("rules:\n  - id: a\n    action: block\n    message: 'see {who}'\n", 4, "unknown placeholder {who}"),
        ("rules:\n  - id: a\n    action: block\n    message: 'check your credit balance'\n", 4, "credit balance"),
        ("rules:\n  - id: a\n    action: block\n    volume: {more_than: 3, window: soon}\n", 4, "volume window"),
        ("rules:\n  - id: a\n    action: block\n    volume: {more_than: -1, window: 1h}\n", 4, "non-negative"),
        ("rules:\n  - id: a\n    action: block\n    match: {side_call: maybe}\n", 4, "side_call"),
        ("rules:\n  - action: block\n", 2, "needs an 'id'"),
        ("rules: {a: 1}\n", 1, "rules must be a list"),
        ("version: 1\n", 1, "needs a 'rules' list"),
        ("rules:\n  - id: a\n    action: [block\n", 4, "YAML syntax"),
        ("appeal: 'reset your x-api-key'\nrules: []\n", 1, "x-api-key"),
    ],
)
def test_invalid_policies_report_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert any(issue.line == line and fragment in issue.message for issue in caught.value.issues), caught.value


def test_every_issue_is_reported_at_once() -> None:
    text = "rules:\n  - id: a\n    action: nope\n  - id: b\n    action: block\n    match: {labels: [x]}\n"
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert [issue.line for issue in caught.value.issues] == [3, 6]


# --- live reload ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    stat = path.stat()  # make the change visible even within one mtime tick
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def test_reload_swaps_in_an_edited_file_and_keeps_the_old_one_when_broken(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    write(path, one_rule("{labels: [debugging]}", "flag"), 0)
    clock = Clock()
    source = PolicySource(path, check_interval_s=1.0, clock=clock)
    debugging = result("debugging")

    def action() -> Decision:
        return source.current().decide(debugging, call(), who(), "x").action

    assert action() is Decision.FLAG
    write(path, one_rule("{labels: [debugging]}", "block"), 1)
    clock.now = 0.5
    assert action() is Decision.FLAG  # not re-checked within the interval
    clock.now = 1.5
    assert action() is Decision.BLOCK

    write(path, "rules:\n  - id: r1\n    action: [oops\n", 2)
    clock.now = 3.0
    assert action() is Decision.BLOCK  # broken edit: the previous policy stays in force

    write(path, one_rule("{labels: [debugging]}", "allow"), 3)
    clock.now = 4.5
    assert action() is Decision.ALLOW  # a fixed file is picked up again


def test_a_broken_file_at_startup_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules: 3\n")
    with pytest.raises(PolicyError):
        PolicySource(path)


def test_without_a_file_the_shipped_default_is_used() -> None:
    assert PolicySource(None).path == DEFAULT_POLICY_PATH
