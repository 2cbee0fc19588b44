"""The YAML use policy: its model (rules, rulings), its reader (validation with
line numbers) and its live source (reloaded on change; a broken edit keeps the
old policy running)."""

from __future__ import annotations

from proxy.policy.model import (
    Match,
    Policy,
    PolicyError,
    PolicyIssue,
    PolicyRule,
    PolicyRuling,
    Volume,
    VolumeCounter,
)
from proxy.policy.reader import FORBIDDEN_MESSAGE_PHRASES, load_policy, parse_policy
from proxy.policy.source import DEFAULT_POLICY_PATH, PolicySource

__all__ = [
    "DEFAULT_POLICY_PATH",
    "FORBIDDEN_MESSAGE_PHRASES",
    "Match",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PolicyRule",
    "PolicyRuling",
    "PolicySource",
    "Volume",
    "VolumeCounter",
    "load_policy",
    "parse_policy",
]
