"""Templates to responses: one Jinja2 environment (autoescaped), the headers every page carries,
and the small helpers the templates use (links that keep the current filters, times, numbers)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from proxy.console.auth import ROLE_RANK, Caller
from proxy.console.web.markdown import render_markdown

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
# No inline script or style anywhere: the pages' own files only (inline SVG charts use attributes).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",  # pages may show bodies: not for shared or disk caches
}

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(value: Any) -> str:
    """A time as analysts read it: UTC, to the second."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(value.strftime("%Y-%m-%d %H:%M:%S"))


def number(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


_env.filters["when"] = when
_env.filters["number"] = number
_env.filters["markdown"] = render_markdown


def query_string(params: dict[str, Any]) -> str:
    """``params`` without empty values, as a query string (``?`` included, or nothing)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


_env.globals["query_string"] = query_string  # macros are imported without the page's context


def render(request: Request, template: str, caller: Caller | None, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` for ``caller`` (None on the login page), with the security headers."""
    authenticator = request.app.state.authenticator
    current = dict(request.query_params)

    def url_with(**changes: Any) -> str:
        return request.url.path + query_string({**current, **changes})

    html = _env.get_template(template).render(
        request=request,
        caller=caller,
        csrf=authenticator.csrf_token(caller) if caller is not None else "",
        can=lambda role: caller is not None and ROLE_RANK[caller.role] >= ROLE_RANK[role],
        params=current,
        url_with=url_with,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
