"""Build the shipped linear model from the labelled dataset.

``python -m proxy.classify.train`` fits TF-IDF + logistic regression on the
``train`` split of ``proxy/classify/data/dataset.jsonl``, writes
``proxy/classify/model.json`` and prints the model-only scores on the held-out
``test`` split (the full classifier, rules included, is evaluated with
``provproxy classify --eval``). scikit-learn is needed here only.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report

from proxy.classify.model import ARTIFACT_PATH, LinearModel, terms

DATASET_PATH = Path(__file__).with_name("data") / "dataset.jsonl"
# Inverse regularisation strength; chosen by cross-validation on the train split.
REGULARISATION_C = 20.0


def load_dataset(path: Path = DATASET_PATH) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def fit(texts: Sequence[str], labels: Sequence[str], c: float = REGULARISATION_C) -> LinearModel:
    """Fit the model and convert it to the portable inference form."""
    vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True, norm="l2")
    features = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=c, max_iter=5000)
    classifier.fit(features, labels)
    vocabulary: dict[str, int] = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    return LinearModel(
        classes=tuple(str(label) for label in classifier.classes_),
        index=vocabulary,
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        coef=np.ascontiguousarray(classifier.coef_.T, dtype=np.float64),
        intercept=np.asarray(classifier.intercept_, dtype=np.float64),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET_PATH)
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument("-C", type=float, default=REGULARISATION_C, help="inverse regularisation strength")
    args = parser.parse_args(argv)

    rows = load_dataset(args.dataset)
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    model = fit([r["text"] for r in train], [r["label"] for r in train], c=args.C)
    args.out.write_bytes(model.to_json())
    print(f"wrote {args.out} ({len(model.index)} terms, {len(model.classes)} classes, {len(train)} train rows)")

    if test:
        predicted = [max(model.probabilities(r["text"]).items(), key=lambda kv: kv[1])[0] for r in test]
        print("model alone on the held-out test split:")
        print(classification_report([r["label"] for r in test], predicted, zero_division=0))


if __name__ == "__main__":
    main()
