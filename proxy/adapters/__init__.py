"""Vendor adapters and the path router that picks one per request.

Each vendor answers under its own prefix (``/anthropic``, ``/openai``,
``/gemini``) so that a base URL is never ambiguous; unprefixed vendor paths
work too, disambiguated by the vendor-specific headers clients send.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.adapters import anthropic, gemini, openai
from proxy.adapters.base import Adapter, Route

ADAPTERS: tuple[Adapter, ...] = (anthropic.ADAPTER, openai.ADAPTER, gemini.ADAPTER)
# The vendor names, in registry order: settings keys, CLI choices, recorded ``vendor`` values.
VENDORS: tuple[str, ...] = tuple(adapter.vendor for adapter in ADAPTERS)
_BY_VENDOR: dict[str, Adapter] = {adapter.vendor: adapter for adapter in ADAPTERS}


def adapter_for(vendor: str) -> Adapter:
    """The adapter of a vendor name; ``KeyError`` for a vendor none serves."""
    return _BY_VENDOR[vendor]


def _match_order(path: str, headers: Mapping[str, str]) -> tuple[Adapter, ...]:
    """Adapters in the order an unprefixed path is tried. Only paths two
    vendors share (``GET /v1/models[/{id}]``) depend on the order."""
    if "anthropic-version" in headers:
        return (anthropic.ADAPTER, openai.ADAPTER, gemini.ADAPTER)
    if gemini.ADAPTER.claims("", path, headers):
        return (gemini.ADAPTER, openai.ADAPTER, anthropic.ADAPTER)
    return (openai.ADAPTER, anthropic.ADAPTER, gemini.ADAPTER)


def resolve_route(
    method: str, path: str, headers: Mapping[str, str]
) -> tuple[Adapter, Route] | tuple[Adapter, None] | tuple[None, None]:
    """The adapter and route for a request, or the adapter whose 404 shape
    suits an unmatched path (with ``None``). ``headers`` has lower-case keys."""
    path = path.split("?", 1)[0]
    method = method.upper()
    for adapter in ADAPTERS:
        prefix = adapter.prefix
        if path == prefix or path.startswith(prefix + "/"):
            prefixed = adapter.match(method, path[len(prefix) :] or "/", headers)
            return (adapter, prefixed) if prefixed is not None else (adapter, None)
    for adapter in _match_order(path, headers):
        route = adapter.match(method, path, headers)
        if route is not None:
            return adapter, route
    for adapter in (anthropic.ADAPTER, gemini.ADAPTER, openai.ADAPTER):
        if adapter.claims(method, path, headers):
            return adapter, None
    return None, None


__all__ = ["ADAPTERS", "VENDORS", "adapter_for", "resolve_route"]
