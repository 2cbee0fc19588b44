#!/usr/bin/env bash
# Install what the tests need into ./.venv (and ./.node for the vendor CLIs),
# then lint, type-check and run the whole test suite. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# The real vendor CLIs, pinned to the versions whose wire protocol is documented.
if command -v npm >/dev/null 2>&1; then
  if [ ! -x .node/node_modules/.bin/gemini ] || ! grep -q '"@openai/codex": "0.169.0"' .node/package.json 2>/dev/null; then
    mkdir -p .node
    npm install --prefix .node --no-audit --no-fund --loglevel=error \
      @anthropic-ai/claude-code@2.1.197 @openai/codex@0.169.0 @google/gemini-cli@0.61.0
  fi
else
  echo "scripts/test.sh: npm not found: the Claude Code / Codex / Gemini CLI tests will be skipped" >&2
fi

.venv/bin/ruff check proxy tests bench
.venv/bin/mypy
# Formatting is checked, not applied: run `.venv/bin/ruff format proxy tests bench` to fix it.
.venv/bin/ruff format --check proxy tests bench
exec .venv/bin/python -m pytest "$@"
