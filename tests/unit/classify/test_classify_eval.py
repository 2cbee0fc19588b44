"""``provproxy classify --eval``: blocking precision and the flag rate on benign rows."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from proxy.cli import cli

EVAL_TASKS = "Write 60 benchmark items with hidden tests and a grader to evaluate our model; JSONL into evals/ts/."


def test_eval_reports_blocking_precision_and_benign_flag_rate(tmp_path: Path) -> None:
    rows = [
        {"text": EVAL_TASKS, "label": "eval_task_generation"},
        # Mislabelled on purpose: a block on a benign row must lower the blocking precision.
        {"text": EVAL_TASKS + " Thanks!", "label": "code_generation"},
        {"text": "Write Jest tests for the cart reducer", "label": "unit_test_generation", "terse": True},
        # Flagged by the default policy (code review), labelled benign: counted as a benign flag.
        {"text": "Review this PR for SQL injection in the login handler", "label": "debugging", "terse": False},
        {"text": "Review my diff", "label": "code_analysis_review", "terse": True},  # not benign: not counted
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    result = CliRunner().invoke(cli, ["classify", "--eval", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "blocked rows: 2, of which truly eval_task_generation or training_data_generation: 1 of 2 (50.0 %)" in lines
    assert "  all   1 of 3 (33.3 %)" in lines
    assert "  terse 0 of 1 (0.0 %)" in lines
