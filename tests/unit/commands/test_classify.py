"""``provproxy classify`` and ``provproxy policy check`` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from proxy.cli import cli
from proxy.policy import DEFAULT_POLICY_PATH

EVAL_TASKS = "Write 60 benchmark items with hidden tests and a grader to evaluate our model; JSONL into evals/ts/."
BODIES = Path(__file__).resolve().parents[2] / "data" / "bodies"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_classify_text_lines_from_stdin() -> None:
    lines = [{"text": EVAL_TASKS}, {"id": 7, "text": "Write pytest tests for utils/slug.py"}]
    code, out, _ = run("classify", stdin="\n".join(json.dumps(line) for line in lines) + "\n")
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["label"] == "eval_task_generation"
    assert first["decision"] == "block" and first["policy_rule"] == "block-eval-task-generation"
    assert "block-eval-task-generation" in first["message"]
    assert set(first["scores"]) >= {"eval_task_generation", "debugging"} and first["rule_hits"]
    assert (second["id"], second["label"], second["decision"]) == (7, "unit_test_generation", "allow")


def test_classify_vendor_bodies_with_the_adapters(tmp_path: Path) -> None:
    claude = json.loads((BODIES / "claude_code_first_turn.json").read_text())
    title = json.loads((BODIES / "claude_code_title.json").read_text())
    responses = {"model": "gpt-5", "input": [{"role": "user", "content": [{"type": "input_text", "text": EVAL_TASKS}]}]}
    chat = {"model": "gpt-5", "messages": [{"role": "user", "content": "why does this segfault in cache.c:112?"}]}
    gemini = {"contents": [{"role": "user", "parts": [{"text": EVAL_TASKS}]}]}
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"vendor": "anthropic", "body": claude},
                {"vendor": "anthropic", "body": title},
                {"vendor": "openai", "body": responses},
                {"vendor": "openai", "body": chat},
                {"vendor": "gemini", "body": gemini},
            ]
        )
    )
    code, out, _ = run("classify", str(path))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["label"], r["decision"]) for r in rows] == [
        ("code_generation", "allow"),  # "Add a --verbose flag to the CLI ..." under Claude Code's wrapping
        ("overhead", "allow"),
        ("eval_task_generation", "block"),
        ("debugging", "allow"),
        ("eval_task_generation", "block"),
    ]


def test_classify_under_another_policy() -> None:
    strict = str(DEFAULT_POLICY_PATH.with_name("strict.yaml"))
    code, out, _ = run(
        "classify",
        "--policy",
        strict,
        stdin=json.dumps({"text": "Explain what src/lease.go does in the renew loop"}) + "\n",
    )
    assert code == 0
    row = json.loads(out)
    assert (row["label"], row["decision"], row["policy_rule"]) == (
        "code_analysis_review",
        "block",
        "block-code-analysis",
    )


def test_bad_lines_are_reported_and_fail_the_run() -> None:
    code, out, _ = run("classify", stdin='{"text": "fine"}\nnot json\n{"vendor": "acme", "body": {}}\n')
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["label"] and rows[1]["line"] == 2 and "vendor" in rows[2]["error"]


def test_eval_prints_per_label_scores_and_the_confusion_matrix(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"text": EVAL_TASKS, "label": "eval_task_generation"},
                {
                    "text": "Write Jest tests for the cart reducer",
                    "label": "unit_test_generation",
                    "hard_negative": True,
                },
                {"text": "Add a README section on local setup", "label": "documentation"},
                {
                    "text": "Write vitest tests for utils/date.ts",
                    "label": "code_generation",
                },  # deliberately mislabelled
            ]
        )
    )
    code, out, _ = run("classify", "--eval", str(path))
    assert code == 0
    assert "precision" in out and "confusion matrix" in out
    line = next(row for row in out.splitlines() if row.startswith("unit_test_generation"))
    precision, recall = (float(value) for value in line.split()[1:3])
    assert (precision, recall) == (0.5, 1.0)
    assert "hard negatives blocked under the policy: 0 of 1" in out


def test_policy_check_ok_and_errors_with_line_numbers(tmp_path: Path) -> None:
    code, out, _ = run("policy", "check", str(DEFAULT_POLICY_PATH))
    assert code == 0 and "OK" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: a\n    action: allow\n  - id: b\n    action: explode\n")
    code, _, err = run("policy", "check", str(bad))
    assert code == 1
    assert f"{bad}:5:" in err and "explode" in err
