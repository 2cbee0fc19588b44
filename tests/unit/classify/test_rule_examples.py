"""Every classifier rule fires on the examples it carries, and stays silent on its counter-examples.

The rules are run the way the classifier runs them (literal index, then anchored
search), so a broken pattern or a literal the index no longer finds fails here.
"""

from __future__ import annotations

import re

import pytest

from proxy.classify.rules import RULES, Rule, rule_evidence, window

BY_NAME = {rule.name: rule for rule in RULES}


def fires(rule: Rule, instruction: str) -> bool:
    return rule.name in rule_evidence(window(instruction).lower()).hits


def test_every_rule_has_a_unique_name_and_examples_both_ways() -> None:
    assert len(BY_NAME) == len(RULES)
    for rule in RULES:
        assert rule.matches and rule.misses, rule.name
        assert all(example == example.lower() for example in (*rule.matches, *rule.misses)), rule.name


@pytest.mark.parametrize("name", list(BY_NAME))
def test_rule_matches_its_examples_and_not_its_counter_examples(name: str) -> None:
    rule = BY_NAME[name]
    for example in rule.matches:
        assert fires(rule, example), f"{name} should fire on {example!r}"
    for example in rule.misses:
        assert not fires(rule, example), f"{name} should not fire on {example!r}"


@pytest.mark.parametrize("name", list(BY_NAME))
def test_the_examples_are_decided_by_the_rule_patterns(name: str) -> None:
    """The plain regular expressions agree with the indexed search on every example,
    so an example cannot pass through a quirk of the literal index."""
    rule = BY_NAME[name]
    for example in rule.matches:
        assert any(re.search(pattern.regex, example) for pattern in rule.patterns), example
    for example in rule.misses:
        assert not any(re.search(pattern.regex, example) for pattern in rule.patterns), example
