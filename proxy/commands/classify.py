"""``provproxy classify``: label requests offline, and evaluate the classifier.

Input is JSONL, one request per line: ``{"text": "..."}`` or
``{"vendor": "<a vendor: anthropic, openai, …>", "body": {...}}`` (optionally with a
``path`` for the vendor endpoint, and ``principal``/``team``/``tool`` for the
policy). Vendor bodies are read by the same adapters the proxy uses, so the
instruction classified is the one the proxy would classify.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import orjson

from proxy.adapters import VENDORS, adapter_for, resolve_route
from proxy.adapters.base import CallView
from proxy.classify import BENIGN_LABELS, FORBIDDEN_LABELS, LABELS, OVERHEAD
from proxy.config import get_settings
from proxy.decider import PolicyDecider
from proxy.events import Decision
from proxy.hooks import Identity
from proxy.policy import PolicyError, PolicySource


def call_from_line(row: dict[str, Any]) -> CallView:
    """The CallView for one input line; raises ``ValueError`` for bad lines."""
    if "body" not in row:
        text = row.get("text")
        if not isinstance(text, str):
            raise ValueError('each line needs "text" (a string) or "vendor" and "body"')
        return CallView(vendor=str(row.get("vendor") or "text"), endpoint="text", instruction=text)
    vendor, body = row.get("vendor"), row["body"]
    if vendor not in VENDORS:
        raise ValueError(f"vendor must be one of {', '.join(VENDORS)}, got {vendor!r}")
    path = row.get("path")
    if not isinstance(path, str):
        path = adapter_for(vendor).body_path(body)
    adapter, route = resolve_route("POST", f"/{vendor}{path}", {})
    if adapter is None or route is None:
        raise ValueError(f"no {vendor} endpoint at {path}")
    return adapter.read_call(route, body, {})


def _identity(row: dict[str, Any]) -> Identity:
    def text(name: str) -> str | None:
        value = row.get(name)
        return value if isinstance(value, str) else None

    return Identity(principal=text("principal"), team=text("team"), tool=text("tool") or "unknown")


def _rows(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, None, f"not JSON: {exc}"
            continue
        if not isinstance(row, dict):
            yield number, None, "each line must be a JSON object"
            continue
        yield number, row, None


def _decider(policy: Path | None) -> PolicyDecider:
    settings = get_settings()
    try:
        source = PolicySource(policy or settings.policy_file, settings.appeal_contact)
    except PolicyError as exc:
        raise click.ClickException("\n".join(f"{exc.source}: {issue}" for issue in exc.issues)) from exc
    return PolicyDecider(source)


@click.command("classify")
@click.argument("file", type=click.File("rb"), default="-")
@click.option(
    "--policy",
    "policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file (default: PROVPROXY_POLICY_FILE, else the shipped default).",
)
@click.option(
    "--eval",
    "evaluate",
    is_flag=True,
    help="FILE is labelled ('label' field): print precision/recall/F1 and the confusion matrix.",
)
@click.option("--split", default=None, help="With --eval: only rows whose 'split' field has this value.")
def classify_command(file: IO[bytes], policy: Path | None, evaluate: bool, split: str | None) -> None:
    """Label the use of each request in FILE (JSONL, default stdin) and the policy decision."""
    decider = _decider(policy)
    if evaluate:
        _evaluate(file, decider, split)
        return
    out = sys.stdout.buffer
    failures = 0
    for number, row, problem in _rows(file):
        try:
            if row is None:
                raise ValueError(problem)
            call = call_from_line(row)
        except ValueError as exc:
            failures += 1
            out.write(orjson.dumps({"line": number, "error": str(exc)}) + b"\n")
            continue
        verdict = decider.decide(call, _identity(row))
        result = decider.classification(call, None)
        record: dict[str, Any] = {
            "label": verdict.label,
            "strength": result.strength,
            "scores": verdict.scores,
            "rule_hits": verdict.rule_hits,
            "decision": verdict.action.value,
            "policy_rule": verdict.policy_rule,
        }
        if "id" in row:
            record = {"id": row["id"], **record}
        if verdict.message:
            record["message"] = verdict.message
        out.write(orjson.dumps(record) + b"\n")
    out.flush()
    if failures:
        raise SystemExit(1)


def _evaluate(file: IO[bytes], decider: PolicyDecider, split: str | None) -> None:
    truth: list[str] = []
    predicted: list[str] = []
    decisions: Counter[tuple[str, str]] = Counter()
    hard_negatives = hard_negatives_blocked = 0
    # Benign rows (ordinary work) flagged: each one is noise in the security team's review queue.
    benign: Counter[str] = Counter()  # keys: "all", "flagged", "terse", "terse flagged"
    for number, row, problem in _rows(file):
        if row is None or not isinstance(row.get("label"), str):
            raise click.ClickException(f"line {number}: {problem or 'needs a string label'}")
        if split is not None and row.get("split") != split:
            continue
        try:
            call = call_from_line(row)
        except ValueError as exc:
            raise click.ClickException(f"line {number}: {exc}") from exc
        verdict = decider.decide(call, _identity(row))
        truth.append(row["label"])
        predicted.append(verdict.label or OVERHEAD)
        decisions[(row["label"], verdict.action.value)] += 1
        if row.get("hard_negative"):
            hard_negatives += 1
            hard_negatives_blocked += verdict.action is Decision.BLOCK
        if row["label"] in BENIGN_LABELS:
            flagged = verdict.action is Decision.FLAG
            benign.update({"all": 1, "flagged": flagged})
            if row.get("terse"):
                benign.update({"terse": 1, "terse flagged": flagged})
    if not truth:
        raise click.ClickException("no labelled rows to evaluate")
    click.echo(format_report(truth, predicted))
    click.echo("\ndecisions under the policy, by true label (allow / flag / block)")
    for label in dict.fromkeys(truth):
        counts = " / ".join(str(decisions[(label, action.value)]) for action in Decision)
        click.echo(f"  {label:<26} {counts}")
    blocked = sum(n for (_, action), n in decisions.items() if action == Decision.BLOCK.value)
    rightly_blocked = sum(decisions[(label, Decision.BLOCK.value)] for label in FORBIDDEN_LABELS)
    click.echo(f"\nblocked rows: {blocked}, of which truly {' or '.join(FORBIDDEN_LABELS)}: ", nl=False)
    click.echo(_share(rightly_blocked, blocked) if blocked else "0")
    if hard_negatives:
        click.echo(f"hard negatives blocked under the policy: {hard_negatives_blocked} of {hard_negatives}")
    if benign["all"]:
        click.echo(f"benign rows ({', '.join(BENIGN_LABELS)}) flagged under the policy:")
        click.echo(f"  all   {_share(benign['flagged'], benign['all'])}")
        if benign["terse"]:
            click.echo(f"  terse {_share(benign['terse flagged'], benign['terse'])}")


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({100 * part / whole:.1f} %)"


def format_report(truth: list[str], predicted: list[str]) -> str:
    """Per-label precision, recall, F1 and support, then the confusion matrix (rows: truth)."""
    labels = [label for label in (*LABELS, OVERHEAD) if label in truth or label in predicted]
    labels += sorted((set(truth) | set(predicted)) - set(labels))
    pairs = Counter(zip(truth, predicted, strict=True))
    width = max(len(label) for label in labels)
    lines = [f"{'label':<{width}}  precision  recall     f1  support"]
    for label in labels:
        hits = pairs[(label, label)]
        predicted_n = sum(n for (_, p), n in pairs.items() if p == label)
        support = sum(n for (t, _), n in pairs.items() if t == label)
        precision = hits / predicted_n if predicted_n else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        lines.append(f"{label:<{width}}  {precision:9.3f}  {recall:6.3f}  {f1:5.3f}  {support:7d}")
    correct = sum(n for (t, p), n in pairs.items() if t == p)
    lines.append(f"{'accuracy':<{width}}  {correct / len(truth):9.3f}  {'':6}  {'':5}  {len(truth):7d}")
    short = {label: f"L{i}" for i, label in enumerate(labels)}
    lines += ["", "confusion matrix (rows: true label, columns: predicted)"]
    lines.append(" " * (width + 4) + "".join(f"{short[label]:>5}" for label in labels))
    for label in labels:
        cells = "".join(f"{pairs[(label, other)]:>5}" for other in labels)
        lines.append(f"{short[label]:>3} {label:<{width}}" + cells)
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    cli.add_command(classify_command)
