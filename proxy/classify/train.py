"""Build the shipped linear model from the labelled dataset.

``python -m proxy.classify.train`` fits TF-IDF + logistic regression on the
``train`` split of ``proxy/classify/data/dataset.jsonl``, picks the
low-evidence threshold (:func:`proxy.classify.combine`) by cross-validation on
that same split, writes both to ``proxy/classify/model.json`` and prints the
model-only scores on the held-out ``test`` split (the full classifier, rules
included, is evaluated with ``provproxy classify --eval``). The test split is
never used to choose anything. scikit-learn is needed here only:
``pip install 'provenance-proxy[train]'``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report, f1_score
from sklearn.model_selection import StratifiedKFold

from proxy.classify import BENIGN_LABELS, SENSITIVE_LABELS, combine, instruction_window, read_evidence
from proxy.classify.model import ARTIFACT_PATH, LinearModel, terms
from proxy.classify.rules import RuleEvidence

DATASET_PATH = Path(__file__).with_name("data") / "dataset.jsonl"
# Inverse regularisation strength; chosen by cross-validation on the train split.
REGULARISATION_C = 20.0
# Candidate low-evidence thresholds (model probability) and the cross-validation that picks one.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(13))  # 0.0 (off) .. 0.6
FOLDS = 5
FOLD_SEED = 4


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


def out_of_fold_evidence(rows: Sequence[dict[str, Any]], c: float) -> list[tuple[dict[str, float], RuleEvidence]]:
    """For each row, the probabilities of a model that did not see it, and the rules' evidence."""
    labels = [r["label"] for r in rows]
    evidence: list[tuple[dict[str, float], RuleEvidence] | None] = [None] * len(rows)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=FOLD_SEED)
    for fit_rows, held_rows in folds.split(np.zeros(len(rows)), labels):
        model = fit([rows[i]["text"] for i in fit_rows], [labels[i] for i in fit_rows], c=c)
        for i in held_rows:
            evidence[i] = read_evidence(instruction_window(rows[i]["text"]).lower(), model)
    return [each for each in evidence if each is not None]


# Thresholds whose macro F1 is this close to the best are treated as equally good.
F1_TIE_MARGIN = 0.002


def choose_low_evidence_threshold(rows: Sequence[dict[str, Any]], c: float) -> float:
    """The threshold with the best out-of-fold macro F1 on ``rows``; among near-equals
    (within F1_TIE_MARGIN), the one that labels the fewest benign rows as sensitive,
    because each of those is a flag a person has to review."""
    evidence = out_of_fold_evidence(rows, c)
    truth = [r["label"] for r in rows]
    benign = [i for i, label in enumerate(truth) if label in BENIGN_LABELS]
    sensitive = [i for i, label in enumerate(truth) if label in SENSITIVE_LABELS]
    print(f"low-evidence threshold, {FOLDS}-fold cross-validation on {len(rows)} train rows:")
    print("  threshold  macro-F1  accuracy  benign->sensitive  sensitive recall")
    scored: list[tuple[float, float, int]] = []  # (threshold, macro F1, benign rows labelled sensitive)
    for threshold in THRESHOLDS:
        predicted = [combine(p, e, threshold).label for p, e in evidence]
        macro = float(f1_score(truth, predicted, average="macro"))
        accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
        leaked = sum(predicted[i] in SENSITIVE_LABELS for i in benign)
        recalled = sum(predicted[i] == truth[i] for i in sensitive)
        print(
            f"  {threshold:9.2f}  {macro:8.3f}  {accuracy:8.3f}  {leaked:6d} of {len(benign):<4d}"
            f"  {recalled:6d} of {len(sensitive)}"
        )
        scored.append((threshold, macro, leaked))
    best_f1 = max(macro for _, macro, _ in scored)
    near_best = [entry for entry in scored if entry[1] >= best_f1 - F1_TIE_MARGIN]
    chosen = min(near_best, key=lambda entry: (entry[2], entry[0]))[0]
    print(f"chosen: {chosen}")
    return chosen


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET_PATH)
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument("-C", type=float, default=REGULARISATION_C, help="inverse regularisation strength")
    args = parser.parse_args(argv)

    rows = load_dataset(args.dataset)
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    threshold = choose_low_evidence_threshold(train, args.C)
    model = fit([r["text"] for r in train], [r["label"] for r in train], c=args.C)
    model = dataclasses.replace(model, low_evidence_probability=threshold)
    args.out.write_bytes(model.to_json())
    print(f"wrote {args.out} ({len(model.index)} terms, {len(model.classes)} classes, {len(train)} train rows)")

    if test:
        predicted = [max(model.probabilities(r["text"]).items(), key=lambda kv: kv[1])[0] for r in test]
        print("model alone on the held-out test split:")
        print(classification_report([r["label"] for r in test], predicted, zero_division=0))


if __name__ == "__main__":
    main()
