"""The pre-commit hook and the server-side check refuse a commit holding a logged completion, from
an exported index and the public key only, and accept an unrelated one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.test_exclusion_cli import LRU, provproxy
from tests.support.fixtures_proxy import ProxyFactory
from tests.unit.exclusion.helpers import rewrite_python, sample

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def test_the_hook_definition_runs_the_check() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "provproxy-exclude" and hooks[0]["entry"] == "provproxy exclude check"


def test_pre_commit_and_pre_receive_refuse_recorded_output(start_proxy: ProxyFactory, tmp_path: Path) -> None:
    proxy = start_proxy()
    imported = tmp_path / "old.jsonl"
    imported.write_text(json.dumps({"id": "legacy-7", "text": LRU}) + "\n")
    assert provproxy(proxy, "exclude", "import", str(imported)).returncode == 0
    export, public = tmp_path / "index", tmp_path / "public.pem"
    assert provproxy(proxy, "exclude", "export", "-o", str(export)).returncode == 0
    public.write_text(provproxy(proxy, "keys", "public").stdout)

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "Dev")
    hook = repo / ".git" / "hooks" / "pre-commit"
    staged = "git diff --cached --name-only --diff-filter=AM -z | xargs -0 -r"
    hook.write_text(
        f"#!/bin/sh\n{staged} {sys.executable} -m proxy exclude check --index {export} --public-key {public}\n"
    )
    hook.chmod(0o755)

    (repo / "lru.py").write_text(sample("near_miss_cache.py"))
    _git(repo, "add", "lru.py")
    accepted = _git(repo, "commit", "-q", "-m", "unrelated")
    assert accepted.returncode == 0, accepted.stderr

    (repo / "cache.py").write_text(rewrite_python(LRU, rename=True))
    _git(repo, "add", "cache.py")
    refused = _git(repo, "commit", "-q", "-m", "copied")
    assert refused.returncode != 0
    assert "cache.py: lines" in refused.stderr and "legacy-7" in refused.stderr and "Traceback" not in refused.stderr

    # Server side (pre-receive / CI): the same check over a pushed range, from the objects alone.
    assert _git(repo, "commit", "-q", "--no-verify", "-m", "copied anyway").returncode == 0
    check = ("exclude", "check", "--index", str(export), "--public-key", str(public), "--git-range")
    range_result = provproxy(proxy, *check, "HEAD~1..HEAD", cwd=repo)
    assert range_result.returncode == 1 and "cache.py" in range_result.stderr
    empty_tree = _git(repo, "hash-object", "-t", "tree", "/dev/null").stdout.strip()
    clean = provproxy(proxy, *check, f"{empty_tree}..HEAD~1", cwd=repo)
    assert clean.returncode == 0, clean.stderr
