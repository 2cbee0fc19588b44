"""Rules for evaluation-task generation: problems with hidden tests, graders, RL environments.

Each rule carries examples it must match and must not (``tests/unit/classify/test_rule_examples.py``)."""

from __future__ import annotations

from proxy.classify.rules.base import EVAL, MAKE, Rule, rule

EVAL_RULES: tuple[Rule, ...] = (
    # --- eval task generation: problems + environment + hidden tests / grader
    rule(
        "eval.hidden_tests",
        EVAL,
        1.0,
        r"\bhidden\s+(?:[\w-]+\s+)?(?:tests?|test\s+(?:cases?|suites?|files?)|checks?|assertions?|cases)\b",
        matches=("add hidden tests for each problem",),
        misses=("show the hidden menu",),
    ),
    rule(
        "eval.make_hidden_tests",
        EVAL,
        1.0,
        rf"\b{MAKE}\b[^.\n]{{0,80}}\bhidden\b",
        r"\bhidden\s+(?:tests?|checks?|cases)\s+(?:for|\+|and|per|so)\b",
        matches=("write ten problems whose checks stay hidden",),
        misses=("the hidden sidebar flickers",),
    ),
    rule(
        "eval.swe_bench_instance",
        EVAL,
        1.5,
        r"\bswe[- ]?bench(?:[- ]\w+)?[- ](?:style|like)\b",
        r"\bswe[- ]?bench\s+(?:instances?|tasks?|items?)\b",
        r"\bfail_to_pass\b",
        r"\b(?:task|eval|benchmark)\s+instances?\b",
        matches=("turn these commits into swe-bench style tasks",),
        misses=("run the benchmark again",),
    ),
    rule(
        "eval.make_benchmark",
        EVAL,
        2.0,
        rf"\b{MAKE}\b[^.\n]{{0,60}}\b(?:benchmark|eval(?:uation)?)\s+"
        r"(?:items?|tasks?|problems?|instances?|sets?|questions?)\b",
        matches=("generate 50 benchmark tasks for python",),
        misses=("run the benchmark suite",),
    ),
    rule(
        "eval.for_evaluating_model",
        EVAL,
        1.5,
        r"\b(?:to|for|can)\s+(?:eval(?:uat(?:e|ing))?|benchmark(?:ing)?|score|grade)\s+"
        r"(?:our|the|how|models?|llms?|code\s+models?|agents?|candidate|model)\b",
        matches=("a suite to evaluate our coding agent",),
        misses=("lazy evaluation of the config",),
    ),
    rule(
        "eval.feed_to_our_model",
        EVAL,
        1.5,
        r"\b(?:feed|run|give|pass|throw|send)\s+(?:these|them|those|all\s+of\s+them|the\s+\w+)\s+"
        r"(?:to|through|into|at)\s+(?:our|my|the|an?)\s+(?:in-?house\s+|internal\s+|own\s+|new\s+|\w+\s+)?"
        r"(?:models?|llms?|agents?)\b",
        matches=("we'll feed these to our in-house model",),
        misses=("feed these logs to the parser",),
    ),
    rule(
        "eval.use_them_to_score",
        EVAL,
        1.5,
        r"\b(?:use|using)\s+(?:these|them|those|the\s+\w+)\s+(?:to|for)\s+"
        r"(?:score|scoring|eval(?:uate|uating)?|benchmark(?:ing)?|grade|grading|test(?:ing)?)\s+"
        r"(?:our|the|my|an?)\s+(?:\w+\s+)?(?:models?|llms?|agents?)\b",
        matches=("we'll use them to score our model",),
        misses=("use these to test the parser",),
    ),
    rule(
        "eval.model_pass_rate",
        EVAL,
        1.5,
        r"\b(?:compute|measure|report|get|check|see)\s+(?:its|their|the\s+model'?s|our\s+model'?s)\s+"
        r"(?:pass(?:@\w+|\s+rate)|success\s+rate|solve\s+rate|accuracy|score)\b",
        r"\bhow\s+(?:many|much)\s+(?:of\s+them\s+)?(?:our|the)\s+model\s+(?:solves|passes|gets\s+right)\b",
        matches=("and compute its pass rate",),
        misses=("compute the pass rate of the ci job",),
    ),
    rule(
        "eval.for_model_eval",
        EVAL,
        1.0,
        r"\bfor\s+(?:the\s+|our\s+|a\s+)?(?:model|agent|llm|internal|held-out)\s+eval(?:uation)?\b",
        r"\bmodel\s+eval(?:uation)?\b",
        matches=("tasks for the model eval next week",),
        misses=("the model evaluates lazily",),
    ),
    rule(
        "eval.rl_environment",
        EVAL,
        1.5,
        rf"\b{MAKE}\b[^.\n]{{0,60}}\b(?:rl\s+env\w*|environments?|env\s+class|env\s+where)\b",
        r"\benvironments?\s+for\s+(?:rl|agent\s+training)\b",
        r"\brl_envs/\w+/",
        matches=("build an rl environment for the agent",),
        misses=("set the environment variable",),
    ),
    rule(
        "eval.reward_function",
        EVAL,
        1.0,
        rf"\b(?:{MAKE}|with)\b[^.\n]{{0,40}}\breward\b",
        r"\breward\s*(?:=|when|is\s+(?:\+|the|shaped))",
        matches=("write a reward function for the agent",),
        misses=("the rewards page is slow",),
    ),
    rule(
        "eval.grader",
        EVAL,
        1.0,
        r"\b(?:grader|grading\s+(?:function|script|harness)|checker|verifier|verify\.py|check\.sh"
        r"|answer\s+keys?|rubrics?)\b",
        matches=("add a grader that scores the output",),
        misses=("grade the essays by hand",),
    ),
    rule(
        "eval.uncontaminated",
        EVAL,
        1.0,
        r"\b(?:uncontaminated|contamination-free|held-out\s+eval)\b",
        r"\bno\s+contamination\b",
        r"\bnot\s+on\s+the\s+internet\b",
        matches=("the problems must be uncontaminated",),
        misses=("contaminated water samples",),
    ),
    rule(
        "eval.agent_never_sees",
        EVAL,
        1.0,
        r"\b(?:must\s+not|never|don'?t)\s+(?:see|leak|be\s+guessable)\b",
        r"\bdo\s+not\s+(?:see|leak|be\s+guessable)\b",
        r"\bkeep\s+the\s+hidden\b",
        matches=("the agent must not see the tests",),
        misses=("i never saw this warning",),
    ),
    rule(
        "eval.other_languages",
        EVAL,
        1.5,
        r"\b(?:tareas|problemas|ejercicios)\s+de\s+evaluaci[oó]n\b",
        r"\b(?:tests|pruebas)\s+ocultos\b",
        r"\b(?:t[aâ]ches|exercices)\s+d'[ée]valuation\b",
        r"\btests\s+cach[ée]s\b",
        r"\b(?:versteckte|geheime)\s+tests\b",
        r"\bevaluierungs(?:aufgaben|daten)\b",
        matches=("crea tareas de evaluación para python",),
        misses=("escribe pruebas unitarias",),
    ),
    rule(
        "eval.path",
        EVAL,
        1.0,
        r"(?:^|[\s`'\"(])(?:evals?|tasks|benchmarks|rl_envs|data/eval)/",
        matches=("put them under evals/python/",),
        misses=("see the medieval/ folder",),
    ),
)
