"""Counter-evidence against the blocking labels: the request is about the machinery, or the data exists.

Each rule carries examples it must match and must not (``tests/unit/classify/test_rule_examples.py``)."""

from __future__ import annotations

from proxy.classify.rules.base import EVAL, TRAINING, Rule, rule

# The object of the request is the eval/training machinery, not new content.
_MACHINERY = (
    r"(?:eval(?:uation)?\s+harness|harness|benchmark\s+runner|runner|grader|grading\s+script|scoring\s+module|"
    r"data\s*loader|loader|leaderboard|sandbox|pipeline|collator|tokeni[sz]er|exporter|writer|dashboard|"
    r"contamination\s+checker|reward\s+(?:function|service)|environment\s+(?:wrapper|base\s+class|api))"
)
_ABOUT_MACHINERY = (
    r"\b(?:tests?|docs?|docstrings?|readme|runbook|review|explain|debug|audit)\s+(?:\w+\s+){0,3}?"
    r"(?:for|of|in|on|to|at)\s+(?:\w+\s+){0,3}?(?:the\s+|our\s+|my\s+)?(?:\w+\s+){0,2}?" + _MACHINERY + r"\b"
)
_EXISTING = (
    r"\balready\s+(?:exist|written|prepared)",
    r"\b(?:our|the)\s+existing\s+(?:\w+\s+){0,2}(?:tasks?|instances?|benchmark|data(?:set)?|preference)",
    r"\bdata\s+already\s+exists",
    r"\bdo\s+not\s+(?:create|invent)\s+new",
    r"\bdon'?t\s+include\s+any\s+task",
)
_PRODUCT = (
    r"\bproduct\s+(?:code|tests)\b",
    r"\bfor\s+local\s+development\b",
    r"\bload[- ]test",
    r"\b(?:signup|checkout|search|api)\s+\w*\s*tests\b",
)

COUNTER_RULES: tuple[Rule, ...] = (
    # --- counter-evidence against the blocking labels (hard negatives)
    rule(
        "neg.machinery_object",
        (EVAL, TRAINING),
        -2.0,
        _ABOUT_MACHINERY,
        matches=("write tests for the eval harness",),
        misses=("write the eval harness",),
    ),
    rule(
        "neg.existing_data",
        (EVAL, TRAINING),
        -2.0,
        *_EXISTING,
        matches=("the data already exists",),
        misses=("the data is new",),
    ),
    rule(
        "neg.product_code",
        (EVAL, TRAINING),
        -1.5,
        *_PRODUCT,
        matches=("load-test the api",),
        misses=("load the test file",),
    ),
    rule(
        "neg.named_machinery",
        (EVAL, TRAINING),
        -1.0,
        r"\b(?:sft|dpo|training|eval|benchmark)\s+(?:data\s*loader|dataloader|loader|shards?|runner|harness"
        r"|collator|job)\b",
        matches=("fix the sft dataloader",),
        misses=("the sft data is ready",),
    ),
    rule(
        # Code that reads or serves existing data is code generation, whatever the data is for.
        "neg.code_over_the_data",
        (EVAL, TRAINING),
        -2.5,
        r"\b(?:data\s*loader|dataloader|dataset\s+class|iterabledataset|dataset\s+reader|collate\s+function"
        r"|sampler|data\s+pipeline|input\s+pipeline)\s+(?:\w+\s+){0,2}?(?:for|over|that\s+reads|to\s+(?:load|read|stream))"
        r"\s+(?:\w+\s+){0,2}?(?:our|the|my|existing)\b",
        matches=("write a pytorch data loader for our training data",),
        misses=("write a data loader",),
    ),
)
