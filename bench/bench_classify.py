"""Classification speed: per request after parsing, and parse + classify for a 1 MB body.

    .venv/bin/python bench/bench_classify.py [--rounds N]

Budget (issue 4): <= 0.5 ms p99 to classify an already-read instruction;
<= 3 ms to parse, extract and classify a 1 MB multi-turn agent body. The
1 MB body is a Claude Code-shaped Messages request (system prompt, tools,
many tool_use/tool_result turns) read by the real Anthropic adapter.
The decider's per-session cache is bypassed: this is the cold cost.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from proxy.adapters import resolve_route
from proxy.classify import classify_call, classify_text

DATASET = Path(__file__).resolve().parent.parent / "proxy" / "classify" / "data" / "dataset.jsonl"


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e3, p99 * 1e3, ordered[-1] * 1e3


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the dataset")
    args = parser.parse_args()

    texts = [orjson.loads(line)["text"] for line in DATASET.read_bytes().splitlines()]
    classify_text("warm up: load the model")
    gc.collect()
    gc.disable()  # collector pauses are not the classifier's cost

    samples: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            start = time.perf_counter()
            classify_text(text)
            samples.append(time.perf_counter() - start)
    p50, p99, worst = percentiles(samples)
    print(
        f"classify after parse, {len(texts)} dataset prompts x {args.rounds}: "
        f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  max {worst:.3f} ms"
    )

    long_text = "\n\n".join(texts)[: 64 * 1024]  # the largest instruction a CallView carries
    p50, p99, worst = percentiles(timed(lambda: classify_text(long_text), 200))
    print(f"classify a 64 KB instruction (window-bounded): p50 {p50:.3f} ms  p99 {p99:.3f} ms  max {worst:.3f} ms")

    raw = agent_body(1024 * 1024, texts[0])
    adapter, route = resolve_route("POST", "/anthropic/v1/messages", {})
    assert adapter is not None and route is not None

    def parse_and_classify() -> object:
        call = adapter.read_call(route, orjson.loads(raw), {})
        return classify_call(call)

    p50, p99, worst = percentiles(timed(parse_and_classify, 100))
    print(
        f"parse + extract + classify, {len(raw) / 1e6:.2f} MB multi-turn body: "
        f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  max {worst:.3f} ms"
    )
    parse_only = percentiles(timed(lambda: orjson.loads(raw), 100))
    print(f"  of which orjson.loads: p50 {parse_only[0]:.3f} ms")
    gc.enable()


if __name__ == "__main__":
    main()
