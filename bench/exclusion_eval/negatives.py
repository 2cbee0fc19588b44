"""Negative documents: unrelated files, near-misses (same function written independently), shared boilerplate."""

from __future__ import annotations

import difflib
import random
import re
from collections import defaultdict

from bench.exclusion_eval import edits
from bench.exclusion_eval.dataset import Completion, Doc, Role, _completion
from bench.exclusion_eval.snippets import Snippet, import_lines, token_stream
from bench.exclusion_eval.sources import Package, SourceFile

COPY_RATIO = 0.6  # token-stream similarity above this means a vendored copy, not an independent near-miss
NEAR_MISSES_PER_LANGUAGE = 120
_GENERIC = {"main", "new", "init", "__init__", "run", "test", "setup", "get", "set", "string", "error", "len"}
_STANZA = {
    "python": 'if __name__ == "__main__":\n    main()\n',
    "go": "func main() {\n\tos.Exit(run())\n}\n",
    "java": "public static void main(String[] args) {\n    new Main().run(args);\n}\n",
    "rust": "fn main() {\n    run().unwrap();\n}\n",
    "c": "int main(int argc, char **argv) {\n    return run(argc, argv);\n}\n",
    "javascript": "if (require.main === module) {\n    main();\n}\n",
}
_LEADING_COMMENT = re.compile(r"\A(?:[ \t]*(?:#|//|/\*|\*|\"\"\"|''').*\n)+")


def unrelated_docs(pools: dict[tuple[str, str], list[SourceFile]], per_language: int, rng: random.Random) -> list[Doc]:
    docs = []
    for (language, split), pool in sorted(pools.items()):
        for source in rng.sample(pool, min(len(pool), per_language // 2)):
            docs.append(Doc(f"neg/{language}/{split}/{source.path}", language, split, "negative", source.text))
    return docs


def _is_copy(a: Snippet, b: Snippet) -> bool:
    matcher = difflib.SequenceMatcher(None, token_stream(a.text, a.language), token_stream(b.text, b.language))
    return matcher.quick_ratio() > COPY_RATIO and matcher.ratio() > COPY_RATIO


def near_miss_pairs(
    snippets: list[Snippet], roles: dict[str, Role], rng: random.Random
) -> list[tuple[Snippet, Snippet]]:
    """Same name, same arity, different packages (indexed side from completion packages, scanned side from
    negative packages of the same split), copies dropped."""
    sides: dict[tuple[str, str, str, int], dict[str, list[Snippet]]] = defaultdict(lambda: defaultdict(list))
    for snippet in snippets:
        role = roles[snippet.package]
        name = snippet.name.lower().strip("_")
        if len(name) >= 4 and name not in _GENERIC and role.role in ("completion", "negative"):
            sides[(snippet.language, role.split, name, snippet.arity)][role.role].append(snippet)
    pairs: dict[str, list[tuple[Snippet, Snippet]]] = defaultdict(list)
    for key in sorted(sides):
        group = sides[key]
        candidates = [(a, b) for a in group["completion"] for b in group["negative"]]
        rng.shuffle(candidates)
        for a, b in candidates[:4]:
            if len(pairs[key[0]]) < NEAR_MISSES_PER_LANGUAGE and not _is_copy(a, b):
                pairs[key[0]].append((a, b))
                break
    return [pair for language in sorted(pairs) for pair in pairs[language]]


def near_miss_docs(
    pairs: list[tuple[Snippet, Snippet]],
    roles: dict[str, Role],
    pools: dict[tuple[str, str], list[SourceFile]],
    rng: random.Random,
) -> tuple[list[Completion], list[Doc]]:
    sources, docs = [], []
    for indexed, scanned in pairs:
        completion = _completion(indexed, roles, rng, kind="nearmiss-source")
        sources.append(completion)
        pool = [f for f in pools[(scanned.language, completion.split)] if f.path != scanned.path]
        text = edits.splice(rng.choice(pool).text, scanned.text, scanned.language, rng)
        labels = {"name": indexed.name, "indexed": indexed.package, "scanned": scanned.package}
        key = f"near/{completion.id}/{scanned.id}"
        docs.append(Doc(key, scanned.language, completion.split, "nearmiss", text, completion.id, None, labels))
    return sources, docs


def boilerplate_docs(
    packages: list[Package], roles: dict[str, Role], snippets: list[Snippet], per_language: int, rng: random.Random
) -> list[Doc]:
    """Licence header and import block of completion-package files, a main stanza, unrelated negative code."""
    docs = []
    for language in sorted({p.language for p in packages}):
        for split in ("tune", "heldout"):
            files = [f for p in packages if p.language == language and roles[p.name] == Role("completion", split)
                     for f in p.files]  # fmt: skip
            unrelated = [s for s in snippets if s.language == language and roles[s.package] == Role("negative", split)]
            if not files or not unrelated:
                continue
            for i in range(per_language // 2):
                header = _LEADING_COMMENT.match(rng.choice(files).text)
                parts = [
                    header.group(0) if header else "",
                    import_lines(rng.choice(files).text, language),
                    rng.choice(unrelated).text,
                    _STANZA[language],
                ]
                text = "\n\n".join(part for part in parts if part)
                docs.append(Doc(f"boiler/{language}/{split}/{i}", language, split, "boilerplate", text))
    return docs
