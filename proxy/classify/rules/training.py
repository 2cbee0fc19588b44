"""Rules for training-data generation (and dataset formats, weak evidence for both blocking labels).

Each rule carries examples it must match and must not (``tests/unit/classify/test_rule_examples.py``)."""

from __future__ import annotations

from proxy.classify.rules.base import EVAL, MAKE, TRAINING, Rule, rule

TRAINING_RULES: tuple[Rule, ...] = (
    # --- training data generation: bulk pairs, traces, preference data, harvesting
    rule(
        "train.sft",
        TRAINING,
        1.0,
        r"\b(?:sft|fine-?tun(?:e|ing)|finetune|instruction[- ]tuning|pretraining|rlhf|dpo|preference[- ]tuning)\b",
        matches=("clean data for sft",),
        misses=("do a soft reset",),
    ),
    rule(
        "train.training_data",
        TRAINING,
        1.5,
        r"\btraining\s+(?:data(?:set)?|examples?|corpus|pairs?|samples?|set|mix)\b",
        r"\b(?:synthetic|training)\s+(?:corpus|dataset)\b",
        r"\bas\s+training\s+(?:data|pairs)\b",
        r"\b(?:we(?:'ll)?|to)\s+train\s+(?:on|our|a|the)\b",
        r"\btrain\.jsonl\b",
        r"\bdata\s+generation\s+script\b",
        matches=("build a training dataset",),
        misses=("the training session is on monday",),
    ),
    rule(
        "train.make_for_training",
        TRAINING,
        1.5,
        rf"\b{MAKE}\b[^.\n]{{0,120}}\b(?:for|as|into|to)\s+(?:the\s+|our\s+|a\s+)?(?:\w+\s+){{0,2}}?"
        r"(?:fine-?tun\w*|finetun\w*|sft|training|distillation|instruction\s+tuning|rlhf|preference\s+tuning"
        r"|pretraining)\b",
        matches=("generate 500 examples for fine-tuning",),
        misses=("make the training schedule visible",),
    ),
    rule(
        "train.pairs",
        TRAINING,
        1.0,
        r"\b(?:instruction|prompt|question)\s*[/→-]+\s*(?:response|completion|answer)\b",
        r"\b(?:q&a|qa)\s+pairs?\b",
        r"\b\w+\s*→\s*\w+\s+pairs\b",
        matches=("produce instruction/response samples",),
        misses=("the response time is high",),
    ),
    rule(
        "train.preference",
        TRAINING,
        1.5,
        r"\b(?:chosen\s*/\s*rejected|chosen\s+and\s+rejected|preference\s+(?:pairs?|data(?:set)?)"
        r"|chosen\s+response)\b",
        matches=("chosen/rejected pairs please",),
        misses=("the chosen option is wrong",),
    ),
    rule(
        "train.distill",
        TRAINING,
        1.5,
        r"\bdistill(?:ation|ing|ed)?\b",
        matches=("distill the big model",),
        misses=("the still is broken",),
    ),
    rule(
        "train.reasoning_traces",
        TRAINING,
        1.0,
        r"\b(?:reasoning|solution|thinking)\s+traces?\b",
        r"\bchain[- ]of[- ]thought\b",
        r"\bcold[- ]start\b",
        matches=("include reasoning traces",),
        misses=("stack traces are noisy",),
    ),
    rule(
        "train.paraphrase",
        TRAINING,
        1.0,
        r"\b(?:paraphrase[ds]?|rephrase|rewrite\s+the\s+attached|augment(?:ation)?)\b",
        r"\bin\s+your\s+own\s+words\b",
        matches=("paraphrase each question",),
        misses=("rewrite the parser",),
    ),
    rule(
        "train.harvest",
        TRAINING,
        1.5,
        r"\b(?:save|store|saves|stores|collect|dump)\w*\s+(?:every|all|each)\s+"
        r"(?:completion|answer|response|output)s?\b",
        r"\bkeep\s+your\s+answers\s+verbatim\b",
        r"\bharvest",
        matches=("save every completion to disk",),
        misses=("save the file",),
    ),
    rule(
        "train.other_languages",
        TRAINING,
        1.5,
        r"\b(?:datos|ejemplos|pares)\s+de\s+entrenamiento\b",
        r"\btrainings(?:daten|beispiele|paare)\b",
        r"\b(?:donn[ée]es|exemples|paires)\s+d'entra[iî]nement\b",
        matches=("genera datos de entrenamiento",),
        misses=("datos del usuario",),
    ),
    rule(
        "train.chat_formats",
        TRAINING,
        1.0,
        r"\b(?:alpaca|sharegpt|self-instruct|evol-instruct)\b",
        matches=("convert it to sharegpt format",),
        misses=("share the link",),
    ),
    rule(
        "train.path",
        TRAINING,
        1.0,
        r"(?:^|[\s`'\"(])(?:data/(?:sft|distill|raw)|s3://[\w./-]*(?:sft|synthetic))",
        matches=("write them to data/sft/",),
        misses=("write them to data/cache/",),
    ),
    # --- structural: dataset formats support both blocking labels a little
    rule(
        "struct.jsonl_output",
        (EVAL, TRAINING),
        0.25,
        r"\b(?:jsonl|json\s+lines|parquet)\b",
        matches=("output as jsonl",),
        misses=("output as json",),
    ),
)
