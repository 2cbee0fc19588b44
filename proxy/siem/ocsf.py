"""Events and triage verdicts as OCSF API Activity records (class 6003, category 6), alerts as
OCSF Detection Findings (class 2004, category 2).

A recorded call is an API call the proxy let through or stopped: activity *Create* (1) with the
vendor as the service and the human who sent it as the actor; a triage verdict is an *Update* (3)
of that call's record. An alert on a distillation signal is a finding *Create* (1) naming its
rule, the people involved and the calls behind it. ``metadata.uid`` is stable, so a receiver can
drop a record it saw twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

OCSF_VERSION = "1.1.0"
CLASS_UID = 6003
CATEGORY_UID = 6
CREATE, UPDATE = 1, 3
PRODUCT = {"name": "Provenance Proxy", "vendor_name": "Provenance Proxy"}
# decision → (severity_id, severity, disposition_id, disposition)
DECISIONS = {
    "block": (4, "High", 2, "Blocked"),
    "flag": (3, "Medium", 1, "Allowed"),
    "allow": (1, "Informational", 1, "Allowed"),
}
FINDING_CLASS_UID, FINDING_CATEGORY_UID = 2004, 2
ALERT_HIGH_RATIO = 2.0  # an alert whose score is twice its threshold or more is High, else Medium
VERDICT_SEVERITY = {"violation": (4, "High"), "needs-follow-up": (3, "Medium"), "benign": (1, "Informational")}


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _base(activity_id: int, activity: str, moment: datetime, uid: str) -> dict[str, Any]:
    return {
        "class_uid": CLASS_UID,
        "class_name": "API Activity",
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": CLASS_UID * 100 + activity_id,
        "time": _millis(moment),
        "metadata": {"version": OCSF_VERSION, "product": PRODUCT, "uid": uid},
    }


def call_record(event: dict[str, Any]) -> dict[str, Any]:
    """A blocked or flagged call."""
    severity_id, severity, disposition_id, disposition = DECISIONS.get(event["decision"], DECISIONS["allow"])
    blocked = event["decision"] == "block"
    record = _base(CREATE, "Create", event["ts"], f"call:{event['id']}")
    record |= {
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 2 if blocked else 1,
        "status": "Failure" if blocked else "Success",
        "disposition_id": disposition_id,
        "disposition": disposition,
        "message": f"{event['decision']} by rule {event['policy_rule'] or '(default)'}: {event['use_label']}",
        "actor": {
            "user": {"name": event["principal"] or "unknown", "groups": _groups(event["team"])},
            "app_name": event["tool"],
            "session": {"uid": event["session_id"]} if event["session_id"] else None,
        },
        "api": {
            "operation": event["endpoint"] or event["path"],
            "service": {"name": event["vendor"] or "unknown"},
            "request": {"uid": event["id"]},
            "response": {"code": event["status"]} if event["status"] is not None else None,
        },
        "src_endpoint": {"ip": event["client_addr"]},
        "http_request": {"http_method": event["method"], "url": {"path": event["path"]}},
        "unmapped": {
            "decision": event["decision"],
            "use_label": event["use_label"],
            "policy_rule": event["policy_rule"],
            "model": event["model"],
            "seq": event["seq"],
            "record_hash": event["record_hash"],
        },
    }
    return _pruned(record)


def verdict_record(verdict: dict[str, Any]) -> dict[str, Any]:
    """A triage verdict on a call (appended; the call's own record is unchanged)."""
    severity_id, severity = VERDICT_SEVERITY.get(verdict["verdict"], (0, "Unknown"))
    record = _base(UPDATE, "Update", verdict["ts"], f"verdict:{verdict['id']}")
    record |= {
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "Success",
        "message": f"triage verdict {verdict['verdict']} on call {verdict['event_id']}",
        "actor": {"user": {"name": verdict["actor"]}},
        "api": {"operation": "triage", "service": {"name": "Provenance Proxy console"}},
        "src_endpoint": {},
        "resources": [{"uid": verdict["event_id"], "type": "api_call", "owner": {"name": verdict["principal"]}}],
        "unmapped": {
            "verdict": verdict["verdict"],
            "note": verdict["note"],
            "decision": verdict["decision"],
            "use_label": verdict["use_label"],
        },
    }
    return _pruned(record)


def alert_record(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert raised on a signal hit (:mod:`proxy.alerts`)."""
    high = alert["score"] >= ALERT_HIGH_RATIO * alert["threshold"]
    created = _millis(alert["created_at"])
    uid = f"alert:{alert['id']}"
    return _pruned(
        {
            "class_uid": FINDING_CLASS_UID,
            "class_name": "Detection Finding",
            "category_uid": FINDING_CATEGORY_UID,
            "category_name": "Findings",
            "activity_id": CREATE,
            "activity_name": "Create",
            "type_uid": FINDING_CLASS_UID * 100 + CREATE,
            "time": created,
            "metadata": {"version": OCSF_VERSION, "product": PRODUCT, "uid": uid},
            "severity_id": 4 if high else 3,
            "severity": "High" if high else "Medium",
            "status_id": 1,
            "status": "New",
            "message": alert["summary"],
            "finding_info": {
                "uid": uid,
                "title": f"{alert['rule']}: {alert['signal']} signal on {alert['scope_kind']} {alert['scope']}",
                "desc": alert["summary"],
                "types": [alert["signal"]],
                "created_time": created,
                "analytic": {"name": alert["rule"], "uid": alert["rule"], "type_id": 1, "type": "Rule"},
                "related_events": [{"uid": str(event_id)} for event_id in alert["event_ids"]],
            },
            "evidences": [{"actor": {"user": {"name": str(name)}}} for name in alert["principals"]],
            "resources": [{"uid": alert["scope"], "name": alert["scope"], "type": alert["scope_kind"]}],
            "unmapped": {
                "signal": alert["signal"],
                "scope_kind": alert["scope_kind"],
                "scope": alert["scope"],
                "score": alert["score"],
                "threshold": alert["threshold"],
                "hit_id": alert["hit_id"],
            },
        }
    )


def _groups(team: str | None) -> list[dict[str, str]] | None:
    return [{"name": team}] if team else None


def _pruned(value: Any) -> Any:
    """Without null fields (OCSF omits what is unknown)."""
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value
