"""Rules for ordinary engineering work: review, unit tests, debugging, code, documentation.

Each rule carries examples it must match and must not (``tests/unit/classify/test_rule_examples.py``)."""

from __future__ import annotations

from proxy.classify.rules.base import CODE, DEBUGGING, DOCS, REVIEW, UNIT_TESTS, Rule, rule

_ERROR_WORDS = (
    r"traceback|exception|segfault|crash\w*|oom\w*|deadlock|hangs?|stuck|flaky|fails?|"
    r"failing|failed|broken|crashloopbackoff|timeout|time\s+out|nan|freezes|garbage|runs\s+out|drops|"
    r"goes\s+negative|takes\s+\d+\s*(?:s|h|hours|seconds|minutes)|"
    r"(?:aren't|isn't|doesn't|don't|didn't|not)\s+(?:being|working|work|apply)|still\s+broken|off[- ]by[- ]one|"
    r"complains?|warnings?"
)

ORDINARY_RULES: tuple[Rule, ...] = (
    # --- review / analysis
    rule(
        "review.review",
        REVIEW,
        1.5,
        r"^\W*(?:\w+\W+){0,3}?(?:review|audit|assess|analy[sz]e)\b",
        r"\b(?:code|security)\s+(?:review|audit)\b",
        r"\breview\s+(?:this|my|the)\b",
        matches=("review this pr",),
        misses=("preview the page",),
    ),
    rule(
        "review.explain",
        REVIEW,
        1.5,
        # "why is this slow" / "why does this fail" ask about a fault: debug.ask_why, not an explanation.
        r"\b(?:explain|walk\s+me\s+through|what\s+does|tell\s+me\s+(?:if|where|why|whether)|is\s+there\s+a"
        r"|(?<!why\s)is\s+(?:this|our|the)\s+\w+|(?<!why\s)does\s+(?:this|our)|overview|time\s+complexity"
        r"|big-o)\b",
        matches=("explain this function",),
        misses=("why is this slow",),
    ),
    rule(
        "review.architecture",
        REVIEW,
        1.0,
        r"\b(?:architecture|structure|design|dependenc(?:y|ies))\s+of\s+(?:this|our|the)\s+"
        r"(?:repo(?:sitory)?|codebase|code|service|system|project|module|package|app)\b",
        r"\bwhich\s+modules?\s+(?:depends?|calls?|uses?|imports?)\b",
        matches=("explain the architecture of this repository",),
        misses=("change the design of the logo",),
    ),
    rule(
        "review.find_issues",
        REVIEW,
        1.0,
        r"\b(?:look\s+(?:at|over|through)|read\s+through|find\s+dead\s+code|list\s+every)\b",
        r"\bgo\s+through\b",
        matches=("look over the module",),
        misses=("look up the word",),
    ),
    # --- unit tests for product code
    rule(
        "tests.write_tests",
        UNIT_TESTS,
        2.0,
        r"\b(?:write|add|create|generate|need|cover)\w*\s+(?:some\s+)?(?:\w+[- ]){0,3}?"
        r"(?:(?:unit|integration|e2e|regression|snapshot|golden-file|property-based|hypothesis|table-driven"
        r"|bats)\s+)?(?:tests?|specs|test\s+cases|fixtures?)\b",
        r"^\s*tests?\s+for\b",
        r"\bunit\s+tests?\b",
        matches=("write unit tests for the parser",),
        misses=("the suite passes now",),
    ),
    rule(
        "tests.frameworks",
        UNIT_TESTS,
        1.0,
        r"\b(?:pytest|jest|vitest|junit|xunit|rspec|playwright|hypothesis|testclient|moto|faker|factory_boy"
        r"|bats)\b|#\[test\]",
        matches=("use pytest",),
        misses=("use unittest",),
    ),
    rule(
        "tests.fixture_factory",
        UNIT_TESTS,
        1.0,
        r"\b(?:fixture|test\s+data)\s+(?:generator|factory|builder|set)\b",
        r"\bfixtures?\b",
        matches=("a test data factory",),
        misses=("fix the typo",),
    ),
    # --- debugging
    rule(
        "debug.error_text",
        DEBUGGING,
        1.5,
        rf"\b(?:{_ERROR_WORDS})\b",
        r"\b\d+x\s+(?:lower|slower)\b",
        r"error\b|error\[",
        # A terse instruction that starts with "fix" names a fault ("fix the off-by-one in paginate()").
        r"^\W*(?:pls\s+|please\s+)?fix\b",
        matches=("it crashes on start",),
        misses=("it works great",),
    ),
    rule(
        "debug.ask_why",
        DEBUGGING,
        1.5,
        r"\b(?:why\s+(?:is|does|do|did)|what'?s\s+(?:wrong|leaking)|how\s+(?:do\s+i|to)\s+(?:fix|debug)"
        r"|help\s+me\s+(?:find|debug)|find\s+the\s+bug|fix\s+this|debug)\b",
        matches=("why does the build hang",),
        misses=("what does this do",),
    ),
    # --- code generation
    rule(
        "code.implement",
        CODE,
        1.5,
        r"\b(?:implement|refactor|port|convert|rename|add\s+(?:a|an|support|retry|structured)|build\s+a"
        r"|create\s+a)\b",
        r"\bwrite\s+a\s+(?:\w+\s+){0,3}?(?:script|function|program|service|cli|endpoint|parser|component"
        r"|workflow|module|job|dockerfile|migration|manifest|dag)\b",
        matches=("implement a cache",),
        misses=("the cache is implemented",),
    ),
    rule(
        "code.artifacts",
        CODE,
        0.5,
        r"\b(?:endpoint|component|function|class|flag|cli|dockerfile|terraform|workflow|service|script"
        r"|migration)\b",
        matches=("add an endpoint",),
        misses=("the endpoints list",),
    ),
    # --- documentation
    rule(
        "docs.write_docs",
        DOCS,
        2.0,
        r"\b(?:readme|docstrings?|jsdoc|rustdoc|godoc|runbook|changelog|contributing|adr|docs?\s+page"
        r"|design\s+doc|datasheet|model\s+card|postmortem|onboarding\s+doc|migration\s+guide|openapi"
        r"|inline\s+comments|add\s+comments|api\s+docs|write\s+up)\b",
        r"\bpr\s+description\b",
        matches=("update the readme",),
        misses=("read me the logs",),
    ),
    rule(
        "docs.document",
        DOCS,
        1.5,
        r"\bdocument(?:s|ation)?\b",
        r"\b(?:explain|summary)\b[^.\n]{0,40}\b(?:for|to)\s+(?:leadership|product\s+managers|new)\b",
        matches=("document the api",),
        misses=("it is documented",),
    ),
)
