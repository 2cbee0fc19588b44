"""An alert as a Slack-compatible incoming-webhook message (``{"text", "blocks"}``), with links
to the console's pages of the people and calls involved. Mattermost, Rocket.Chat and Teams'
Slack-compatible endpoints take the same shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from proxy.siem.feed import WebhookSink

LINKED = 10  # people and calls linked in one message; the rest are counted
SECTION_MAX = 3000  # Slack's limit on a section's text
HEADER_MAX = 150  # and on a header's


def slack_message(alert: dict[str, Any], console_url: str) -> dict[str, Any]:
    base = console_url.rstrip("/")
    people = _links(base, "principals", [str(p) for p in alert["principals"]])
    calls = _links(base, "events", [str(e) for e in alert["event_ids"]])
    fields = [
        f"*Signal*\n{_escape(alert['signal'])}",
        f"*Score*\n{alert['score']:.2f} (threshold {alert['threshold']:g})",
        f"*Scope*\n{_escape(alert['scope_kind'])} {_escape(alert['scope'])}",
        f"*Raised*\n{alert['created_at']:%Y-%m-%d %H:%M} UTC",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Alert: {alert['rule']}"[:HEADER_MAX]}},
        _section(_escape(alert["summary"])),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
        _section(f"*People:* {people or '—'}"),
        _section(f"*Evidence:* {calls or '—'}"),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert {alert['id']} · Provenance Proxy"}]},
    ]
    return {"text": f"Alert {alert['rule']}: {alert['summary']}", "blocks": blocks}


def slack_sink(url: str, console_url: str) -> WebhookSink:
    """The alert webhook: one message per POST (Slack shows one message per alert)."""

    def body(alerts: Sequence[dict[str, Any]]) -> dict[str, Any]:
        (alert,) = alerts
        return slack_message(alert, console_url)

    return WebhookSink(url, name="alerts-webhook", body=body)


def _links(base: str, page: str, ids: list[str]) -> str:
    shown = ", ".join(f"<{base}/{page}/{quote(item, safe='')}|{_escape(item)}>" for item in ids[:LINKED])
    return shown + (f" and {len(ids) - LINKED} more" if len(ids) > LINKED else "")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_MAX]}}


def _escape(text: str) -> str:
    """Slack's three control characters, so a name cannot inject a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
