"""The console's web pages in a real browser (headless chromium through Playwright), against a real
``provproxy serve`` recording through the fake vendor and a real ``provproxy admin`` on its database.

One browser and one server for the module; each test signs in through the login form."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session

from proxy.store.db import create_db_engine
from proxy.store.signal_models import SignalHitRow
from tests.integration.console_pages_support import PHONE, Shots, csrf_of, launch_browser, login, overflows
from tests.integration.console_support import CODE_REVIEW, EVAL_TASKS, ConsoleStack, start_console, wait_for
from tests.support.fixtures_proxy import ProxyFactory

MARKER = f"pages-{uuid.uuid4().hex[:10]}"
SESSION = str(uuid.uuid4())
# The completion comes back as Markdown with markup in it: it must render as text, never as HTML.
REPLY = f"Fixed in **{MARKER}-done**: run `pytest -x` <b id=injected>bold</b>"
WRITTEN_FILE = "src/graders/grade_tasks.py"


@dataclass
class Recorded:
    allowed: str
    tool_call: str
    flagged: tuple[str, ...]  # newest first, as the queue lists them
    blocked: str
    principal: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_vendor: object) -> Iterator[ConsoleStack]:
    workdir = tmp_path_factory.mktemp("console-pages")
    factory = ProxyFactory(workdir, fake_vendor.url)  # type: ignore[attr-defined]
    console = start_console(factory, f"sqlite:///{workdir / 'provproxy.db'}")
    yield console
    console.stop()
    console.webhook.close()
    factory.stop_all()


@pytest.fixture(scope="module")
def recorded(stack: ConsoleStack) -> Recorded:
    quoted = REPLY.replace("'", "")
    allowed = stack.call(f"Fix the failing build in {MARKER} please. [[fake:text reply='{quoted}']]", SESSION)
    args = json.dumps({"file_path": WRITTEN_FILE, "content": "print('graded')"})
    tool = stack.call(f"Write the grader file for {MARKER} [[fake:tool_call tool=Write args='{args}']]", SESSION)
    older = stack.call(f"{CODE_REVIEW} {MARKER} first", SESSION)
    newer = stack.call(f"{CODE_REVIEW} {MARKER} second", SESSION)
    blocked = stack.call(f"{EVAL_TASKS} {MARKER}", SESSION)
    assert [r.status_code for r in (allowed, tool, older, newer, blocked)] == [200, 200, 200, 200, 400]
    ids = [r.headers["x-provenance-id"] for r in (allowed, tool, older, newer, blocked)]
    events = wait_for(
        lambda: (
            (found := stack.get(f"/api/v1/sessions/{SESSION}").json().get("events"))
            and len(found) == 5
            and all(e["seq"] for e in found)
            and found
        ),
        what="the session's calls recorded",
    )
    decisions = {e["id"]: e["decision"] for e in events}
    assert decisions[ids[2]] == decisions[ids[3]] == "flag" and decisions[ids[4]] == "block"
    checkpoint = stack.cli("provenance", "checkpoint")
    assert checkpoint.returncode == 0, checkpoint.stderr
    flagged = tuple(e["id"] for e in reversed(events) if e["decision"] == "flag")  # newest first, as queued
    return Recorded(ids[0], ids[1], flagged, ids[4], events[0]["principal"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_browser()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    import os

    directory = Path(os.environ.get("PROVPROXY_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    print(f"\nconsole page screenshots: {directory}")
    return Shots(directory)


@pytest.fixture(scope="module")
def auditor(browser: Browser, stack: ConsoleStack, recorded: Recorded) -> Iterator[BrowserContext]:
    context = login(browser, stack.url, stack.tokens["auditor"])
    yield context
    context.close()


@pytest.fixture(scope="module")
def viewer(browser: Browser, stack: ConsoleStack, recorded: Recorded) -> Iterator[BrowserContext]:
    context = login(browser, stack.url, stack.tokens["viewer"])
    yield context
    context.close()


@pytest.fixture()
def page(auditor: BrowserContext) -> Iterator[Page]:
    page = auditor.new_page()
    yield page
    page.close()


def test_login_sets_a_hardened_session_cookie_without_the_token(
    browser: Browser, stack: ConsoleStack, recorded: Recorded, shots: Shots
) -> None:
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    page.goto("/events?decision=block")
    assert "/login" in page.url  # not signed in: to the login form, and back afterwards
    page.fill("#token", "ppa-" + "x" * 43)
    page.click("#sign-in")
    expect(page.locator(".error")).to_have_text("That token is not valid.")
    shots.take(page, "login")
    page.fill("#token", stack.tokens["auditor"])
    page.click("#sign-in")
    page.wait_for_url(re.compile(r".*/events\?decision=block$"))
    (cookie,) = [c for c in context.cookies() if c["name"] == "provproxy_session"]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert stack.tokens["auditor"] not in cookie["value"] and stack.tokens["auditor"][4:20] not in cookie["value"]
    # The pages' own fetches reach the API with the cookie alone.
    assert page.request.get("/api/v1/events?limit=1").status == 200
    context.close()


def test_overview_shows_traffic_health_and_work(page: Page, recorded: Recorded, shots: Shots) -> None:
    page.goto("/")
    expect(page.locator(".tile.block strong")).not_to_have_text("0")
    expect(page.locator("svg.timeline rect.blocks").first).to_be_attached()
    expect(page.get_by_role("link", name=recorded.principal).first).to_be_visible()
    checks = page.locator("dl.checks")
    expect(checks).to_contain_text("last checkpoint")
    expect(checks).to_contain_text("spool backlog")
    expect(page.locator("#main, main")).to_contain_text("No alerts.")  # the alert tables exist, still empty
    shots.take(page, "overview", readme=True)


def test_events_filter_search_and_export(page: Page, recorded: Recorded, shots: Shots) -> None:
    page.goto("/events")
    page.fill('input[name="q"]', MARKER)
    page.select_option('select[name="decision"]', "block")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r".*decision=block.*"))
    assert f"q={MARKER}" in page.url  # the view is a URL an analyst can paste
    rows = page.locator("table.events tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".pill")).to_have_text("block")
    shots.take(page, "events")
    with page.expect_download() as download_info:
        page.click("a.export-csv")
    download = download_info.value
    assert download.suggested_filename == "events.csv"
    exported = Path(download.path()).read_text()
    assert recorded.blocked in exported and recorded.allowed not in exported


def test_blocked_call_is_explained_with_its_provenance(
    page: Page, stack: ConsoleStack, recorded: Recorded, shots: Shots
) -> None:
    page.goto(f"/events?q={MARKER}&decision=block")
    page.click("a.event-link")
    page.wait_for_url(f"**/events/{recorded.blocked}")
    explanation = page.locator("#explanation")
    expect(explanation).to_contain_text("This call was blocked")
    expect(explanation).to_contain_text("eval_task_generation")
    expect(explanation).to_contain_text("block-eval-task-generation")
    expect(page.locator("#instruction")).to_contain_text("SWE-bench style evaluation tasks")
    expect(page.locator("#provenance")).to_contain_text("covered by the checkpoint")
    shots.take(page, "blocked-call", readme=True)
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("VALID")
    with page.expect_download() as download_info:
        page.click("#attestation")
    envelope = json.loads(Path(download_info.value.path()).read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"


def test_completion_renders_as_markdown_and_tool_calls_name_their_files(page: Page, recorded: Recorded) -> None:
    page.goto(f"/events/{recorded.allowed}")
    completion = page.locator("#completion")
    expect(completion.locator("strong")).to_have_text(f"{MARKER}-done")
    expect(completion.locator("code")).to_have_text("pytest -x")
    expect(completion).to_contain_text("<b id=injected>bold</b>")  # shown as text...
    expect(page.locator("#injected")).to_have_count(0)  # ...never made into markup
    page.goto(f"/events/{recorded.tool_call}")
    expect(page.locator("#tool-calls code.file")).to_have_text(WRITTEN_FILE)


def test_a_session_is_one_timeline(page: Page, recorded: Recorded, shots: Shots) -> None:
    page.goto(f"/events/{recorded.blocked}")
    page.click("#session-link")
    page.wait_for_url(f"**/sessions/{SESSION}")
    calls = page.locator("#session-calls li")
    expect(calls).to_have_count(5)
    expect(calls.first).to_contain_text("allow")
    expect(calls.last).to_contain_text("block")
    expect(page.locator("svg.strip rect")).to_have_count(5)
    shots.take(page, "session")
    page.get_by_role("link", name=recorded.principal).first.click()
    page.wait_for_url(f"**/principals/{recorded.principal}")
    expect(page.locator("#signals")).to_contain_text("No signal names this person.")
    expect(page.locator("table.events tbody tr")).to_have_count(5)
    shots.take(page, "principal")


def test_triage_with_the_keyboard(page: Page, stack: ConsoleStack, recorded: Recorded, shots: Shots) -> None:
    newest, second = recorded.flagged[:2]
    page.goto(f"/triage?user={recorded.principal}")
    items = page.locator("#queue li.item")
    expect(items).to_have_count(len(recorded.flagged))
    shots.take(page, "triage")
    expect(page.locator("#queue li.selected")).to_have_attribute("data-event", newest)
    page.keyboard.press("j")  # to the next one down
    expect(page.locator("#queue li.selected")).to_have_attribute("data-event", second)
    page.locator("#queue li.selected input[name=note]").fill("ordinary review")
    page.locator("#queue li.selected input[name=note]").press("Escape")
    page.keyboard.press("b")
    expect(items).to_have_count(len(recorded.flagged) - 1)
    assert "user=" in page.url  # back on the same filtered queue
    expect(page.locator("#queue li.selected")).to_have_attribute("data-event", newest)
    page.keyboard.press("v")
    expect(items).to_have_count(len(recorded.flagged) - 2)
    older, newer = second, newest
    verdicts = {e: stack.get(f"/api/v1/events/{e}").json()["verdicts"] for e in (older, newer)}
    assert [(v["verdict"], v["note"], v["actor"]) for v in verdicts[older]] == [
        ("benign", "ordinary review", "auditor-person")
    ]
    assert [v["verdict"] for v in verdicts[newer]] == ["violation"]


def test_policy_replay(page: Page, recorded: Recorded, shots: Shots) -> None:
    page.goto("/policy")
    expect(page.locator("#live-policy")).to_contain_text("block-eval-task-generation")
    page.fill("#policy", "version: 1\ndefault_action: allow\nrules: []\n")
    page.fill('input[name="since"]', "1h")
    page.click("#run-replay")
    report = page.locator("#replay-report")
    expect(report).to_contain_text("calls decided again")
    expect(page.locator("#replay-changes")).to_contain_text("block → allow")
    shots.take(page, "policy-replay")
    page.fill("#policy", "rules:\n  - id: x\n    action: maybe\n")
    page.click("#run-replay")
    expect(page.locator("#replay-error")).to_contain_text("line")


def test_forms_refuse_posts_without_their_csrf_token(page: Page, stack: ConsoleStack, recorded: Recorded) -> None:
    page.goto("/triage")
    token = csrf_of(page)
    target = f"/triage/{recorded.allowed}"
    same_site = {"origin": stack.url}
    assert page.request.post(target, form={"verdict": "benign"}, headers=same_site).status == 403
    assert page.request.post(target, form={"verdict": "benign", "csrf": "x" * 43}, headers=same_site).status == 403
    forged = {"origin": "http://evil.example"}
    assert page.request.post(target, form={"verdict": "benign", "csrf": token}, headers=forged).status == 403
    # The API, reached with the cookie, wants the token in a header too.
    body = {"verdict": "benign"}
    assert page.request.post(f"/api/v1{target}", data=body, headers=same_site).status == 403
    assert stack.get(f"/api/v1/events/{recorded.allowed}").json()["verdicts"] == []
    done = page.request.post(f"/api/v1{target}", data=body, headers={**same_site, "x-csrf-token": token})
    assert done.status == 201


def test_a_viewer_never_receives_bodies_nor_posts_verdicts(
    viewer: BrowserContext, stack: ConsoleStack, recorded: Recorded
) -> None:
    page = viewer.new_page()
    for event_id in (recorded.allowed, recorded.blocked):
        response = page.goto(f"/events/{event_id}")
        assert response is not None and response.status == 200
        source = response.text()
        assert MARKER not in source and "SWE-bench" not in source and "pytest -x" not in source
        expect(page.locator("#bodies-hidden")).to_be_visible()
        expect(page.locator("form.verdict")).to_have_count(0)
    token = csrf_of(page)
    response = page.goto("/triage")
    assert response is not None and response.status == 403
    target = f"/triage/{recorded.blocked}"
    posted = page.request.post(target, form={"verdict": "benign", "csrf": token}, headers={"origin": stack.url})
    assert posted.status == 403
    assert stack.get(f"/api/v1/events/{recorded.blocked}").json()["verdicts"] == []
    page.close()


def test_pages_fit_a_phone(browser: Browser, stack: ConsoleStack, recorded: Recorded, shots: Shots) -> None:
    context = login(browser, stack.url, stack.tokens["admin"], viewport=PHONE)
    page = context.new_page()
    pages = {
        "overview": "/",
        "events": "/events",
        "call": f"/events/{recorded.tool_call}",
        "session": f"/sessions/{SESSION}",
        "principal": f"/principals/{recorded.principal}",
        "triage": "/triage",
        "policy": "/policy",
    }
    wide = []
    for name, path in pages.items():
        page.goto(path)
        shots.take(page, f"phone-{name}")
        if overflows(page):
            wide.append(name)
    assert wide == []
    context.close()


def test_logout_and_revocation_end_the_session(browser: Browser, stack: ConsoleStack, recorded: Recorded) -> None:
    context = login(browser, stack.url, stack.tokens["auditor"])
    page = context.new_page()
    page.goto("/events")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto("/events")
    assert "/login" in page.url
    assert page.request.get("/api/v1/events").status == 401
    context.close()
    # A token revoked after login ends its sessions at their next request.
    admin = {"authorization": f"Bearer {stack.tokens['admin']}"}
    issued = httpx.post(
        f"{stack.url}/api/v1/admin/tokens", json={"name": "short-lived", "role": "viewer"}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    context = login(browser, stack.url, issued.json()["token"])
    page = context.new_page()
    page.goto("/events")
    assert "/login" not in page.url
    revoked = httpx.delete(f"{stack.url}/api/v1/admin/tokens/{issued.json()['id']}", headers=admin)
    assert revoked.status_code < 300, revoked.text
    page.goto("/events")
    assert "/login" in page.url
    context.close()


def test_a_signal_becomes_an_alert_shown_with_its_evidence(
    page: Page, stack: ConsoleStack, recorded: Recorded, shots: Shots
) -> None:
    """A distillation signal on this person, as the signal engine writes it: the running console's
    alert runner raises the alert, and the person's page shows both, linked to the calls behind them."""
    now = datetime.now(UTC)
    engine = create_db_engine(stack.env["PROVPROXY_DATABASE_URL"])
    try:
        with Session(engine) as session:
            session.add(
                SignalHitRow(
                    signal="evasion",
                    scope_kind="principal",
                    scope=recorded.principal,
                    window_start=now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3),
                    window_end=now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2),
                    score=2.0,
                    principals=[recorded.principal],
                    event_ids=[recorded.blocked, recorded.allowed],
                    detail={"attempts": 4, "blocks": [recorded.blocked]},
                    updated_at=now,
                )
            )
            session.commit()
    finally:
        engine.dispose()
    alerts = wait_for(
        lambda: stack.get("/api/v1/alerts", principal=recorded.principal).json(),
        what="the alert raised by the console's alert runner",
        timeout=30,
    )
    assert [alert["rule"] for alert in alerts] == ["policy-evasion"]
    page.goto(f"/principals/{recorded.principal}")
    expect(page.locator("#signals")).to_contain_text("evasion")
    expect(page.locator(f"#signals a[href='/events/{recorded.blocked}']").first).to_be_visible()
    expect(page.locator("#alerts")).to_contain_text("policy-evasion")
    expect(page.locator(f"#alerts a[href='/events/{recorded.blocked}']").first).to_be_visible()
    shots.take(page, "principal-with-signals")
