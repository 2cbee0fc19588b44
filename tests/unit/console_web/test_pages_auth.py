"""The pages' authentication and CSRF checks, in process: the console app on a fresh SQLite store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from proxy.config import Settings
from proxy.console.app import create_console_app
from proxy.store.admin_tokens import create_token, revoke_token
from proxy.store.console_session import read_session
from proxy.store.migrate import upgrade

ORIGIN = "https://console.test"


@pytest.fixture()
def app(tmp_path: Path) -> FastAPI:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url,
        key_salt="unit-salt",
        spool_dir=tmp_path / "spool",
        checkpoint_dir=tmp_path / "checkpoints",
        signing_key_file=tmp_path / "signing-key.pem",
    )
    return create_console_app(settings)


def _token(app: FastAPI, role: str) -> tuple[str, str]:
    with read_session(app.state.engine) as session:
        issued = create_token(session, app.state.salt, f"{role}-person", role)
    return issued.id, issued.token


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=ORIGIN) as client:
        yield client


def _login(client: TestClient, token: str) -> None:
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    response = client.post(
        "/login", data={"csrf": csrf.group(1), "token": token, "next": "/events"}, headers={"origin": ORIGIN}
    )
    assert response.status_code == 200 and str(response.url).endswith("/events"), response.text[:500]


def _csrf(client: TestClient, path: str = "/events") -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_pages_redirect_to_login_and_the_api_still_says_401(client: TestClient) -> None:
    page = client.get("/events?decision=block", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fevents%3Fdecision%3Dblock"
    assert client.get("/api/v1/events").status_code == 401


def test_login_needs_its_form_token_and_a_valid_admin_token(app: FastAPI, client: TestClient) -> None:
    _, token = _token(app, "viewer")
    client.get("/login")
    refused = client.post("/login", data={"token": token}, headers={"origin": ORIGIN}, follow_redirects=False)
    assert refused.status_code == 403 and "provproxy_session" not in refused.headers.get("set-cookie", "")
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    wrong = client.post("/login", data={"csrf": csrf.group(1), "token": "ppa-nope"}, headers={"origin": ORIGIN})
    assert wrong.status_code == 401


def test_login_never_redirects_off_site(app: FastAPI, client: TestClient) -> None:
    _, token = _token(app, "viewer")
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    response = client.post(
        "/login",
        data={"csrf": csrf.group(1), "token": token, "next": "//evil.example/x"},
        headers={"origin": ORIGIN},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie and token not in cookie


def test_a_revoked_token_ends_its_session(app: FastAPI, client: TestClient) -> None:
    token_id, token = _token(app, "auditor")
    _login(client, token)
    assert client.get("/api/v1/events").status_code == 200
    with read_session(app.state.engine) as session:
        assert revoke_token(session, token_id) is not None
    assert client.get("/api/v1/events").status_code == 401
    assert client.get("/events", follow_redirects=False).status_code == 303


def test_cookie_posts_need_the_csrf_token_and_the_origin(app: FastAPI, client: TestClient) -> None:
    _, token = _token(app, "auditor")
    _login(client, token)
    csrf = _csrf(client)
    missing = "/triage/00000000-0000-7000-8000-000000000000"
    good = {"verdict": "benign", "csrf": csrf}
    assert client.post(missing, data={"verdict": "benign"}, headers={"origin": ORIGIN}).status_code == 403
    assert client.post(missing, data=good, headers={"origin": "https://evil.example"}).status_code == 403
    assert client.post(missing, data=good).status_code == 403  # neither Origin nor Referer
    assert client.post(missing, data=good, headers={"origin": ORIGIN}).status_code == 404  # genuine: no such call
    api = "/api/v1" + missing
    assert client.post(api, json={"verdict": "benign"}, headers={"origin": ORIGIN}).status_code == 403
    headers = {"origin": ORIGIN, "x-csrf-token": csrf}
    assert client.post(api, json={"verdict": "benign"}, headers=headers).status_code == 404


def test_bearer_callers_are_not_held_to_browser_checks_on_the_api(app: FastAPI, client: TestClient) -> None:
    _, token = _token(app, "auditor")
    missing = "/api/v1/triage/00000000-0000-7000-8000-000000000000"
    response = client.post(missing, json={"verdict": "benign"}, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 404


def test_a_viewer_is_refused_auditor_pages(app: FastAPI, client: TestClient) -> None:
    _, token = _token(app, "viewer")
    _login(client, token)
    assert client.get("/triage").status_code == 403
    csrf = _csrf(client)
    posted = client.post("/policy/replay", data={"csrf": csrf, "policy": "rules: []\n"}, headers={"origin": ORIGIN})
    assert posted.status_code == 403


def test_empty_filters_are_dropped_from_the_url(app: FastAPI, client: TestClient) -> None:
    _, token = _token(app, "viewer")
    _login(client, token)
    response = client.get("/events?user=&decision=block&q=", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/events?decision=block"
    assert client.get("/events?decision=sometimes").status_code == 400
