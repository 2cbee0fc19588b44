"""Alert rules from YAML: the shipped file, every field, and each kind of mistake as one line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from proxy.alerts.rules import DEFAULT_RULES_FILE, SIGNALS, RulesError, load_rules, parse_rules

EXAMPLE = """
rules:
  - name: person-sweep
    signal: sweep
    threshold: 1.5
    scope: person
    cooldown: 6h
  - name: codex-datasets
    signal: dataset
    threshold: 2
    scope: tool
    tool: codex-cli
    cooldown: 30m
  - name: anything-scripted
    signal: scripted
    threshold: 1
"""


def test_the_shipped_rules_load_and_cover_every_signal() -> None:
    rules = load_rules()
    assert load_rules(None) == rules == load_rules(DEFAULT_RULES_FILE)
    assert {rule.signal for rule in rules} == set(SIGNALS)


def test_a_rules_file_with_every_field() -> None:
    sweep, datasets, scripted = parse_rules(EXAMPLE)
    assert (sweep.name, sweep.signal, sweep.threshold, sweep.scope, sweep.cooldown) == (
        "person-sweep",
        "sweep",
        1.5,
        "person",
        timedelta(hours=6),
    )
    assert (datasets.scope, datasets.tool, datasets.cooldown) == ("tool", "codex-cli", timedelta(minutes=30))
    assert (scripted.scope, scripted.tool, scripted.cooldown) == ("any", None, timedelta(hours=6))  # the defaults
    assert sweep.matches("sweep", "principal") and not sweep.matches("sweep", "team")
    assert not sweep.matches("volume", "principal")
    assert all(scripted.matches("scripted", kind) for kind in ("principal", "team", "group"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{name: a, signal: sweeps, threshold: 1}]", "rules[0] (a) signal: Input should be 'volume'"),
        ("rules: [{name: a, signal: sweep, threshold: -1}]", "rules[0] (a) threshold: Input should be greater"),
        ("rules: [{name: a, signal: sweep, threshold: .inf}]", "rules[0] (a) threshold: Value error, must be a finite"),
        ("rules: [{name: a, signal: sweep, threshold: 1, cooldown: 6 hours}]", "cooldown: Value error, must be a"),
        ("rules: [{name: a, signal: sweep, threshold: 1, cooldown: -5}]", "cooldown: Value error, must not be neg"),
        ("rules: [{name: a, signal: sweep, threshold: 1, scope: tool}]", "rules[0] (a): Value error, 'tool' is req"),
        ("rules: [{name: a, signal: sweep, threshold: 1, tool: x}]", "'tool' is required with scope: tool, and only"),
        ("rules: [{name: a, signal: sweep, threshold: 1, scope: people}]", "scope: Input should be 'person'"),
        ("rules: [{name: a, signal: sweep, threshold: 1, level: 3}]", "level: Extra inputs are not permitted"),
        ("rules: [{name: a, signal: sweep}]", "rules[0] (a) threshold: Field required"),
        ("rules:\n - {name: a, signal: sweep, threshold: 1}\n - {name: a, signal: dataset, threshold: 1}", "duplicate"),
        ("rules:\n  - name: [unclosed\n", "<rules>: line 3 YAML syntax"),
        ("- just a list", "must be a mapping with a 'rules' list"),
        ("", "must be a mapping with a 'rules' list"),
    ],
)
def test_each_mistake_is_one_line_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    error = str(caught.value)
    assert message in error, error
    assert "\n" not in error and error.startswith("alert rules <rules>:")


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"^alert rules .*nowhere\.yaml: cannot read: No such file"):
        load_rules(tmp_path / "nowhere.yaml")
