"""Who is calling: proxy-issued keys, a trusted identity header, or a pass-through vendor key.

The modes combine, in this order of precedence:

1. a proxy-issued key (``pp-…``): looked up by salted hash in an in-memory copy
   of ``api_keys`` (refreshed every ``key_cache_ttl_s`` by a background thread,
   so the request path never touches the database); the organisation's vendor
   key goes upstream instead. An unknown, revoked or expired one is refused.
2. with ``require_proxy_key``, nothing else is accepted.
3. the trusted identity header (and team header), only from ``trusted_networks``;
   if the client sent no key of its own, the organisation's vendor key is used.
4. a vendor key passed through: the principal is a salted fingerprint of it.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import structlog

from proxy.config import Settings
from proxy.hooks import Identity, Unauthenticated
from proxy.store.api_keys import ActiveKey, active_keys, is_proxy_key, key_hash, load_or_create_salt
from proxy.store.db import Database, shared_engine
from proxy.store.errors import StoreError

log = structlog.get_logger("provproxy.principals")

VENDOR_KEY_PREFIX = "vk:"


def salt_cache_file(settings: Settings) -> Path:
    """Where the database's key salt is copied, next to the signing key (a secret of the same kind),
    so that the proxy starts while the database is down."""
    return settings.signing_key_file.with_name(settings.signing_key_file.name + ".key-salt")


class KeyPrincipalResolver:
    """:class:`proxy.hooks.PrincipalResolver` for all three identity modes. Call :meth:`close` at shutdown."""

    def __init__(self, settings: Settings, engine: Database | None = None) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self._engine = engine or shared_engine(settings.database_url, settings.database_busy_timeout_ms)
        self._salt = load_or_create_salt(self._engine, settings.key_salt, salt_cache_file(settings))
        self._networks = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_networks]
        self._keys: dict[str, ActiveKey] = {}
        self._closed = threading.Event()
        self.refresh()
        self._refresher = threading.Thread(target=self._refresh_loop, name="provproxy-keys", daemon=True)
        self._refresher.start()

    def resolve(
        self,
        vendor: str,
        presented_key: str | None,
        headers: Mapping[str, str],
        client_addr: str | None,
        identity: Identity,
    ) -> None:
        if presented_key and is_proxy_key(presented_key):
            self._resolve_proxy_key(vendor, presented_key, identity)
            return
        if self.settings.require_proxy_key:
            raise Unauthenticated("a proxy-issued key is required")
        header_user = self._trusted_header(self.settings.trusted_identity_header, headers, client_addr)
        if header_user:
            identity.principal, identity.principal_kind = header_user, "header"
            identity.team = self._trusted_header(self.settings.trusted_team_header, headers, client_addr)
            if not presented_key:
                identity.upstream_key = self.settings.vendor_key_for(vendor)
            return
        if presented_key:
            identity.principal, identity.principal_kind = self.fingerprint(presented_key), "vendor_key"

    def fingerprint(self, vendor_key: str) -> str:
        """A stable pseudonym for a vendor key: ``vk:`` and 16 hex digits of its salted hash."""
        return VENDOR_KEY_PREFIX + key_hash(self._salt, vendor_key)[:16]

    def refresh(self) -> None:
        """Reload the active keys (the background thread does this every ``key_cache_ttl_s``)."""
        try:
            keys = active_keys(self._engine)
        except StoreError as exc:
            log.warning("could not refresh API keys; keeping the last copy", error=str(exc).splitlines()[0])
            return
        self._keys = keys  # swapped whole: readers see the old or the new copy, never a mix

    def close(self) -> None:
        self._closed.set()
        self._refresher.join(timeout=5)
        if self._own_engine:
            self._engine.dispose()  # the shared engine's idle connections; it stays usable

    def _refresh_loop(self) -> None:
        while not self._closed.wait(self.settings.key_cache_ttl_s):
            self.refresh()

    def _resolve_proxy_key(self, vendor: str, key: str, identity: Identity) -> None:
        active = self._keys.get(key_hash(self._salt, key))
        if active is None:
            raise Unauthenticated("unknown or revoked proxy key")
        if active.expires_at is not None and active.expires_at <= datetime.now(UTC):
            raise Unauthenticated("expired proxy key")
        upstream_key = self.settings.vendor_key_for(vendor)
        if upstream_key is None:  # a proxy key must never be forwarded to the vendor
            raise Unauthenticated(f"this proxy has no organisation {vendor} key for proxy-issued keys")
        identity.principal, identity.principal_kind, identity.team = active.user, "proxy_key", active.team
        identity.upstream_key = upstream_key

    def _trusted_header(self, name: str | None, headers: Mapping[str, str], client_addr: str | None) -> str | None:
        if not name or not self._is_trusted(client_addr):
            return None
        value = headers.get(name.lower(), "").strip()
        return value or None

    def _is_trusted(self, client_addr: str | None) -> bool:
        if not client_addr or not self._networks:
            return False
        try:
            address = ipaddress.ip_address(client_addr)
        except ValueError:
            return False
        return any(address in network for network in self._networks)
