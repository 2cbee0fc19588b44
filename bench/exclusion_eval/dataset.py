"""The generated benchmark: package splits, completions (plain and chat), edited positive documents."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.exclusion_eval import edits
from bench.exclusion_eval.formatters import reformat
from bench.exclusion_eval.snippets import Snippet
from bench.exclusion_eval.sources import Package, SourceFile

ROLES = ("completion", "host", "negative")
SPLITS = ("tune", "heldout")
EDITS = ("exact", "exact-alone", "reformat", "strip-comments", "rename", "splice-large", "half", "all")
EDITS_PER_COMPLETION = 3
CHAT_SHARE = 0.3
FENCE = {"python": "python", "javascript": "javascript", "go": "go", "java": "java", "rust": "rust", "c": "cpp"}


@dataclass(frozen=True, slots=True)
class Role:
    role: str
    split: str


@dataclass(slots=True)
class Completion:
    id: str
    language: str
    package: str
    split: str
    style: str  # plain | chat
    kind: str  # completion | nearmiss-source
    bucket: str
    code: str  # the code a document may contain
    text: str  # what is indexed (the code, or a chat answer around it)
    ts: bool = False


@dataclass(slots=True)
class Doc:
    key: str
    language: str
    split: str
    kind: str  # positive | negative | nearmiss | boilerplate
    text: str
    completion: str | None = None
    edit: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)


def assign_roles(packages: list[Package], rng: random.Random) -> dict[str, Role]:
    """Per language: packages shuffled, then dealt round robin to roles, and by threes to tune/held-out."""
    roles: dict[str, Role] = {}
    by_language: dict[str, list[str]] = defaultdict(list)
    for package in sorted(packages, key=lambda p: p.name):
        by_language[package.language].append(package.name)
    for names in by_language.values():
        rng.shuffle(names)
        for i, name in enumerate(names):
            roles[name] = Role(ROLES[i % 3], SPLITS[(i // 3) % 2])
    return roles


def _chat(code: str, language: str, snippet: Snippet, rng: random.Random) -> str:
    opening = rng.choice(
        [
            f"Here is one way to implement `{snippet.name}`. It keeps the logic in a single function so it is easy "
            "to test, and it handles the edge cases you mentioned.",
            f"Sure! Below is an implementation of `{snippet.name}`.\n\nI kept the structure close to what you had and "
            "added the missing pieces.",
            f"You can write `{snippet.name}` like this. The idea is to do the work in one pass and return early when "
            "the input is empty.",
        ]
    )
    closing = rng.choice(
        ["Let me know if you want tests for it.", "This should work with your existing code.", "Hope this helps!"]
    )
    return f"{opening}\n\n```{FENCE[language]}\n{code.rstrip()}\n```\n\n{closing}\n"


def choose_completions(
    snippets: list[Snippet], roles: dict[str, Role], total: int, rng: random.Random
) -> list[Completion]:
    """About total/6 completions per language from completion-role packages, balanced over length buckets."""
    chosen: list[Completion] = []
    languages = sorted({s.language for s in snippets})
    for language in languages:
        pool = [s for s in snippets if s.language == language and roles[s.package].role == "completion"]
        rng.shuffle(pool)
        by_bucket: dict[str, list[Snippet]] = defaultdict(list)
        for snippet in pool:
            by_bucket[snippet.bucket].append(snippet)
        want = total // len(languages)
        picked: list[Snippet] = []
        for bucket in sorted(by_bucket):
            picked.extend(by_bucket[bucket][: want // 3])
        rest = [s for s in pool if s not in set(picked)]
        picked.extend(rest[: want - len(picked)])
        for snippet in picked:
            chosen.append(_completion(snippet, roles, rng))
    return chosen


def _completion(snippet: Snippet, roles: dict[str, Role], rng: random.Random, kind: str = "completion") -> Completion:
    chat = kind == "completion" and rng.random() < CHAT_SHARE
    code = f"{snippet.imports}\n\n{snippet.text}" if chat and snippet.imports else snippet.text
    text = _chat(code, snippet.language, snippet, rng) if chat else code
    return Completion(
        f"c-{snippet.id}" if kind == "completion" else f"n-{snippet.id}",
        snippet.language,
        snippet.package,
        roles[snippet.package].split,
        "chat" if chat else "plain",
        kind,
        snippet.bucket,
        code,
        text,
        snippet.path.endswith(".ts"),
    )


def host_pools(packages: list[Package], roles: dict[str, Role], role: str) -> dict[tuple[str, str], list[SourceFile]]:
    pools: dict[tuple[str, str], list[SourceFile]] = defaultdict(list)
    for package in packages:
        if roles[package.name].role == role:
            for source in package.files:
                if len(source.text.splitlines()) >= 20 and len(source.text) <= 60_000:
                    pools[(package.language, roles[package.name].split)].append(source)
    return pools


def large_host(pool: list[SourceFile], size: int, rng: random.Random) -> str:
    """Host files concatenated until at least ``size`` characters."""
    parts: list[str] = []
    while sum(len(p) for p in parts) < size and len(parts) < 200:
        parts.append(rng.choice(pool).text)
    return "\n\n".join(parts)


def _assign_edits(completions: list[Completion], rng: random.Random) -> list[tuple[Completion, str]]:
    order = list(EDITS)
    pairs: list[tuple[Completion, str]] = []
    for i, completion in enumerate(completions):
        if i % len(EDITS) == 0:
            rng.shuffle(order)
        pairs.extend((completion, order[(i * EDITS_PER_COMPLETION + j) % len(EDITS)]) for j in range(3))
    return pairs


def _reformat_all(wanted: list[tuple[str, str, str, bool]], tools: Path) -> dict[str, str | None]:
    """(key, language, text, is_typescript) → reformatted text per key, one formatter run per language."""
    results: dict[str, str | None] = {}
    for language in sorted({w[1] for w in wanted}):
        items = {key + ("@ts" if ts else ""): text for key, lang, text, ts in wanted if lang == language}
        for key, value in reformat(language, items, tools).items():
            results[key.removesuffix("@ts")] = value
    return results


def edited_codes(
    pairs: list[tuple[Completion, str]], tools: Path, rng: random.Random, drops: Counter[str]
) -> list[tuple[Completion, str, str, dict[str, Any]]]:
    """(completion, edit, edited code, labels); pairs whose tool failed or changed nothing are dropped and counted."""
    staged: list[tuple[Completion, str, str | None, dict[str, Any]]] = []
    to_format: list[tuple[str, str, str, bool]] = []
    for n, (completion, edit) in enumerate(pairs):
        code, labels = _pre_format(completion, edit, rng)
        if code is None:
            drops[f"{edit}: {labels['failed']}"] += 1
            continue
        if edit in ("reformat", "all"):
            to_format.append((f"e{n}", completion.language, code, completion.ts))
            labels["format_key"] = f"e{n}"
        staged.append((completion, edit, code, labels))
    formatted = _reformat_all(to_format, tools)
    out = []
    for completion, edit, code, labels in staged:
        if "format_key" in labels:
            code = formatted.get(labels.pop("format_key"))
            if code is None:
                drops[f"{edit}: formatter failed or changed nothing"] += 1
                continue
            labels["reformat"] = "ok"
            if edit == "all":
                code = edits.half(code, completion.language, rng)
                labels["half"] = "ok"
        assert code is not None
        out.append((completion, edit, code, labels))
    return out


def _pre_format(completion: Completion, edit: str, rng: random.Random) -> tuple[str | None, dict[str, Any]]:
    code, language = completion.code, completion.language
    labels: dict[str, Any] = {}
    if edit in ("strip-comments", "all"):
        stripped = edits.strip_comments(code, language)
        if stripped is None or (edit == "strip-comments" and stripped == code):
            return None, {"failed": "comment stripping failed or found no comment"}
        labels["strip-comments"] = "ok" if stripped != code else "no comments"
        code = stripped
    if edit in ("rename", "all"):
        renamed = edits.rename(code, language, rng)
        if renamed is None or renamed == code:
            return None, {"failed": "renaming failed or found no name"}
        labels["rename"] = "ok"
        code = renamed
    if edit == "half":
        code = edits.half(code, completion.language, rng)
        labels["half"] = "ok"
    return code, labels


def positive_docs(
    completions: list[Completion], pools: dict[tuple[str, str], list[SourceFile]], tools: Path, rng: random.Random
) -> tuple[list[Doc], Counter[str]]:
    drops: Counter[str] = Counter()
    docs = []
    for completion, edit, code, labels in edited_codes(_assign_edits(completions, rng), tools, rng, drops):
        pool = pools[(completion.language, completion.split)]
        if edit == "exact-alone":
            text, labels["host"] = code, "none"
        elif edit in ("splice-large", "all"):
            host = large_host(pool, 10 * len(code), rng)
            text, labels["host_ratio"] = edits.splice(host, code, completion.language, rng), len(host) / len(code)
        else:
            text = edits.splice(rng.choice(pool).text, code, completion.language, rng)
        key = f"pos/{completion.id}/{edit}"
        docs.append(Doc(key, completion.language, completion.split, "positive", text, completion.id, edit, labels))
    return docs, drops


def as_record(item: Completion | Doc) -> dict[str, Any]:
    return asdict(item)
