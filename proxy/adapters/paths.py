"""Request-path hygiene shared by the adapters.

Routes are matched on path *segments* that have already passed these checks,
and every ``Route.upstream_path`` is rebuilt from the matched segments. A path
that could steer the upstream request elsewhere (``..``, ``//``, encoded
separators, backslashes, userinfo, absolute URIs) never reaches an adapter.
"""

from __future__ import annotations

import re

# Characters a vendor path of ours can contain. "%" is deliberately absent:
# no client percent-encodes these paths, and decoding is how traversal hides.
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._:~-]+(?:/[A-Za-z0-9._:~-]+)*")

# Model and object ids in paths (Gemini models, GET /v1/models/{id}).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def path_segments(path: str) -> list[str] | None:
    """The segments of a clean absolute path, ``[]`` for ``/``, else None.

    A query string (if the caller left one on) is ignored: it is forwarded
    separately and never takes part in routing.
    """
    path = path.split("?", 1)[0]
    if path == "/":
        return []
    if len(path) > 2048 or not _SAFE_PATH.fullmatch(path):
        return None
    segments = path[1:].split("/")
    for segment in segments:
        if segment in (".", "..") or segment.startswith(".."):
            return None
    return segments


def is_model_name(value: str) -> bool:
    return len(value) <= 256 and MODEL_NAME.fullmatch(value) is not None
