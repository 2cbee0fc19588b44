"""The learned part of the classifier: TF-IDF features and a linear model.

Training (``proxy/classify/train.py``) uses scikit-learn; the shipped artefact
is plain JSON (vocabulary, idf, coefficients), so inference here needs only
numpy and takes a few dozen microseconds. :func:`terms` is the single
definition of the features, used by both sides so they cannot drift apart.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
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

    def probabilities(self, text: str) -> dict[str, float]:
        """Softmax class probabilities for ``text`` (sublinear TF-IDF, L2-normalised)."""
        counts = Counter(t for t in terms(text) if t in self.index)
        if not counts:
            logits = self.intercept
        else:
            rows = np.fromiter((self.index[t] for t in counts), dtype=np.int64, count=len(counts))
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts))
            weights = tf * self.idf[rows]
            weights /= np.sqrt(weights @ weights)
            logits = weights @ self.coef[rows] + self.intercept
        exp = np.exp(logits - logits.max())
        probs = exp / exp.sum()
        return {label: float(p) for label, p in zip(self.classes, probs, strict=True)}

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
        )


@lru_cache(maxsize=1)
def shipped_model() -> LinearModel:
    """The artefact committed beside this module (built by ``python -m proxy.classify.train``)."""
    return LinearModel.from_json(ARTIFACT_PATH.read_bytes())
