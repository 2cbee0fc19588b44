"""``/api/v1/policy/replay``: a candidate policy run over recorded calls, against the live decisions."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from proxy.console.auth import Caller, requires
from proxy.console.params import NO_NUL, TIME_PATTERN, parse_time
from proxy.console.routes_events import log_access
from proxy.policy import PolicyError, parse_policy
from proxy.replay import replay
from proxy.store.console_session import read_session
from proxy.store.recorded_calls import recorded_calls

router = APIRouter(prefix="/policy")
TimeText = Annotated[str | None, Field(max_length=40, pattern=TIME_PATTERN)]


class ReplayRequest(BaseModel):
    policy: str = Field(min_length=1, max_length=200_000, pattern=NO_NUL, description="The candidate policy (YAML)")
    since: TimeText = "7d"
    until: TimeText = None


class RuleCount(BaseModel):
    rule: str
    decision: str
    calls: int


class Change(BaseModel):
    live: str
    candidate: str
    calls: int


class ReplayOut(BaseModel):
    replayed: int
    skipped: int
    candidate: dict[str, int]
    live: dict[str, int]
    candidate_rules: list[RuleCount]
    live_rules: list[RuleCount]
    changes: list[Change]


@router.post("/replay", response_model=ReplayOut)
def replay_policy(
    request: Request, body: ReplayRequest, caller: Annotated[Caller, Depends(requires("auditor"))]
) -> dict[str, Any]:
    """What the candidate policy would have allowed, flagged and blocked, per rule, beside the live policy."""
    try:
        policy = parse_policy(body.policy, "<candidate>")
    except PolicyError as exc:
        raise HTTPException(400, "; ".join(f"line {issue.line}: {issue.message}" for issue in exc.issues)) from None
    except yaml.YAMLError as exc:  # e.g. control characters, which parse_policy does not turn into issues
        raise HTTPException(400, f"not a YAML policy: {exc}") from None
    since, until = parse_time(body.since), parse_time(body.until)
    with read_session(request.app.state.engine) as session:
        report = replay(policy, recorded_calls(session, since, until))
    # Replay reads every instruction in the range (bodies): recorded like any body read.
    log_access(request, caller, "policy_replay", None, since=body.since, until=body.until, calls=report.replayed)
    return report.as_dict()
