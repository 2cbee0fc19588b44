"""What the container image promises, read from the Dockerfile the image is built from.

(The image itself is built and run by the container tests where buildah is available.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[3] / "Dockerfile"


def _instructions(name: str) -> list[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.strip().upper().startswith(name + " ")]


def test_healthcheck_follows_the_configured_port() -> None:
    (check,) = _instructions("HEALTHCHECK")
    assert "PROVPROXY_PORT" in check
    assert not re.search(r":8787\b", check), "the check must not hard-code the default port"


def test_the_service_user_keeps_no_dotfiles_in_the_data_volume() -> None:
    runs = " ".join(_instructions("RUN"))
    useradd = re.search(r"useradd[^&;]*", runs)
    assert useradd is not None
    assert "--create-home" not in useradd.group(0) and "-m " not in useradd.group(0)
    assert "--home-dir /data" not in useradd.group(0)


def test_migrations_run_once_at_start() -> None:
    (cmd,) = _instructions("CMD")
    argv = json.loads(cmd)
    assert "migrate" not in " ".join(argv), "serve migrates on start (PROVPROXY_MIGRATE_ON_START)"
    assert argv[:2] == ["provproxy", "serve"]
