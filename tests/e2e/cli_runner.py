"""Run the real vendor CLIs headless, each in its own throw-away HOME.

Every run gets a scrubbed environment (nothing leaks in from the developer's
shell: no real API keys, no real config), stdin closed, telemetry and
auto-update off, and a hard timeout so that a CLI stuck in a retry loop fails
the test instead of blocking CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol

import pytest

# Long enough for a slow start-up on a busy machine, far shorter than the retry
# storms the CLIs fall into on a retryable error (Claude Code ~175 s, Gemini CLI ~5 min).
CLI_TIMEOUT_S = 120.0

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_BIN = REPO_ROOT / ".node" / "node_modules" / ".bin"
_VERSION = re.compile(r"\d+\.\d+\.\d+")

# Codex sends its shell tools only for models it knows; any known name will do against the fake.
CODEX_MODEL = "gpt-5.1-codex"


@dataclass(frozen=True, slots=True)
class CliRun:
    """One finished CLI invocation."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr

    def describe(self) -> str:
        """Everything a failing assertion should show."""
        return (
            f"$ {' '.join(self.command)}\nexit {self.returncode} after {self.elapsed_s:.1f}s\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; in CI (``CI=true``) a missing CLI is a failure, never a silent skip."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the vendor CLI tests must run in CI)", pytrace=False)
    pytest.skip(reason)


def find_binary(name: str) -> Path:
    """``<repo>/.node/node_modules/.bin/<name>`` (installed by scripts/test.sh), else ``<name>`` on PATH."""
    if shutil.which("node") is None:
        unavailable(f"Node.js is not installed (no `node` on PATH), so `{name}` cannot run")
    local = LOCAL_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    if found is None:
        unavailable(f"`{name}` is not installed: run scripts/test.sh (npm install into {LOCAL_BIN.parent.parent})")
    return Path(found)


def base_env(home: Path) -> dict[str, str]:
    """A minimal environment: the CLI, node and a shell for its tools, and nothing of the caller's."""
    node = shutil.which("node")
    dirs = [str(Path(node).parent)] if node else []
    dirs += ["/usr/local/bin", "/usr/bin", "/bin"]
    return {
        "PATH": os.pathsep.join(dict.fromkeys(dirs)),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TMPDIR": str(home / "tmp"),
    }


def run_cli(command: list[str], env: dict[str, str], cwd: Path, timeout: float = CLI_TIMEOUT_S) -> CliRun:
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        partial_out = (exc.stdout or b"").decode(errors="replace")[-4000:]
        partial_err = (exc.stderr or b"").decode(errors="replace")[-4000:]
        pytest.fail(
            f"{' '.join(command)} did not finish within {timeout:.0f}s (hung or retrying)\n"
            f"--- stdout ---\n{partial_out}\n--- stderr ---\n{partial_err}",
            pytrace=False,
        )
    return CliRun(
        command=tuple(command),
        returncode=done.returncode,
        stdout=done.stdout.decode(errors="replace"),
        stderr=done.stderr.decode(errors="replace"),
        elapsed_s=time.monotonic() - started,
    )


def installed_version(binary: Path) -> str:
    """The CLI's own ``--version``, e.g. ``2.1.197``."""
    home = Path(os.environ.get("TMPDIR", "/tmp"))
    env = {**base_env(home), "TMPDIR": str(home)}
    run = run_cli([str(binary), "--version"], env, home, timeout=60)
    match = _VERSION.search(run.stdout)
    if run.returncode != 0 or match is None:
        pytest.fail(f"cannot read the version of {binary}:\n{run.describe()}", pytrace=False)
    return match.group(0)


class VendorCli(Protocol):
    """What the shared tests need from each CLI."""

    tool: str  # the proxy's name for it (proxy/identity.py)
    version: str

    def run(self, prompt: str, base_url: str, *, allow_shell: bool = False) -> CliRun: ...

    def answer(self, run: CliRun) -> str: ...


