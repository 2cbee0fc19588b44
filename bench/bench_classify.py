"""Classification speed: per request after parsing, and parse + classify for a 1 MB body.

    .venv/bin/python bench/bench_classify.py [--rounds N] [--repeats N] [--rules]

Budget (issue 4): <= 0.5 ms p99 to classify an already-read instruction;
<= 3 ms to parse, extract and classify a 1 MB multi-turn agent body. The
1 MB body is a Claude Code-shaped Messages request (system prompt, tools,
many tool_use/tool_result turns) read by the real Anthropic adapter.
The decider's per-session cache is bypassed. The secondary channels of the
1 MB body (tool results, system prompt, earlier turns) are read piece by piece
with a piece cache: the body is measured warm (an agent loop re-sends its
history, so only new pieces cost a reading) and cold (an empty piece cache).
The session-evidence memory bound is measured by filling
``SessionEvidence`` to its session limit with worst-case turns.
Each figure is the median over ``--repeats`` runs, with the spread (min-max)
of those runs; the machine load is printed because a shared machine is noisy.
``--rules`` also prints the slowest rule patterns per kind of text.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson

from proxy.adapters import resolve_route
from proxy.classify import classify_call, classify_text
from proxy.classify.channels import PieceCache, find_forbidden
from proxy.classify.model import shipped_model
from proxy.classify.rules import LITERALS, RULES, window
from proxy.classify.session import MAX_SESSIONS, MAX_TURN_CHARS, MAX_TURNS, SessionEvidence

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "proxy" / "classify" / "data" / "dataset.jsonl"


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e3, p99 * 1e3


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def report(name: str, runs: list[list[float]]) -> None:
    """One line: median over the runs of each run's p50 and p99, and their spread."""
    p50s, p99s = zip(*(percentiles(run) for run in runs), strict=True)
    print(
        f"{name:58} p50 {statistics.median(p50s):6.3f} ms ({min(p50s):.3f}-{max(p50s):.3f})"
        f"  p99 {statistics.median(p99s):6.3f} ms ({min(p99s):.3f}-{max(p99s):.3f})"
    )


def pastes(texts: list[str]) -> dict[str, str]:
    """64 KB instructions of the kinds people paste: prose, source code, a service log."""
    code = "".join(path.read_text() for path in sorted((ROOT / "proxy").rglob("*.py")))
    log = "".join(
        f"2024-05-01T12:{i % 60:02d}:{i % 59:02d}Z INFO worker-{i % 7} GET /api/v1/items/{i} 200 in {i % 900}ms\n"
        for i in range(2000)
    )
    size = 64 * 1024
    return {
        "prose": "\n\n".join(texts)[:size],
        "code": (code * (1 + size // len(code)))[:size],
        "log": (log * (1 + size // len(log)))[:size],
    }


def agent_body(target_bytes: int, instruction: str) -> bytes:
    """A Claude Code-like multi-turn body of about ``target_bytes``."""
    tools = [
        {"name": f"Tool{i}", "description": "Does a thing. " * 40, "input_schema": {"type": "object"}}
        for i in range(20)
    ]
    messages: list[dict[str, object]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>CLAUDE.md ...</system-reminder>"},
                {"type": "text", "text": "fix the flaky test in tests/test_api.py"},
            ],
        },
    ]
    filler = "def handler(request):\n    return process(request.json())\n" * 40
    turn = 0
    while len(orjson.dumps(messages)) < target_bytes:
        turn += 1
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me read the file."},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{turn}",
                        "name": "Read",
                        "input": {"file_path": f"src/m{turn}.py"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{turn}", "content": filler},
                ],
            }
        )
    messages.append({"role": "user", "content": [{"type": "text", "text": instruction}]})
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code. " * 200}],
        "tools": tools,
        "messages": messages,
    }
    return orjson.dumps(body)


