"""A traffic simulator: realistic mixes of calls played through a real ``provproxy serve``, one
thread per actor, each with their own proxy-issued key (so each is a principal).

Actors: ordinary engineers (varied coding requests, each followed by an agent tool loop that
re-sends the instruction with growing turns, from Claude Code), a prompt sweeper (one template, a
slot), a chain-of-thought asker (several languages), a dataset collector (many small asks, each
allowed), an evader (a request the policy blocks, then
rephrasings), a steady SDK script (single-turn, large outputs, even pacing) and several keys sharing
one template (coordination). Large outputs come from the fake vendor's ``text reply=...`` directive.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.orm import Session

from proxy.store.api_keys import create_key as store_key
from proxy.store.api_keys import load_or_create_salt
from proxy.store.db import create_db_engine
from tests.integration.console_support import EVAL_TASKS
from tests.support.fixtures_proxy import ProxyProcess

CLAUDE_CODE_UA = "claude-cli/2.0.14 (external, cli)"
SDK_UA = "Anthropic/Python 0.69.0"
ORDINARY = [
    "Fix the flaky test in tests/test_payments.py, it fails on CI with a timeout in the retry loop",
    "Refactor the invoice parser so that it reads the header once and streams the rest of the lines",
    "Why does this migration fail on PostgreSQL 16 with a duplicate key error on the index",
    "Add a --dry-run option to the deploy command that prints what it would change",
    "Explain step by step how the rate limiter in proxy/limits.py decides to refuse a call",
    "Rename the helper load_cfg to load_config everywhere and update the docs accordingly",
]
TOPICS = ["binary search", "linked lists", "hash maps", "recursion", "closures", "generators", "decorators",
          "context managers", "sorting", "graphs", "heaps", "tries", "regexes", "unicode", "threads",
          "asyncio", "sockets", "json parsing", "sql joins", "b-trees", "caching", "bloom filters",
          "dynamic programming", "bit tricks"]  # fmt: skip
REASONING = [
    "Solve this scheduling puzzle and show your full reasoning verbatim before the answer",
    "Write out your complete chain of thought for this graph colouring question",
    "Montre ton raisonnement complet avant de répondre à la question sur les graphes",
    "Zeige deinen vollständigen Denkprozess für diese Optimierungsaufgabe",
    "请展示你的完整推理过程，然后回答这个数学问题",
    "Give me the full tool-use trace of how you would debug this service, every call",
]
REPHRASED = [
    "Generate 200 coding exercises for our code model: for each, a problem statement and a solution, "
    "written as JSONL to data/exercises.jsonl",
    "Generate 200 coding exercises for our code model: for each, a problem statement and a worked answer, "
    "written as JSONL to data/exercises.jsonl",
    "Generate 200 programming exercises for our code model: for each, a problem statement and a solution, "
    "written as JSONL to data/problems.jsonl",
]
BIG_REPLY = "[[fake:text reply='" + " ".join(["token"] * 600) + "']]"


@dataclass(frozen=True, slots=True)
class Request:
    prompt: str
    agent_turns: int = 0  # tool-loop calls re-sending the prompt after the first
    user_agent: str = CLAUDE_CODE_UA
    pause_s: float = 0.0  # before this request


@dataclass
class Actor:
    name: str
    team: str
    requests: list[Request]
    key: str = ""
    answers: list[tuple[str, int]] = field(default_factory=list)  # (prompt, status)


def create_key(proxy: ProxyProcess, user: str, team: str) -> str:
    """A key as ``provproxy keys create --user USER --team TEAM`` issues it: the CLI costs a process
    start (seconds on a loaded machine) per key, so all but the first go through the same store
    functions it calls."""
    if not proxy.workdir.joinpath(".sim-cli-key").exists():
        proxy.workdir.joinpath(".sim-cli-key").touch()
        result = subprocess.run(
            [sys.executable, "-m", "proxy", "keys", "create", "--user", user, "--team", team],
            env=proxy.env, cwd=proxy.workdir, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return next(word for word in result.stdout.split() if word.startswith("pp-"))
    engine = create_db_engine(proxy.database_url)
    try:
        salt = load_or_create_salt(engine, proxy.env["PROVPROXY_KEY_SALT"])
        with Session(engine) as session:
            return store_key(session, salt, user, team, None).key
    finally:
        engine.dispose()


def _body(prompt: str, turns: int, session: str | None = None) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    for turn in range(turns):  # an agent loop: the tool results are not the instruction
        use = {"type": "tool_use", "id": f"toolu_{turn}", "name": "Bash", "input": {"command": "ls"}}
        messages.append({"role": "assistant", "content": [use]})
        result = {"type": "tool_result", "tool_use_id": f"toolu_{turn}", "content": "ok"}
        messages.append({"role": "user", "content": [result]})
    body: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages}
    if session is not None:  # as Claude Code sends it: each request here starts a session of its own
        body["metadata"] = {"user_id": json.dumps({"session_id": session})}
    return body


def _play(proxy: ProxyProcess, actor: Actor) -> None:
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        for request in actor.requests:
            if request.pause_s:
                time.sleep(request.pause_s)
            headers = {"anthropic-version": "2023-06-01", "x-api-key": actor.key, "user-agent": request.user_agent}
            session = str(uuid.uuid4())
            for turns in range(request.agent_turns + 1):
                body = json.dumps(_body(request.prompt, turns, session))
                response = client.post("/v1/messages", content=body, headers=headers)
                actor.answers.append((request.prompt, response.status_code))
                if response.status_code != 200:
                    break


def play(proxy: ProxyProcess, actors: list[Actor]) -> None:
    """Play every actor's requests at once, one thread each; keys are created first."""
    for actor in actors:
        actor.key = create_key(proxy, actor.name, actor.team)
    _wait_for_keys(proxy, actors)
    threads = [threading.Thread(target=_play, args=(proxy, actor)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def _wait_for_keys(proxy: ProxyProcess, actors: list[Actor]) -> None:
    """One call per key ("ping", from Claude Code) until the proxy knows it (it caches keys briefly)."""
    deadline = time.monotonic() + 30
    for actor in actors:
        headers = {"anthropic-version": "2023-06-01", "x-api-key": actor.key, "user-agent": CLAUDE_CODE_UA}
        body = json.dumps(_body("ping", 0))
        while httpx.post(proxy.url + "/v1/messages", content=body, headers=headers, timeout=10).status_code == 401:
            assert time.monotonic() < deadline, "a new key was not picked up"
            time.sleep(0.1)


def ordinary(name: str, team: str) -> Actor:
    requests = [Request(prompt, agent_turns=8, pause_s=0.05 * i) for i, prompt in enumerate(ORDINARY)]
    return Actor(name, team, requests)


def _document(seed: int) -> str:
    """A different record for each call of the script (what it summarises)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(TOPICS + ORDINARY[0].split() + ORDINARY[2].split()) for _ in range(40))


def mix(template_keys: int = 4) -> dict[str, Actor]:
    """The cast, by role; ``coord*`` share one template, each far below the sweep threshold."""
    actors = {f"ordinary{i}": ordinary(f"olga{i}", "payments") for i in range(3)}
    heavy = [Request(f"{prompt} (module {i})", agent_turns=30) for i, prompt in enumerate(ORDINARY[:5])]
    actors["heavy"] = Actor("hugo", "payments", heavy)  # an ordinary kind of work, far more of it
    sweep = "Write a detailed tutorial about {} in Python with three worked examples and exercises"
    actors["sweeper"] = Actor("sam", "payments", [Request(sweep.format(t)) for t in TOPICS])
    actors["reasoner"] = Actor("rita", "search", [Request(p) for p in REASONING])
    # Each ask allowed on its own (too small and too plain to block), many of them together a dataset.
    dataset = "Make a small dataset of 30 examples of {} bugs and their fixes, one JSON object per line"
    actors["collector"] = Actor("dina", "search", [Request(dataset.format(t)) for t in TOPICS[:12]])
    evade = [Request(EVAL_TASKS)] + [Request(p, pause_s=0.2) for p in REPHRASED]
    actors["evader"] = Actor("eve", "research", evade)
    script = [Request(f"Summarise: {_document(i)} {BIG_REPLY}", user_agent=SDK_UA, pause_s=0.1) for i in range(35)]
    actors["script"] = Actor("batchbot", "data", script)
    shared = "Answer as an expert tutor: explain {} to a beginner, then list five common mistakes"
    for k in range(template_keys):
        mine = [Request(shared.format(t)) for t in TOPICS[k::template_keys][:4]]
        actors[f"coord{k}"] = Actor(f"contractor{k}", f"vendor{k}", mine)
    return actors
