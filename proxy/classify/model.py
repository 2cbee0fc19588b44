"""The learned part of the classifier: TF-IDF features and a linear model.

Training (``proxy/classify/train.py``) uses scikit-learn; the shipped artefact
is plain JSON (vocabulary, idf, coefficients), so inference here needs only
numpy: only the rows of the terms present are read, with the idf already
folded into them. :func:`terms` is the single
definition of the features, used by both sides so they cannot drift apart.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

ARTIFACT_PATH = Path(__file__).with_name("model.json")

_TOKEN = re.compile(r"[a-z][a-z0-9_]*(?:/(?=\w))?|\d+")


def terms(text: str) -> list[str]:
    """Unigrams and adjacent bigrams of the lower-cased text.

    A trailing slash is kept on path components (``evals/`` differs from
    ``evals``) and numbers are folded to their digit count, so "500" and
    "300" are the same feature.
    """
    tokens = [f"#{len(tok)}" if tok[0].isdigit() else tok for tok in _TOKEN.findall(text.lower())]
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


@dataclass(frozen=True, slots=True)
class LinearModel:
    classes: tuple[str, ...]
    index: dict[str, int]  # term -> row of idf / coef
    idf: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]  # (n_terms, n_classes)
    intercept: npt.NDArray[np.float64]  # (n_classes,)
    # Below this probability a sensitive label needs a rule for it (chosen on the train split by
    # cross-validation in train.py; see proxy.classify.combine).
    low_evidence_probability: float = 0.0
    idf_coef: npt.NDArray[np.float64] = field(init=False, repr=False)  # idf[:, None] * coef

    def __post_init__(self) -> None:
        object.__setattr__(self, "idf_coef", self.idf[:, None] * self.coef)

    def probabilities(self, text: str) -> dict[str, float]:
        """Softmax class probabilities for ``text`` (sublinear TF-IDF, L2-normalised).

        logits = sum_t tf_t * (idf_t * coef_t) / ||tf * idf|| + intercept, over
        the terms present only.
        """
        index = self.index
        present = [(index[term], count) for term, count in Counter(terms(text)).items() if term in index]
        if present:
            rows = np.fromiter((row for row, _ in present), dtype=np.intp, count=len(present))
            tf = np.fromiter((1.0 + math.log(count) for _, count in present), dtype=np.float64, count=len(present))
            weights = tf * self.idf[rows]
            logits = ((tf @ self.idf_coef[rows]) / math.sqrt(weights @ weights) + self.intercept).tolist()
        else:
            logits = self.intercept.tolist()
        top = max(logits)
        exp = [math.exp(value - top) for value in logits]
        total = sum(exp)
        return {label: value / total for label, value in zip(self.classes, exp, strict=True)}

    def to_json(self) -> bytes:
        vocabulary = sorted(self.index, key=self.index.__getitem__)
        return orjson.dumps(
            {
                "format": "tfidf-logreg/1",
                "classes": list(self.classes),
                "vocabulary": vocabulary,
                "idf": [round(float(v), 5) for v in self.idf],
                "coef": [[round(float(v), 5) for v in row] for row in self.coef],
                "intercept": [round(float(v), 5) for v in self.intercept],
                "low_evidence_probability": self.low_evidence_probability,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> LinearModel:
        raw = orjson.loads(data)
        if raw.get("format") != "tfidf-logreg/1":
            raise ValueError(f"unknown model format {raw.get('format')!r}")
        return cls(
            classes=tuple(raw["classes"]),
            index={term: i for i, term in enumerate(raw["vocabulary"])},
            idf=np.asarray(raw["idf"], dtype=np.float64),
            coef=np.asarray(raw["coef"], dtype=np.float64),
            intercept=np.asarray(raw["intercept"], dtype=np.float64),
            low_evidence_probability=float(raw.get("low_evidence_probability", 0.0)),
        )


@lru_cache(maxsize=1)
def shipped_model() -> LinearModel:
    """The artefact committed beside this module (built by ``python -m proxy.classify.train``)."""
    return LinearModel.from_json(ARTIFACT_PATH.read_bytes())
