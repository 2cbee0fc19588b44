"""Item 14 of issue 11: a second ``provproxy serve`` on the same spool fails at once, naming the first."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.fixtures_proxy import ProxyFactory, ProxyProcess


def test_second_serve_in_the_same_directory_fails_at_once(start_proxy: ProxyFactory) -> None:
    first = start_proxy()
    assert first.proc is not None
    segments_before = sorted(p.name for p in (first.workdir / "spool").glob("*.spool"))

    second = ProxyProcess(first.workdir, {k: v for k, v in first.env.items() if k != "PROVPROXY_PORT"})
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "proxy", "serve"],
            cwd=second.workdir,
            env=second.env,
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a second `provproxy serve` on the same spool hung instead of failing")
    elapsed = time.monotonic() - started

    assert result.returncode == 2
    output = result.stdout + result.stderr
    # One line that names the other process, not a startup traceback around it.
    assert output.count("\n") == 1 and f"pid {first.proc.pid}" in output, output
    assert "Traceback" not in output
    assert elapsed < 15
    # It left nothing behind: no new spool segment, no loader of its own (the first still works).
    assert sorted(p.name for p in (first.workdir / "spool").glob("*.spool")) == segments_before
    assert first.proc.poll() is None
