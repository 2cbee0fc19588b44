"""The phrase rules of the reasoning and dataset signals: small, multilingual, matched on the
instruction's lower-cased head and tail (the classifier's bounded window).

Reasoning: asking the model to *reveal* its chain of thought, its reasoning verbatim, its full
thinking, or its tool-use trace — what a distiller wants to copy — in English, French, German,
Spanish, Portuguese, Italian, Russian, Chinese and Japanese. "Explain step by step" alone is
ordinary teaching and does not match; it must come with "show/output all your thinking" or the like.

Dataset: asking for many examples ("generate 500 Q&A pairs", "200 samples"), or for JSONL training
or evaluation data, in the same languages.
"""

from __future__ import annotations

import re

from proxy.classify.rules.base import window

_REASONING = (
    # English
    r"chain[- ]of[- ]thought",
    r"\b(?:show|reveal|print|output|include|give|write out|dump|expose)\b[^.\n]{0,40}"
    r"\b(?:reasoning|thinking|thought process|thoughts|scratchpad|inner monologue|deliberation)\b",
    r"\b(?:reasoning|thinking|thoughts?)\b[^.\n]{0,30}\b(?:verbatim|word for word|unedited|in full|raw)\b",
    r"\bverbatim\b[^.\n]{0,30}\b(?:reasoning|thinking|thoughts?)\b",
    r"\b(?:full|complete|entire|every|raw)\b[^.\n]{0,20}"
    r"\b(?:tool[- ]use|tool[- ]call|agent)\s*(?:trace|traces|log|transcript)",
    r"\bstep[- ]by[- ]step\b[^.\n]{0,40}\b(?:show|reveal|output|print)\b[^.\n]{0,20}\b(?:every|each|all|full)\b",
    r"</?thinking>",
    # French, German, Spanish, Portuguese, Italian
    r"cha[iî]ne de (?:pens[ée]e|raisonnement)",
    r"\b(?:montre|affiche|r[ée]v[èe]le|donne)[^.\n]{0,30}\b(?:raisonnement|r[ée]flexion)\b",
    r"\b(?:gedankenkette|denkprozess|gedankengang|denkschritte)\b",
    r"cadena de (?:pensamiento|razonamiento)",
    r"\b(?:muestra|revela|escribe|mu[ée]strame)[^.\n]{0,30}\b(?:razonamiento|pensamiento)\b",
    r"cadeia de (?:pensamento|racioc[ií]nio)",
    r"\b(?:mostra|rivela)[^.\n]{0,30}\b(?:ragionamento|pensiero|racioc[ií]nio)\b",
    r"catena di (?:pensiero|ragionamento)",
    # Russian, Chinese, Japanese
    r"цепочк[аиу] (?:рассуждений|мыслей)",
    r"(?:покажи|выведи|раскрой)[^.\n]{0,30}(?:рассуждени|размышлени|ход мысл)",
    r"思维链|思考链|推理过程|思考过程|完整的?推理",
    r"思考過程|推論過程|思考の過程|思考の連鎖",
)

_DATASET = (
    r"\b\d{2,6}\+?\s+(?:\w+[\s-]+){0,3}(?:examples|samples|q&a|qa pairs|pairs|question[- ]answer|"
    r"conversations|dialogues|prompts|completions|instances|training (?:items|rows|records))\b",
    r"\b(?:generate|create|write|produce|output|make)\b[^.\n]{0,60}\bjsonl\b",
    r"\b(?:generate|create|write|produce|synthesi[sz]e|make)\b[^.\n]{0,40}"
    r"\b(?:training|fine[- ]?tuning|eval(?:uation)?) ?(?:data ?set|data|corpus|examples|set)\b",
    r"\b\d{2,6}\s+(?:exemples|paires|beispiele|beispielen|paare|ejemplos|pares|exemplos|esempi|примеров|пар)\b",
    r"\d{2,6}\s*(?:条|个|組|件|個)[^\n]{0,10}(?:数据|样本|问答|例|サンプル|データ|質問)",
    r"(?:生成|创建|制作|作成|生成して)[^\n]{0,20}(?:数据集|训练数据|データセット|訓練データ|学習データ)",
)

REASONING = re.compile("|".join(f"(?:{p})" for p in _REASONING), re.IGNORECASE)
DATASET = re.compile("|".join(f"(?:{p})" for p in _DATASET), re.IGNORECASE)


def asks_for_reasoning(text: str) -> bool:
    return REASONING.search(window(text)) is not None


def asks_for_dataset(text: str) -> bool:
    return DATASET.search(window(text)) is not None
