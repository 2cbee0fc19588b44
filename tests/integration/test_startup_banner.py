"""``provproxy serve`` says what it is doing before it listens (issue 11, item 18)."""

from __future__ import annotations

import socket

from proxy.adapters import ADAPTERS
from tests.support.fixtures_proxy import ProxyFactory


def test_serve_prints_upstreams_database_policy_spool_and_base_urls(start_proxy: ProxyFactory) -> None:
    with socket.socket() as sock:  # a PostgreSQL that is down: serve starts anyway, and says where it looks
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proxy = start_proxy(database_url=f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/provproxy")
    log = proxy.log()
    banner = [line.removeprefix("provproxy: ") for line in log.splitlines() if line.startswith("provproxy: ")]
    assert "s3cret-pw" not in log
    assert f"database: postgresql://alice:***@127.0.0.1:{port}/provproxy" in banner
    for adapter in ADAPTERS:
        assert f"upstream {adapter.vendor}: {proxy.env[f'PROVPROXY_UPSTREAM_{adapter.vendor.upper()}']} " in "\n".join(
            line + " " for line in banner
        )
        assert any(line.startswith(f"{adapter.vendor} base URL {proxy.url}{adapter.prefix} ") for line in banner)
    assert any(line.startswith("policy: ") and line.endswith("default.yaml") for line in banner), banner
    assert any(line.startswith(f"spool: {proxy.env['PROVPROXY_SPOOL_DIR']} ") for line in banner), banner
