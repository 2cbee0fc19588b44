"""The known clients' own fixed prompt text, recognised line by line.

Claude Code, Codex and Gemini CLI send long system prompts (and reminder
wrappers) of their own. They are not ignored — a caller can append anything to
a system prompt — but their known lines are taken out before the channel is
read, so what is left is what someone added. Lines are recognised by a short
digest of their normalised form (``known_prompt_lines.json``, built from the
captured request bodies with ``python -m proxy.classify.known_prompts FILE…``).
"""

from __future__ import annotations

import hashlib
import sys
from functools import lru_cache
from pathlib import Path

import orjson

LINES_PATH = Path(__file__).with_name("known_prompt_lines.json")
# Shorter lines ("Examples:", "</example>") say nothing either way; they are kept.
MIN_LINE_CHARS = 24


def line_digest(line: str) -> str:
    """The digest a line is recognised by: white space collapsed, case folded."""
    folded = " ".join(line.split()).casefold()
    return hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@lru_cache(maxsize=1)
def known_lines() -> frozenset[str]:
    if not LINES_PATH.exists():
        return frozenset()
    return frozenset(orjson.loads(LINES_PATH.read_bytes()))


def without_known_prompt_lines(text: str) -> str:
    """``text`` without the lines the known clients' prompts are made of."""
    known = known_lines()
    if not known:
        return text
    kept = [line for line in text.splitlines() if len(line) < MIN_LINE_CHARS or line_digest(line) not in known]
    return "\n".join(kept)


def build(texts: list[str]) -> list[str]:
    """Sorted digests of every long-enough line of ``texts``."""
    return sorted({line_digest(line) for text in texts for line in text.splitlines() if len(line) >= MIN_LINE_CHARS})


def _main(paths: list[str]) -> None:
    """Digest the system channels of captured client bodies (any vendor) into LINES_PATH."""
    from proxy.adapters import resolve_route

    texts: list[str] = []
    for path in paths:
        body = orjson.loads(Path(path).read_bytes())
        for route_path in ("/v1/messages", "/v1/responses", "/v1/chat/completions", "/v1beta/models/m:generateContent"):
            adapter, route = resolve_route(
                "POST", route_path, {"x-goog-api-key": "x"} if "v1beta" in route_path else {}
            )
            if adapter is None or route is None:
                continue
            try:
                view = adapter.read_call(route, body, {})
            except ValueError:
                continue
            texts += [text for channel, text in view.channels if channel == "system"]
    LINES_PATH.write_bytes(orjson.dumps(build(texts)))


if __name__ == "__main__":
    _main(sys.argv[1:])
