"""Which credentials a request carries, wherever a client (or an attacker) may put them.

The principal must be the one behind the credential that actually goes upstream, so
the authenticate phase reads it from the headers as they will be forwarded (a header
named in ``Connection`` is dropped, so it names no one), and refuses a request that
presents two different credentials: whichever one the upstream honours, the record
could name the other. Query parameter names are compared decoded (``%6Bey`` is ``key``)
and without case, because that is how the upstream reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_plus

# Headers that carry an API key or token, for any vendor.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key"})
# Query parameters that carry one (Google APIs read ``key`` and OAuth's ``access_token``).
CREDENTIAL_QUERY_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "oauth_token", "token", "x-api-key", "x-goog-api-key"}
)


def query_pairs(query: str) -> list[tuple[str, str]]:
    """The raw query string's parameters, names and values percent-decoded, in order."""
    if not query:
        return []
    pairs = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def is_credential_param(decoded_name: str, extra: Iterable[str] = ()) -> bool:
    name = decoded_name.strip().lower()
    return name in CREDENTIAL_QUERY_PARAMS or name in extra


def presented_credentials(raw_headers: Iterable[tuple[bytes, bytes]], query: Iterable[tuple[str, str]]) -> set[str]:
    """Every distinct credential value in the request: all credential headers (duplicates
    and hop-by-hop ones too) and query parameters; a ``Bearer`` token counts as its token."""
    found: set[str] = set()
    for name, raw_value in raw_headers:
        lower = name.lower().decode("latin-1")
        if lower not in CREDENTIAL_HEADERS:
            continue
        value = raw_value.decode("latin-1").strip()
        if lower == "authorization" and value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if value:
            found.add(value)
    found.update(value for name, value in query if value and is_credential_param(name))
    return found
