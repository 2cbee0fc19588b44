"""Explainable, weighted patterns over a bounded window of an instruction.

Each :class:`Rule` adds its weight to one label when its pattern occurs in the
window; negative weights are counter-evidence (the object of the request is
the harness, the data already exists, ...). Structural signals — requested
counts, dataset output formats, target directories — are rules too, so every
point of evidence is named in ``rule_hits``.

The window is the head and tail of the instruction: long pastes (logs, diffs)
sit in the middle, while the ask is usually at the start or the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVAL = "eval_task_generation"
TRAINING = "training_data_generation"
REDTEAM = "model_comparison_redteam"
REVIEW = "code_analysis_review"
UNIT_TESTS = "unit_test_generation"
DEBUGGING = "debugging"
CODE = "code_generation"
DOCS = "documentation"
OVERHEAD = "overhead"

# The labels the text classifier chooses between (overhead is structural only).
LABELS: tuple[str, ...] = (EVAL, TRAINING, REDTEAM, REVIEW, UNIT_TESTS, DEBUGGING, CODE, DOCS)

HEAD_CHARS = 3072
TAIL_CHARS = 1024
# Requested counts at or above this look like bulk generation.
BULK_COUNT = 20


def window(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """The bounded part of ``text`` that the classifier reads: its head and tail."""
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + text[-tail:]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    label: str
    weight: float
    # Substrings one of which every match contains: a cheap test that skips the regex.
    gate: tuple[str, ...]
    pattern: re.Pattern[str]  # over lower-cased text

    def fires(self, lowered: str) -> bool:
        if self.gate and not any(word in lowered for word in self.gate):
            return False
        return self.pattern.search(lowered) is not None


def _rule(name: str, label: str, weight: float, gate: tuple[str, ...], *alternatives: str) -> Rule:
    return Rule(name, label, weight, gate, re.compile("|".join(alternatives)))


# Verbs that ask for something to be produced.
_MAKE = (
    r"(?:generate|genrate|write|create|produce|make|author|build|draft|crank out|come up with"
    r"|synthesi[sz]e|give me|need)"
)
# What a model-evaluation or training artefact is made of.
_ITEMS = (
    r"(?:examples?|pairs?|samples?|problems?|tasks?|items?|instances?|prompts?|questions?|exercises?|"
    r"challenges?|puzzles?|conversations?|transcripts?|trajector(?:y|ies)|episodes?|rows?|traces?|"
    r"scenarios?|variants?|responses?|answers?|solutions?|diffs?|prs|snippets?|functions?|queries)"
)
# The object of the request is the eval/training machinery, not new content.
_MACHINERY = (
    r"(?:eval(?:uation)?\s+harness|harness|benchmark\s+runner|runner|grader|grading\s+script|scoring\s+module|"
    r"data\s*loader|loader|leaderboard|sandbox|pipeline|collator|tokeni[sz]er|exporter|writer|dashboard|"
    r"contamination\s+checker|reward\s+(?:function|service)|environment\s+(?:wrapper|base\s+class|api))"
)
_MACHINERY_WORDS = (
    "harness",
    "runner",
    "grad",
    "scoring",
    "loader",
    "leaderboard",
    "sandbox",
    "pipeline",
    "collator",
    "tokeni",
    "exporter",
    "writer",
    "dashboard",
    "checker",
    "reward",
    "environment",
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
_ERROR_WORDS = (
    r"traceback|exception|segfault|crash\w*|oom\w*|deadlock|hangs?|stuck|flaky|fails?|"
    r"failing|failed|broken|crashloopbackoff|timeout|time\s+out|nan|freezes|garbage|runs\s+out|drops|"
    r"goes\s+negative|takes\s+\d+\s*(?:s|h|hours|seconds|minutes)|\d+x\s+(?:lower|slower)|"
    r"(?:aren't|isn't|doesn't|don't|not)\s+(?:being|working|work|apply)"
)

RULES: tuple[Rule, ...] = (
    # --- eval task generation: problems + environment + hidden tests / grader
    _rule(
        "eval.hidden_tests",
        EVAL,
        1.0,
        ("hidden",),
        r"\bhidden\s+(?:[\w-]+\s+)?(?:tests?|test\s+(?:cases?|suites?|files?)|checks?|assertions?|cases)\b",
    ),
    _rule(
        "eval.make_hidden_tests",
        EVAL,
        1.0,
        ("hidden",),
        rf"\b{_MAKE}\b[^.\n]{{0,80}}\bhidden\b",
        r"\bhidden\s+(?:tests?|checks?|cases)\s+(?:for|\+|and|per|so)\b",
    ),
    _rule(
        "eval.swe_bench_instance",
        EVAL,
        1.5,
        ("swe", "fail_to_pass", "instance"),
        r"\bswe[- ]?bench(?:[- ]\w+)?[- ](?:style|like)\b",
        r"\bfail_to_pass\b",
        r"\b(?:task|eval|benchmark)\s+instances?\b",
    ),
    _rule(
        "eval.make_benchmark",
        EVAL,
        2.0,
        ("benchmark", "eval"),
        rf"\b{_MAKE}\b[^.\n]{{0,60}}\b(?:benchmark|eval(?:uation)?)\s+"
        r"(?:items?|tasks?|problems?|instances?|sets?|questions?)\b",
    ),
    _rule(
        "eval.for_evaluating_model",
        EVAL,
        1.5,
        ("eval", "benchmark", "score", "grade"),
        r"\b(?:to|for|can)\s+(?:eval(?:uat(?:e|ing))?|benchmark(?:ing)?|score|grade)\s+"
        r"(?:our|the|how|models?|llms?|code\s+models?|agents?|candidate|model)\b",
    ),
    _rule(
        "eval.for_model_eval",
        EVAL,
        1.0,
        ("eval",),
        r"\bfor\s+(?:the\s+|our\s+|a\s+)?(?:model|agent|llm|internal|held-out)\s+eval(?:uation)?\b",
        r"\bmodel\s+eval(?:uation)?\b",
    ),
    _rule(
        "eval.rl_environment",
        EVAL,
        1.5,
        ("env",),
        rf"\b{_MAKE}\b[^.\n]{{0,60}}\b(?:rl\s+env\w*|environments?|env\s+class|env\s+where)\b",
        r"\benvironments?\s+for\s+(?:rl|agent\s+training)\b",
        r"\brl_envs/\w+/",
    ),
    _rule(
        "eval.reward_function",
        EVAL,
        1.0,
        ("reward",),
        rf"\b(?:{_MAKE}|with)\b[^.\n]{{0,40}}\breward\b",
        r"\breward\s*(?:=|when|is\s+(?:\+|the|shaped))",
    ),
    _rule(
        "eval.grader",
        EVAL,
        1.0,
        ("grad", "checker", "verif", "check.sh", "answer", "rubric"),
        r"\b(?:grader|grading\s+(?:function|script|harness)|checker|verifier|verify\.py|check\.sh"
        r"|answer\s+keys?|rubrics?)\b",
    ),
    _rule(
        "eval.uncontaminated",
        EVAL,
        1.0,
        ("contamina", "internet", "held-out"),
        r"\b(?:uncontaminated|contamination-free|no\s+contamination|not\s+on\s+the\s+internet|held-out\s+eval)\b",
    ),
    _rule(
        "eval.agent_never_sees",
        EVAL,
        1.0,
        ("see", "leak", "guessable", "hidden"),
        r"\b(?:must\s+not|never|don'?t|do\s+not)\s+(?:see|leak|be\s+guessable)\b",
        r"\bkeep\s+the\s+hidden\b",
    ),
    _rule("eval.path", EVAL, 1.0, ("/",), r"(?:^|[\s`'\"(])(?:evals?|tasks|benchmarks|rl_envs|data/eval)/"),
    # --- training data generation: bulk pairs, traces, preference data, harvesting
    _rule(
        "train.sft",
        TRAINING,
        1.0,
        ("sft", "tun", "pretraining", "rlhf", "dpo"),
        r"\b(?:sft|fine-?tun(?:e|ing)|finetune|instruction[- ]tuning|pretraining|rlhf|dpo|preference[- ]tuning)\b",
    ),
    _rule(
        "train.training_data",
        TRAINING,
        1.5,
        ("train", "synthetic", "generation"),
        r"\btraining\s+(?:data(?:set)?|examples?|corpus|pairs?|samples?|set|mix)\b",
        r"\b(?:synthetic|training)\s+(?:corpus|dataset)\b",
        r"\bas\s+training\s+(?:data|pairs)\b",
        r"\b(?:we(?:'ll)?|to)\s+train\s+(?:on|our|a|the)\b",
        r"\btrain\.jsonl\b",
        r"\bdata\s+generation\s+script\b",
    ),
    _rule(
        "train.make_for_training",
        TRAINING,
        1.5,
        ("tun", "sft", "train", "distill", "rlhf"),
        rf"\b{_MAKE}\b[^.\n]{{0,120}}\b(?:for|as|into|to)\s+(?:the\s+|our\s+|a\s+)?(?:\w+\s+){{0,2}}?"
        r"(?:fine-?tun\w*|finetun\w*|sft|training|distillation|instruction\s+tuning|rlhf|preference\s+tuning"
        r"|pretraining)\b",
    ),
    _rule(
        "train.pairs",
        TRAINING,
        1.0,
        ("response", "completion", "answer", "qa", "q&a", "→"),
        r"\b(?:instruction|prompt|question)\s*[/→-]+\s*(?:response|completion|answer)\b",
        r"\b(?:q&a|qa)\s+pairs?\b",
        r"\b\w+\s*→\s*\w+\s+pairs\b",
    ),
    _rule(
        "train.preference",
        TRAINING,
        1.5,
        ("chosen", "preference"),
        r"\b(?:chosen\s*/\s*rejected|chosen\s+and\s+rejected|preference\s+(?:pairs?|data(?:set)?)"
        r"|chosen\s+response)\b",
    ),
    _rule("train.distill", TRAINING, 1.5, ("distill",), r"\bdistill(?:ation|ing|ed)?\b"),
    _rule(
        "train.reasoning_traces",
        TRAINING,
        1.0,
        ("trace", "thought", "cold"),
        r"\b(?:reasoning|solution|thinking)\s+traces?\b",
        r"\bchain[- ]of[- ]thought\b",
        r"\bcold[- ]start\b",
    ),
    _rule(
        "train.paraphrase",
        TRAINING,
        1.0,
        ("paraphrase", "rephrase", "rewrite", "words", "augment"),
        r"\b(?:paraphrase[ds]?|rephrase|rewrite\s+the\s+attached|in\s+your\s+own\s+words|augment(?:ation)?)\b",
    ),
    _rule(
        "train.harvest",
        TRAINING,
        1.5,
        ("every", "all", "each", "verbatim", "harvest"),
        r"\b(?:save|store|saves|stores|collect|dump)\w*\s+(?:every|all|each)\s+"
        r"(?:completion|answer|response|output)s?\b",
        r"\bkeep\s+your\s+answers\s+verbatim\b",
        r"\bharvest",
    ),
    _rule(
        "train.chat_formats",
        TRAINING,
        1.0,
        ("alpaca", "sharegpt", "instruct"),
        r"\b(?:alpaca|sharegpt|self-instruct|evol-instruct)\b",
    ),
    _rule(
        "train.path",
        TRAINING,
        1.0,
        ("data/", "s3://"),
        r"(?:^|[\s`'\"(])(?:data/(?:sft|distill|raw)|s3://[\w./-]*(?:sft|synthetic))",
    ),
    # --- structural: dataset formats support both blocking labels a little
    _rule("struct.jsonl_output", EVAL, 0.25, ("json", "parquet"), r"\b(?:jsonl|json\s+lines|parquet)\b"),
    _rule("struct.jsonl_output", TRAINING, 0.25, ("json", "parquet"), r"\b(?:jsonl|json\s+lines|parquet)\b"),
    # --- model comparison / red team / prompt extraction
    _rule(
        "redteam.system_prompt",
        REDTEAM,
        2.5,
        ("system", "developer", "initial", "hidden", "tool", "template", "instructions"),
        r"\b(?:system\s+prompt|developer\s+message|system[- ]reminder|initial\s+instructions"
        r"|hidden\s+(?:prompts?|instructions|chain-of-thought)|tool\s+schemas?|prompt\s+templates?)\b",
        r"\binstructions\s+(?:were\s+you|you\s+were)\s+given\b",
        r"\bignore\s+previous\s+instructions\b",
    ),
    _rule(
        "redteam.reveal",
        REDTEAM,
        1.0,
        ("verbatim", "word", "exactly", "copy", "reveal", "reverse"),
        r"\b(?:verbatim|word\s+for\s+word|exactly\s+as\s+provided|copy\s+paste\s+it|reveal"
        r"|reverse\s+engineer\w*)\b",
    ),
    _rule(
        "redteam.judge",
        REDTEAM,
        1.5,
        ("judge", "pairwise", "winner", "blind", "elo"),
        r"\b(?:llm-as-(?:a-)?judge|judge\s+(?:prompt|model|llm|which)|act\s+as\s+a\s+judge|pairwise\s+comparison"
        r"|pick\s+a\s+winner|declare\s+a\s+winner|blind\s+comparison|elo)\b",
    ),
    _rule(
        "redteam.vendors",
        REDTEAM,
        1.5,
        ("claude", "gpt", "gemini", "copilot", "anthropic", "openai", "competitor", "vendor", "provider"),
        r"\b(?:claude|gpt|gemini|copilot|anthropic|openai|competitor|vendors?|providers)\b[^.\n]{0,40}"
        r"\b(?:claude|gpt|gemini|copilot|anthropic|openai|competitor|vendors?|providers|side\s+by\s+side"
        r"|compare|against)\b",
    ),
    _rule(
        "redteam.compare",
        REDTEAM,
        1.0,
        ("compar", "head-to-head", "scorecard", "arena", "better", "weaker"),
        r"\b(?:compar\w+|head-to-head|scorecard|arena|which\s+(?:is|one\s+is)\s+better|weaker\s+than)\b",
    ),
    _rule(
        "redteam.jailbreak",
        REDTEAM,
        2.0,
        ("jailbreak", "injection", "red", "adversarial", "developer"),
        r"\b(?:jailbreak\w*|prompt[- ]injection|red[- ]team\w*|adversarial\s+prompts|developer\s+mode)\b",
    ),
    _rule(
        "redteam.agent_internals",
        REDTEAM,
        1.5,
        ("your", "agent", "how"),
        r"\b(?:your|the\s+agent'?s?)\s+(?:internal\s+)?(?:strategy|heuristics|tool-calling\s+loop|agent\s+loop"
        r"|planning\s+mode|thresholds|rules)\b",
        r"\bhow\s+(?:does\s+claude\s+code|you\s+decide)\b",
    ),
    # --- review / analysis
    _rule(
        "review.review",
        REVIEW,
        1.5,
        ("review", "audit", "assess", "analy"),
        r"^\W*(?:\w+\W+){0,3}?(?:review|audit|assess|analy[sz]e)\b",
        r"\b(?:code|security)\s+review\b",
        r"\breview\s+(?:this|my|the)\b",
    ),
    _rule(
        "review.explain",
        REVIEW,
        1.5,
        ("explain", "walk", "what", "tell", "is", "does", "overview"),
        r"\b(?:explain|walk\s+me\s+through|what\s+does|tell\s+me\s+(?:if|where|why|whether)|is\s+there\s+a"
        r"|is\s+(?:this|our|the)\s+\w+|does\s+(?:this|our)|overview)\b",
    ),
    _rule(
        "review.find_issues",
        REVIEW,
        1.0,
        ("look", "read", "go", "dead", "list"),
        r"\b(?:look\s+(?:at|over|through)|read\s+through|go\s+through|find\s+dead\s+code|list\s+every)\b",
    ),
    # --- unit tests for product code
    _rule(
        "tests.write_tests",
        UNIT_TESTS,
        2.0,
        ("test", "spec", "fixture"),
        r"\b(?:write|add|create|generate|need|cover)\w*\s+(?:some\s+)?(?:\w+[- ]){0,3}?"
        r"(?:(?:unit|integration|e2e|regression|snapshot|golden-file|property-based|hypothesis|table-driven"
        r"|bats)\s+)?(?:tests?|specs|test\s+cases|fixtures?)\b",
        r"^\s*tests?\s+for\b",
        r"\bunit\s+tests?\b",
    ),
    _rule(
        "tests.frameworks",
        UNIT_TESTS,
        1.0,
        ("test", "jest", "junit", "xunit", "rspec", "playwright", "hypothesis", "moto", "faker", "factory_boy", "bats"),
        r"\b(?:pytest|jest|vitest|junit|xunit|rspec|playwright|hypothesis|testclient|moto|faker|factory_boy"
        r"|bats)\b|#\[test\]",
    ),
    _rule(
        "tests.fixture_factory",
        UNIT_TESTS,
        1.0,
        ("fixture", "test"),
        r"\b(?:fixture|test\s+data)\s+(?:generator|factory|builder|set)\b",
        r"\bfixtures?\b",
    ),
    # --- debugging
    _rule("debug.error_text", DEBUGGING, 1.5, (), rf"\b(?:{_ERROR_WORDS})\b", r"error\b|error\["),
    _rule(
        "debug.ask_why",
        DEBUGGING,
        1.5,
        ("why", "what", "how", "help", "bug", "fix", "debug"),
        r"\b(?:why\s+(?:is|does|do|did)|what'?s\s+(?:wrong|leaking)|how\s+(?:do\s+i|to)\s+(?:fix|debug)"
        r"|help\s+me\s+(?:find|debug)|find\s+the\s+bug|fix\s+this|debug)\b",
    ),
    # --- code generation
    _rule(
        "code.implement",
        CODE,
        1.5,
        ("implement", "refactor", "port", "convert", "rename", "add", "build", "create", "write"),
        r"\b(?:implement|refactor|port|convert|rename|add\s+(?:a|an|support|retry|structured)|build\s+a"
        r"|create\s+a)\b",
        r"\bwrite\s+a\s+(?:\w+\s+){0,3}?(?:script|function|program|service|cli|endpoint|parser|component"
        r"|workflow|module|job|dockerfile|migration|manifest|dag)\b",
    ),
    _rule(
        "code.artifacts",
        CODE,
        0.5,
        (
            "endpoint",
            "component",
            "function",
            "class",
            "flag",
            "cli",
            "dockerfile",
            "terraform",
            "workflow",
            "service",
            "script",
            "migration",
        ),
        r"\b(?:endpoint|component|function|class|flag|cli|dockerfile|terraform|workflow|service|script"
        r"|migration)\b",
    ),
    # --- documentation
    _rule(
        "docs.write_docs",
        DOCS,
        2.0,
        (
            "readme",
            "doc",
            "runbook",
            "changelog",
            "contributing",
            "adr",
            "datasheet",
            "card",
            "postmortem",
            "guide",
            "openapi",
            "comments",
            "description",
            "write up",
        ),
        r"\b(?:readme|docstrings?|jsdoc|rustdoc|godoc|runbook|changelog|contributing|adr|docs?\s+page"
        r"|design\s+doc|datasheet|model\s+card|postmortem|onboarding\s+doc|migration\s+guide|openapi"
        r"|inline\s+comments|add\s+comments|api\s+docs|pr\s+description|write\s+up)\b",
    ),
    _rule(
        "docs.document",
        DOCS,
        1.5,
        ("document", "explain", "summary"),
        r"\bdocument(?:s|ation)?\b",
        r"\b(?:explain|summary)\b[^.\n]{0,40}\b(?:for|to)\s+(?:leadership|product\s+managers|new)\b",
    ),
    # --- counter-evidence against the blocking labels (hard negatives)
    _rule("neg.machinery_object", EVAL, -2.0, _MACHINERY_WORDS, _ABOUT_MACHINERY),
    _rule("neg.machinery_object", TRAINING, -2.0, _MACHINERY_WORDS, _ABOUT_MACHINERY),
    _rule("neg.existing_data", EVAL, -2.0, ("already", "existing", "do not", "don"), *_EXISTING),
    _rule("neg.existing_data", TRAINING, -2.0, ("already", "existing", "do not", "don"), *_EXISTING),
    _rule("neg.product_code", EVAL, -1.5, ("product", "local", "load", "tests"), *_PRODUCT),
    _rule("neg.product_code", TRAINING, -1.5, ("product", "local", "load", "tests"), *_PRODUCT),
)

# A number followed, within a few words, by the kind of thing generated in bulk ("500 pairs"),
# or a making verb followed by a number ("generate 2k"). Both start on something concrete
# (a digit, a verb) so the regex engine skips ahead instead of trying every position.
_COUNT_THEN_ITEMS = re.compile(rf"(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s*(k\b)?\s+(?:[\w-]+\s+){{0,4}}?{_ITEMS}\b")
_MAKE_THEN_COUNT = re.compile(rf"\b{_MAKE}\s+(?:like\s+)?~?(\d[\d,]*)\s*(k\b)?")
_DIGIT = re.compile(r"\d")


def requested_count(text: str) -> int:
    """The largest count of generated things the (lower-cased) text asks for, 0 if none."""
    if not _DIGIT.search(text):
        return 0
    best = 0
    for pattern in (_COUNT_THEN_ITEMS, _MAKE_THEN_COUNT):
        match = pattern.search(text)
        while match is not None:
            start = match.start()
            before = text[start - 1 : start] if pattern is _COUNT_THEN_ITEMS else ""
            if before.isalnum() or before in ("_", "."):
                # Part of a name or a version ("v2", "3.12"), not a count: look again just after it.
                match = pattern.search(text, start + 1)
                continue
            value = float(match.group(1).replace(",", ""))
            if match.group(2):
                value *= 1000
            best = max(best, int(value))
            match = pattern.search(text, match.end())
    return best


@dataclass(slots=True)
class RuleEvidence:
    """Per-label sums of the weights of the rules that fired, and their names."""

    scores: dict[str, float]
    hits: list[str]


def apply_rules(text: str) -> RuleEvidence:
    """Run every rule over the bounded window of ``text``."""
    span = window(text).lower()
    scores = dict.fromkeys(LABELS, 0.0)
    hits: list[str] = []
    for rule in RULES:
        if rule.fires(span):
            scores[rule.label] += rule.weight
            if not hits or hits[-1] != rule.name:  # a rule pair that weighs two labels
                hits.append(rule.name)
    count = requested_count(span)
    if count >= BULK_COUNT:
        # Bulk is evidence for the blocking labels only together with their own cues.
        for label in (EVAL, TRAINING):
            if scores[label] > 0:
                scores[label] += 1.0
        hits.append(f"struct.bulk_count:{count}")
    return RuleEvidence(scores, hits)