class _Cli:
    tool = ""

    def __init__(self, binary: Path, version: str, home: Path) -> None:
        self.binary = binary
        self.version = version
        self.home = home
        self.workdir = home / "work"  # the project directory the CLI works in
        self.workdir.mkdir(parents=True, exist_ok=True)
        (home / "tmp").mkdir(exist_ok=True)


class ClaudeCode(_Cli):
    """``claude -p … --output-format json``; ``base_url`` is the proxy root or ``<proxy>/anthropic``."""

    tool = "claude-code"

    def run(self, prompt: str, base_url: str, *, allow_shell: bool = False) -> CliRun:
        env = {
            **base_env(self.home),
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": "sk-ant-test-e2e",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        command = [str(self.binary), "-p", prompt, "--output-format", "json"]
        if allow_shell:
            # --dangerously-skip-permissions is refused when running as root; a tool allow-list is not.
            command += ["--allowedTools", "Bash"]
        return run_cli(command, env, self.workdir)

    def answer(self, run: CliRun) -> str:
        result = _json_stdout(run).get("result")
        return result if isinstance(result, str) else ""

    @staticmethod
    def session_id(run: CliRun) -> str | None:
        session = _json_stdout(run).get("session_id")
        return session if isinstance(session, str) else None


class CodexCli(_Cli):
    """``codex exec`` with a custom provider (plain HTTP + SSE: no WebSocket attempt, no /models)."""

    tool = "codex-cli"

    def run(self, prompt: str, base_url: str, *, allow_shell: bool = False) -> CliRun:
        codex_home = self.home / "codex"
        codex_home.mkdir(exist_ok=True)
        (codex_home / "config.toml").write_text(
            f'model_provider = "proxy"\n'
            f'model = "{CODEX_MODEL}"\n'
            f"[model_providers.proxy]\n"
            f'name = "proxy"\n'
            f'base_url = "{base_url}"\n'
            f'env_key = "PROXY_API_KEY"\n'
            f'wire_api = "responses"\n'
            f"request_max_retries = 0\n"
            f"stream_max_retries = 0\n"
        )
        env = {**base_env(self.home), "CODEX_HOME": str(codex_home), "PROXY_API_KEY": "sk-test-e2e"}
        command = [str(self.binary), "exec", "--skip-git-repo-check"]
        if allow_shell:
            command += ["--sandbox", "danger-full-access"]  # the default read-only sandbox needs bubblewrap
        command.append(prompt)
        return run_cli(command, env, self.workdir)

    def answer(self, run: CliRun) -> str:
        return run.stdout.strip()  # exec prints only the final message on stdout

    @staticmethod
    def session_id(run: CliRun) -> str | None:
        match = re.search(r"^session id: (\S+)$", run.stderr, re.MULTILINE)
        return match.group(1) if match else None


class GeminiCli(_Cli):
    """``gemini -p … -o json`` in API-key mode."""

    tool = "gemini-cli"

    def __init__(self, binary: Path, version: str, home: Path) -> None:
        super().__init__(binary, version, home)
        settings = home / ".gemini" / "settings.json"
        settings.parent.mkdir(exist_ok=True)
        # 0.61 turns a custom base URL into auth type "gateway", which -p rejects; pin API-key auth.
        settings.write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))

    def run(self, prompt: str, base_url: str, *, allow_shell: bool = False) -> CliRun:
        env = {
            **base_env(self.home),
            "GEMINI_API_KEY": "gemini-test-e2e",
            "GOOGLE_GEMINI_BASE_URL": base_url,
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
        }
        command = [str(self.binary), "-p", prompt, "-o", "json"]
        if allow_shell:
            command.append("--yolo")
        return run_cli(command, env, self.workdir)

    def answer(self, run: CliRun) -> str:
        response = _json_stdout(run).get("response")
        return response if isinstance(response, str) else ""


def _json_stdout(run: CliRun) -> dict[str, object]:
    try:
        parsed = json.loads(run.stdout)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
