"""After login the console goes back to the page asked for, never to another site."""

from __future__ import annotations

import pytest

from proxy.console.web.routes_login import local_path


@pytest.mark.parametrize(
    "target",
    ["/events?decision=block&since=7d", "/principals/alice%40example.com", "/events/0193-ab#provenance"],
)
def test_a_page_of_the_console_is_kept(target: str) -> None:
    assert local_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",  # browsers drop the tab: "//evil.example"
        "/\n/evil.example",
        "/\r\n/evil.example",
        "events",
        "javascript:alert(1)",
    ],
)
def test_anything_else_goes_to_the_overview(target: str | None) -> None:
    assert local_path(target) == "/"