def rule_profile(texts: list[str], long_texts: dict[str, str]) -> None:
    """The slowest rule patterns (after the one literal scan) over the dataset and over each paste."""
    corpora = {"dataset": [window(text).lower() for text in texts]}
    corpora |= {f"64 KB {kind}": [window(text).lower()] for kind, text in long_texts.items()}
    patterns = [(rule.name, pattern) for rule in RULES for pattern in rule.patterns]
    for kind, docs in corpora.items():
        found = [LITERALS.find(doc) for doc in docs]
        reps = max(1, 2000 // len(docs))
        costs = []
        for name, pattern in patterns:
            start = time.perf_counter()
            for _ in range(reps):
                for doc, doc_found in zip(docs, found, strict=True):
                    pattern.search(doc, doc_found)
            costs.append(((time.perf_counter() - start) / reps / len(docs) * 1e6, name, pattern.regex.pattern[:50]))
        scan = timed(lambda docs=docs: [LITERALS.find(doc) for doc in docs], reps)  # type: ignore[misc]
        costs.sort(reverse=True)
        print(f"  {kind}: literal scan {statistics.median(scan) / len(docs) * 1e6:.1f} us; slowest patterns (us):")
        for cost, name, source in costs[:4]:
            print(f"    {cost:7.1f}  {name:26} {source}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the dataset per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median and spread reported)")
    parser.add_argument("--rules", action="store_true", help="also profile each rule pattern")
    args = parser.parse_args()

    texts = [orjson.loads(line)["text"] for line in DATASET.read_bytes().splitlines()]
    long_texts = pastes(texts)
    raw = agent_body(1024 * 1024, texts[0])
    adapter, route = resolve_route("POST", "/anthropic/v1/messages", {})
    assert adapter is not None and route is not None
    body_call = adapter.read_call(route, orjson.loads(raw), {})
    classify_text("warm up: load the model")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")

    def dataset_run() -> list[float]:
        samples: list[float] = []
        for _ in range(args.rounds):
            for text in texts:
                start = time.perf_counter()
                classify_text(text)
                samples.append(time.perf_counter() - start)
        return samples

    def parse_and_classify() -> object:
        call = adapter.read_call(route, orjson.loads(raw), {})
        return classify_call(call)

    gc.collect()
    gc.disable()  # collector pauses are not the classifier's cost
    try:
        report(f"classify after parse, {len(texts)} dataset prompts x {args.rounds}", _runs(dataset_run, args.repeats))
        for kind, text in long_texts.items():
            runs = _runs(lambda text=text: timed(lambda: classify_text(text), 200), args.repeats)  # type: ignore[misc]
            report(f"classify a 64 KB {kind} instruction", runs)
        report(
            f"parse + extract + classify, {len(raw) / 1e6:.2f} MB multi-turn body",
            _runs(lambda: timed(parse_and_classify, 100), args.repeats),
        )
        report("  of which orjson.loads", _runs(lambda: timed(lambda: orjson.loads(raw), 100), args.repeats))
        report(
            f"  classify alone, that body's {len(body_call.instruction)}-char instruction",
            _runs(lambda: timed(lambda: classify_call(body_call), 500), args.repeats),
        )
        report(
            f"  channels alone, cold piece cache ({sum(len(t) for _, t in body_call.channels)} chars)",
            _runs(lambda: timed(lambda: find_forbidden(body_call.channels, shipped_model(), PieceCache()), 5), 1),
        )
        if args.rules:
            rule_profile(texts, long_texts)
    finally:
        gc.enable()
    session_memory()


def session_memory() -> None:
    """Bytes held by SessionEvidence at its session limit, every session holding MAX_TURNS longest turns."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    evidence = SessionEvidence()
    for number in range(MAX_SESSIONS):
        key = ("session", f"{number:036d}")
        for turn in range(MAX_TURNS):
            bound = evidence.remember(key, f"{turn} " + "x" * MAX_TURN_CHARS, "code_generation", now=0.0)
            if bound is not None:
                bound.bind(f"{number:036d}")
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(
        f"session evidence: {len(evidence)} live sessions x {MAX_TURNS} turns of {MAX_TURN_CHARS} chars hold "
        f"{held / 2**20:.0f} MiB ({held / len(evidence):.0f} bytes per session)"
    )


def _runs(run: Callable[[], list[float]], repeats: int) -> list[list[float]]:
    return [run() for _ in range(repeats)]


if __name__ == "__main__":
    main()
