from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from proxy.config import Settings
from proxy.hooks import Identity, Unauthenticated
from proxy.principals import KeyPrincipalResolver
from proxy.store.api_keys import create_key, load_or_create_salt, revoke_key
from proxy.store.writer import DurableRecorder
from tests.support import store_fixtures
from tests.support.fixtures_pg import (
    PgServer,
    pg_server,  # noqa: F401  (the fixture, for the PostgreSQL runs)
)
from tests.support.store_fixtures import make_event, make_settings

# This module's fixtures (tests/support/store_fixtures.py says why they are assigned).
anyio_backend = store_fixtures.anyio_backend
database_url = store_fixtures.database_url
engine = store_fixtures.engine
settings = store_fixtures.settings

ORG_KEY = "sk-ant-org-0123456789abcdef0123456789"
VENDOR_KEY = "sk-ant-api03-engineer-own-key-ZYXWVUTSRQ"


@pytest.fixture
def make_resolver(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[Any]:
    resolvers: list[KeyPrincipalResolver] = []

    def make(**overrides: Any) -> KeyPrincipalResolver:
        settings = make_settings(database_url, tmp_path / "spool", anthropic_api_key=ORG_KEY, **overrides)
        resolver = KeyPrincipalResolver(settings, engine)
        resolvers.append(resolver)
        return resolver

    yield make
    for resolver in resolvers:
        resolver.close()


def issue(engine: Engine, user: str = "alice", team: str | None = "payments", **kwargs: Any) -> str:
    with Session(engine) as session:
        return create_key(session, load_or_create_salt(engine), user, team, kwargs.get("expires_at")).key


def resolve(
    resolver: KeyPrincipalResolver, key: str | None, headers: dict[str, str] | None = None, client: str = "127.0.0.1"
) -> Identity:
    identity = Identity()
    resolver.resolve("anthropic", key, headers or {}, client, identity)
    return identity


def test_proxy_key_names_the_user_and_sends_the_org_key_upstream(make_resolver: Any, engine: Engine) -> None:
    key = issue(engine)
    identity = resolve(make_resolver(), key)
    assert (identity.principal, identity.principal_kind, identity.team) == ("alice", "proxy_key", "payments")
    assert identity.upstream_key == ORG_KEY


def test_a_proxy_key_is_refused_rather_than_forwarded_when_no_org_key_is_configured(
    make_resolver: Any, engine: Engine
) -> None:
    key = issue(engine)
    identity = Identity()
    with pytest.raises(Unauthenticated, match="no organisation openai key"):
        make_resolver().resolve("openai", key, {}, "127.0.0.1", identity)  # only an Anthropic org key is set
    assert identity.upstream_key is None


def test_unknown_expired_and_revoked_proxy_keys_are_refused(make_resolver: Any, engine: Engine) -> None:
    expired = issue(engine, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    live = issue(engine, user="bob")
    resolver = make_resolver()
    with pytest.raises(Unauthenticated):
        resolve(resolver, "pp-" + "x" * 32)
    with pytest.raises(Unauthenticated):
        resolve(resolver, expired)
    assert resolve(resolver, live).principal == "bob"

    with Session(engine) as session:
        assert revoke_key(session, live[:8]) is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the background refresh picks the revocation up
        try:
            resolve(resolver, live)
        except Unauthenticated:
            break
        time.sleep(0.05)
    else:
        pytest.fail("revoked key still accepted")


def test_require_proxy_key_refuses_everything_else(make_resolver: Any) -> None:
    resolver = make_resolver(require_proxy_key=True)
    with pytest.raises(Unauthenticated):
        resolve(resolver, VENDOR_KEY)
    with pytest.raises(Unauthenticated):
        resolve(resolver, None)


def test_trusted_header_only_from_trusted_networks(make_resolver: Any) -> None:
    resolver = make_resolver(
        trusted_identity_header="X-Forwarded-User",
        trusted_team_header="X-Forwarded-Team",
        trusted_networks=["10.0.0.0/8", "::1/128"],
    )
    headers = {"x-forwarded-user": "carol", "x-forwarded-team": "ml"}
    trusted = resolve(resolver, None, headers, client="10.1.2.3")
    assert (trusted.principal, trusted.principal_kind, trusted.team) == ("carol", "header", "ml")
    assert trusted.upstream_key == ORG_KEY  # SSO users hold no vendor key
    assert resolve(resolver, VENDOR_KEY, headers, client="::1").upstream_key is None  # their own key goes up

    outsider = resolve(resolver, VENDOR_KEY, headers, client="192.168.1.9")
    assert outsider.principal_kind == "vendor_key" and outsider.team is None
    assert resolve(resolver, None, headers, client="not-an-ip").principal is None


def test_vendor_key_pseudonym_is_stable_salted_and_short(make_resolver: Any, database_url: str, tmp_path: Path) -> None:
    resolver = make_resolver()
    identity = resolve(resolver, VENDOR_KEY)
    assert identity.principal_kind == "vendor_key" and identity.upstream_key is None
    assert identity.principal == resolve(resolver, VENDOR_KEY).principal
    assert identity.principal is not None and identity.principal.startswith("vk:") and len(identity.principal) == 19
    other_salt = make_resolver(key_salt="another salt")
    assert resolve(other_salt, VENDOR_KEY).principal != identity.principal


@pytest.mark.anyio
async def test_no_clear_key_reaches_the_database(
    make_resolver: Any, engine: Engine, database_url: str, settings: Settings, request: pytest.FixtureRequest
) -> None:
    proxy_key = issue(engine)
    resolver = make_resolver()
    recorder = DurableRecorder(settings)
    await recorder.start()
    for key in (proxy_key, VENDOR_KEY):
        identity = resolve(resolver, key)
        await recorder.commit(make_event(principal=identity.principal, principal_kind=identity.principal_kind))
    await recorder.stop()
    engine.dispose()

    if database_url.startswith("sqlite"):
        db_file = Path(database_url.removeprefix("sqlite:///"))
        stored = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        stored = server.dump(database_url)
    assert b"alice" in stored  # the check can see the data at all
    for secret in (proxy_key, VENDOR_KEY, ORG_KEY, proxy_key[8:]):
        assert secret.encode() not in stored
