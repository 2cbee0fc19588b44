"""Explainable, weighted patterns over a bounded window of an instruction.

Each :class:`Rule` adds its weight to a label when one of its patterns occurs
in the window; negative weights are counter-evidence (the object of the request is
the harness, the data already exists, ...). Structural signals — requested
counts, dataset output formats, target directories — are rules too, so every
point of evidence is named in ``rule_hits``.

The window is the head and tail of the instruction: long pastes (logs, diffs)
sit in the middle, while the ask is usually at the start or the end. Each
pattern is searched only around the literal words every match of it contains
(:mod:`proxy.classify.anchored`), so a rule whose words are absent costs a few
``str.find`` calls, however long the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.classify.anchored import AnchoredPattern, Found, LiteralIndex

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
# Ordinary work that no policy needs to see; the rest is blocked or flagged by the default policy.
BENIGN_LABELS: tuple[str, ...] = (UNIT_TESTS, DEBUGGING, CODE, DOCS)
SENSITIVE_LABELS: tuple[str, ...] = tuple(label for label in LABELS if label not in BENIGN_LABELS)
# The uses the vendors' terms forbid: what the default policy blocks.
FORBIDDEN_LABELS: tuple[str, ...] = (EVAL, TRAINING)

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
    weights: tuple[tuple[str, float], ...]  # (label, weight): most rules weigh one label
    patterns: tuple[AnchoredPattern, ...]  # alternatives, over lower-cased text


def _rule(name: str, label: str | tuple[str, ...], weight: float, *alternatives: str) -> Rule:
    labels = (label,) if isinstance(label, str) else label
    return Rule(name, tuple((each, weight) for each in labels), tuple(map(AnchoredPattern.compile, alternatives)))


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
    r"goes\s+negative|takes\s+\d+\s*(?:s|h|hours|seconds|minutes)|"
    r"(?:aren't|isn't|doesn't|don't|didn't|not)\s+(?:being|working|work|apply)|still\s+broken|off[- ]by[- ]one|"
    r"complains?|warnings?"
)

RULES: tuple[Rule, ...] = (
    # --- eval task generation: problems + environment + hidden tests / grader
    _rule(
        "eval.hidden_tests",
        EVAL,
        1.0,
        r"\bhidden\s+(?:[\w-]+\s+)?(?:tests?|test\s+(?:cases?|suites?|files?)|checks?|assertions?|cases)\b",
    ),
    _rule(
        "eval.make_hidden_tests",
        EVAL,
        1.0,
        rf"\b{_MAKE}\b[^.\n]{{0,80}}\bhidden\b",
        r"\bhidden\s+(?:tests?|checks?|cases)\s+(?:for|\+|and|per|so)\b",
    ),
    _rule(
        "eval.swe_bench_instance",
        EVAL,
        1.5,
        r"\bswe[- ]?bench(?:[- ]\w+)?[- ](?:style|like)\b",
        r"\bswe[- ]?bench\s+(?:instances?|tasks?|items?)\b",
        r"\bfail_to_pass\b",
        r"\b(?:task|eval|benchmark)\s+instances?\b",
    ),
    _rule(
        "eval.make_benchmark",
        EVAL,
        2.0,
        rf"\b{_MAKE}\b[^.\n]{{0,60}}\b(?:benchmark|eval(?:uation)?)\s+"
        r"(?:items?|tasks?|problems?|instances?|sets?|questions?)\b",
    ),
    _rule(
        "eval.for_evaluating_model",
        EVAL,
        1.5,
        r"\b(?:to|for|can)\s+(?:eval(?:uat(?:e|ing))?|benchmark(?:ing)?|score|grade)\s+"
        r"(?:our|the|how|models?|llms?|code\s+models?|agents?|candidate|model)\b",
    ),
    _rule(
        "eval.for_model_eval",
        EVAL,
        1.0,
        r"\bfor\s+(?:the\s+|our\s+|a\s+)?(?:model|agent|llm|internal|held-out)\s+eval(?:uation)?\b",
        r"\bmodel\s+eval(?:uation)?\b",
    ),
    _rule(
        "eval.rl_environment",
        EVAL,
        1.5,
        rf"\b{_MAKE}\b[^.\n]{{0,60}}\b(?:rl\s+env\w*|environments?|env\s+class|env\s+where)\b",
        r"\benvironments?\s+for\s+(?:rl|agent\s+training)\b",
        r"\brl_envs/\w+/",
    ),
    _rule(
        "eval.reward_function",
        EVAL,
        1.0,
        rf"\b(?:{_MAKE}|with)\b[^.\n]{{0,40}}\breward\b",
        r"\breward\s*(?:=|when|is\s+(?:\+|the|shaped))",
    ),
    _rule(
        "eval.grader",
        EVAL,
        1.0,
        r"\b(?:grader|grading\s+(?:function|script|harness)|checker|verifier|verify\.py|check\.sh"
        r"|answer\s+keys?|rubrics?)\b",
    ),
    _rule(
        "eval.uncontaminated",
        EVAL,
        1.0,
        r"\b(?:uncontaminated|contamination-free|held-out\s+eval)\b",
        r"\bno\s+contamination\b",
        r"\bnot\s+on\s+the\s+internet\b",
    ),
    _rule(
        "eval.agent_never_sees",
        EVAL,
        1.0,
        r"\b(?:must\s+not|never|don'?t)\s+(?:see|leak|be\s+guessable)\b",
        r"\bdo\s+not\s+(?:see|leak|be\s+guessable)\b",
        r"\bkeep\s+the\s+hidden\b",
    ),
    _rule(
        "eval.other_languages",
        EVAL,
        1.5,
        r"\b(?:tareas|problemas|ejercicios)\s+de\s+evaluaci[oó]n\b",
        r"\b(?:tests|pruebas)\s+ocultos\b",
        r"\b(?:t[aâ]ches|exercices)\s+d'[ée]valuation\b",
        r"\btests\s+cach[ée]s\b",
        r"\b(?:versteckte|geheime)\s+tests\b",
        r"\bevaluierungs(?:aufgaben|daten)\b",
    ),
    _rule("eval.path", EVAL, 1.0, r"(?:^|[\s`'\"(])(?:evals?|tasks|benchmarks|rl_envs|data/eval)/"),
    # --- training data generation: bulk pairs, traces, preference data, harvesting
    _rule(
        "train.sft",
        TRAINING,
        1.0,
        r"\b(?:sft|fine-?tun(?:e|ing)|finetune|instruction[- ]tuning|pretraining|rlhf|dpo|preference[- ]tuning)\b",
    ),
    _rule(
        "train.training_data",
        TRAINING,
        1.5,
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
        rf"\b{_MAKE}\b[^.\n]{{0,120}}\b(?:for|as|into|to)\s+(?:the\s+|our\s+|a\s+)?(?:\w+\s+){{0,2}}?"
        r"(?:fine-?tun\w*|finetun\w*|sft|training|distillation|instruction\s+tuning|rlhf|preference\s+tuning"
        r"|pretraining)\b",
    ),
    _rule(
        "train.pairs",
        TRAINING,
        1.0,
        r"\b(?:instruction|prompt|question)\s*[/→-]+\s*(?:response|completion|answer)\b",
        r"\b(?:q&a|qa)\s+pairs?\b",
        r"\b\w+\s*→\s*\w+\s+pairs\b",
    ),
    _rule(
        "train.preference",
        TRAINING,
        1.5,
        r"\b(?:chosen\s*/\s*rejected|chosen\s+and\s+rejected|preference\s+(?:pairs?|data(?:set)?)"
        r"|chosen\s+response)\b",
    ),
    _rule("train.distill", TRAINING, 1.5, r"\bdistill(?:ation|ing|ed)?\b"),
    _rule(
        "train.reasoning_traces",
        TRAINING,
        1.0,
        r"\b(?:reasoning|solution|thinking)\s+traces?\b",
        r"\bchain[- ]of[- ]thought\b",
        r"\bcold[- ]start\b",
    ),
    _rule(
        "train.paraphrase",
        TRAINING,
        1.0,
        r"\b(?:paraphrase[ds]?|rephrase|rewrite\s+the\s+attached|augment(?:ation)?)\b",
        r"\bin\s+your\s+own\s+words\b",
    ),
    _rule(
        "train.harvest",
        TRAINING,
        1.5,
        r"\b(?:save|store|saves|stores|collect|dump)\w*\s+(?:every|all|each)\s+"
        r"(?:completion|answer|response|output)s?\b",
        r"\bkeep\s+your\s+answers\s+verbatim\b",
        r"\bharvest",
    ),
    _rule(
        "train.other_languages",
        TRAINING,
        1.5,
        r"\b(?:datos|ejemplos|pares)\s+de\s+entrenamiento\b",
        r"\btrainings(?:daten|beispiele|paare)\b",
        r"\b(?:donn[ée]es|exemples|paires)\s+d'entra[iî]nement\b",
    ),
    _rule(
        "train.chat_formats",
        TRAINING,
        1.0,
        r"\b(?:alpaca|sharegpt|self-instruct|evol-instruct)\b",
    ),
    _rule(
        "train.path",
        TRAINING,
        1.0,
        r"(?:^|[\s`'\"(])(?:data/(?:sft|distill|raw)|s3://[\w./-]*(?:sft|synthetic))",
    ),
    # --- structural: dataset formats support both blocking labels a little
    _rule("struct.jsonl_output", (EVAL, TRAINING), 0.25, r"\b(?:jsonl|json\s+lines|parquet)\b"),
    # --- model comparison / red team / prompt extraction
    _rule(
        "redteam.system_prompt",
        REDTEAM,
        2.5,
        r"\b(?:system\s+prompt|developer\s+message|system[- ]reminder|initial\s+instructions"
        r"|hidden\s+(?:prompts?|instructions|chain-of-thought)|tool\s+schemas?|prompt\s+templates?)\b",
        r"\binstructions\s+(?:were\s+you|you\s+were)\s+given\b",
        r"\bignore\s+previous\s+instructions\b",
    ),
    _rule(
        "redteam.reveal",
        REDTEAM,
        1.0,
        r"\b(?:verbatim|word\s+for\s+word|exactly\s+as\s+provided|copy\s+paste\s+it|reveal"
        r"|reverse\s+engineer\w*)\b",
    ),
    _rule(
        "redteam.judge",
        REDTEAM,
        1.5,
        r"\b(?:llm-as-(?:a-)?judge|judge\s+(?:prompt|model|llm|which)|act\s+as\s+a\s+judge|pairwise\s+comparison"
        r"|pick\s+a\s+winner|declare\s+a\s+winner|blind\s+comparison|elo)\b",
    ),
    _rule(
        "redteam.vendors",
        REDTEAM,
        1.5,
        r"\b(?:claude|gpt|gemini|copilot|anthropic|openai|competitor|vendors?|providers)\b[^.\n]{0,40}"
        r"\b(?:claude|gpt|gemini|copilot|anthropic|openai|competitor|vendors?|providers|side\s+by\s+side"
        r"|compare|against)\b",
    ),
    _rule(
        "redteam.compare",
        REDTEAM,
        1.0,
        r"\b(?:compar\w+|head-to-head|scorecard|arena|which\s+(?:is|one\s+is)\s+better|weaker\s+than)\b",
        r"\b(?:against|versus|vs\.?)\s+(?:claude|gpt|gemini|copilot|codex|cursor)\b",
    ),
    _rule(
        "redteam.jailbreak",
        REDTEAM,
        2.0,
        r"\b(?:jailbreak\w*|prompt[- ]injection|red[- ]team\w*|adversarial\s+prompts|developer\s+mode)\b",
        r"\btrick\s+(?:a|an|the)\s+(?:\w+\s+)?(?:agent|model|assistant|llm)\b",
    ),
    _rule(
        "redteam.agent_internals",
        REDTEAM,
        1.5,
        r"\b(?:your|the\s+agent'?s?)\s+(?:internal\s+)?(?:strategy|heuristics|tool-calling\s+loop|agent\s+loop"
        r"|planning\s+mode|thresholds|rules)\b",
        r"\bhow\s+(?:does\s+claude\s+code|you\s+decide)\b",
    ),
    # --- review / analysis
    _rule(
        "review.review",
        REVIEW,
        1.5,
        r"^\W*(?:\w+\W+){0,3}?(?:review|audit|assess|analy[sz]e)\b",
        r"\b(?:code|security)\s+(?:review|audit)\b",
        r"\breview\s+(?:this|my|the)\b",
    ),
    _rule(
        "review.explain",
        REVIEW,
        1.5,
        # "why is this slow" / "why does this fail" ask about a fault: debug.ask_why, not an explanation.
        r"\b(?:explain|walk\s+me\s+through|what\s+does|tell\s+me\s+(?:if|where|why|whether)|is\s+there\s+a"
        r"|(?<!why\s)is\s+(?:this|our|the)\s+\w+|(?<!why\s)does\s+(?:this|our)|overview|time\s+complexity"
        r"|big-o)\b",
    ),
    _rule(
        "review.find_issues",
        REVIEW,
        1.0,
        r"\b(?:look\s+(?:at|over|through)|read\s+through|find\s+dead\s+code|list\s+every)\b",
        r"\bgo\s+through\b",
    ),
    # --- unit tests for product code
    _rule(
        "tests.write_tests",
        UNIT_TESTS,
        2.0,
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
        r"\b(?:pytest|jest|vitest|junit|xunit|rspec|playwright|hypothesis|testclient|moto|faker|factory_boy"
        r"|bats)\b|#\[test\]",
    ),
    _rule(
        "tests.fixture_factory",
        UNIT_TESTS,
        1.0,
        r"\b(?:fixture|test\s+data)\s+(?:generator|factory|builder|set)\b",
        r"\bfixtures?\b",
    ),
    # --- debugging
    _rule(
        "debug.error_text",
        DEBUGGING,
        1.5,
        rf"\b(?:{_ERROR_WORDS})\b",
        r"\b\d+x\s+(?:lower|slower)\b",
        r"error\b|error\[",
        # A terse instruction that starts with "fix" names a fault ("fix the off-by-one in paginate()").
        r"^\W*(?:pls\s+|please\s+)?fix\b",
    ),
    _rule(
        "debug.ask_why",
        DEBUGGING,
        1.5,
        r"\b(?:why\s+(?:is|does|do|did)|what'?s\s+(?:wrong|leaking)|how\s+(?:do\s+i|to)\s+(?:fix|debug)"
        r"|help\s+me\s+(?:find|debug)|find\s+the\s+bug|fix\s+this|debug)\b",
    ),
    # --- code generation
    _rule(
        "code.implement",
        CODE,
        1.5,
        r"\b(?:implement|refactor|port|convert|rename|add\s+(?:a|an|support|retry|structured)|build\s+a"
        r"|create\s+a)\b",
        r"\bwrite\s+a\s+(?:\w+\s+){0,3}?(?:script|function|program|service|cli|endpoint|parser|component"
        r"|workflow|module|job|dockerfile|migration|manifest|dag)\b",
    ),
    _rule(
        "code.artifacts",
        CODE,
        0.5,
        r"\b(?:endpoint|component|function|class|flag|cli|dockerfile|terraform|workflow|service|script"
        r"|migration)\b",
    ),
    # --- documentation
    _rule(
        "docs.write_docs",
        DOCS,
        2.0,
        r"\b(?:readme|docstrings?|jsdoc|rustdoc|godoc|runbook|changelog|contributing|adr|docs?\s+page"
        r"|design\s+doc|datasheet|model\s+card|postmortem|onboarding\s+doc|migration\s+guide|openapi"
        r"|inline\s+comments|add\s+comments|api\s+docs|write\s+up)\b",
        r"\bpr\s+description\b",
    ),
    _rule(
        "docs.document",
        DOCS,
        1.5,
        r"\bdocument(?:s|ation)?\b",
        r"\b(?:explain|summary)\b[^.\n]{0,40}\b(?:for|to)\s+(?:leadership|product\s+managers|new)\b",
    ),
    # --- counter-evidence against the blocking labels (hard negatives)
    _rule("neg.machinery_object", (EVAL, TRAINING), -2.0, _ABOUT_MACHINERY),
    _rule("neg.existing_data", (EVAL, TRAINING), -2.0, *_EXISTING),
    _rule("neg.product_code", (EVAL, TRAINING), -1.5, *_PRODUCT),
    _rule(
        "neg.named_machinery",
        (EVAL, TRAINING),
        -1.0,
        r"\b(?:sft|dpo|training|eval|benchmark)\s+(?:data\s*loader|dataloader|loader|shards?|runner|harness"
        r"|collator|job)\b",
    ),
)

# A number followed, within a few words, by the kind of thing generated in bulk ("500 pairs"),
# or a making verb followed by a number ("generate 2k").
# The look-behind skips numbers that are part of a name or a version ("v2", "3.12").
_COUNT_THEN_ITEMS = AnchoredPattern.compile(
    rf"(?<![\w.])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s*(k\b)?\s+(?:[\w-]+\s+){{0,4}}?{_ITEMS}\b"
)
_MAKE_THEN_COUNT = AnchoredPattern.compile(rf"\b{_MAKE}\s+(?:like\s+)?~?(\d[\d,]*)\s*(k\b)?")
# Every literal any rule needs, found in one pass over the window; and which rule each pattern is of.
_PATTERNS = [pattern for rule in RULES for pattern in rule.patterns]
_RULE_OF = [number for number, rule in enumerate(RULES) for _ in rule.patterns]
LITERALS = LiteralIndex([*_PATTERNS, _COUNT_THEN_ITEMS, _MAKE_THEN_COUNT])


def requested_count(text: str, found: Found | None = None) -> int:
    """The largest count of generated things the (lower-cased) text asks for, 0 if none."""
    if found is None:
        found = LITERALS.find(text)
    best = 0
    for pattern in (_COUNT_THEN_ITEMS, _MAKE_THEN_COUNT):
        for match in pattern.finditer(text, found):
            value = float(match.group(1).replace(",", ""))
            if match.group(2):
                value *= 1000
            best = max(best, int(value))
    return best


@dataclass(slots=True)
class RuleEvidence:
    """Per-label sums of the weights of the rules that fired, and their names."""

    scores: dict[str, float]
    hits: list[str]


def apply_rules(text: str) -> RuleEvidence:
    """Run every rule over the bounded window of ``text``."""
    return rule_evidence(window(text).lower())


def rule_evidence(lowered_window: str) -> RuleEvidence:
    """Run every rule over an already windowed, lower-cased instruction."""
    found = LITERALS.find(lowered_window)
    fired: set[int] = set()
    for number in LITERALS.candidates(found):
        # Numbers past the rule patterns are the count patterns; a rule that fired needs no second look.
        if (
            number < len(_PATTERNS)
            and _RULE_OF[number] not in fired
            and _PATTERNS[number].search(lowered_window, found)
        ):
            fired.add(_RULE_OF[number])
    scores = dict.fromkeys(LABELS, 0.0)
    hits: list[str] = []
    for number in sorted(fired):  # in table order, so explanations read the same way every time
        rule = RULES[number]
        for label, weight in rule.weights:
            scores[label] += weight
        hits.append(rule.name)
    count = requested_count(lowered_window, found)
    if count >= BULK_COUNT:
        # Bulk is evidence for the blocking labels only together with their own cues.
        for label in (EVAL, TRAINING):
            if scores[label] > 0:
                scores[label] += 1.0
        hits.append(f"struct.bulk_count:{count}")
    return RuleEvidence(scores, hits)
