"""``/api/v1/admin/tokens`` and ``/api/v1/admin/keys``: admins manage console tokens and proxy keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from proxy.console.auth import Caller, requires
from proxy.console.params import NO_NUL
from proxy.console.routes_events import log_access
from proxy.console.schemas import IssuedTokenOut, TokenOut
from proxy.console.settings import Role
from proxy.store.admin_tokens import create_token, list_tokens, revoke_token
from proxy.store.api_keys import AmbiguousKey, create_key, list_keys, revoke_key
from proxy.store.console_session import read_session

router = APIRouter(prefix="/admin")
Admin = Annotated[Caller, Depends(requires("admin"))]
TokenId = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=255, pattern=NO_NUL)
    role: Role
    expires_at: datetime | None = None


class NewKey(BaseModel):
    user: str = Field(min_length=1, max_length=255, pattern=NO_NUL)
    team: str | None = Field(default=None, max_length=255, pattern=NO_NUL)
    expires_at: datetime | None = None


class KeyOut(BaseModel):
    id: str
    prefix: str
    user: str
    team: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedKeyOut(BaseModel):
    id: str
    prefix: str
    key: str


@router.get("/tokens", response_model=list[TokenOut])
def tokens(request: Request, _: Admin) -> list[dict[str, Any]]:
    with read_session(request.app.state.engine) as session:
        return [_token(row) for row in list_tokens(session)]


@router.post("/tokens", response_model=IssuedTokenOut, status_code=201)
def new_token(request: Request, body: NewToken, caller: Admin) -> dict[str, Any]:
    """Issue a console token; it is shown in this answer only."""
    with read_session(request.app.state.engine) as session:
        issued = create_token(session, request.app.state.salt, body.name, body.role, body.expires_at)
    log_access(request, caller, "token_create", issued.id, name=body.name, role=body.role)
    return {"id": issued.id, "prefix": issued.prefix, "token": issued.token}


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def drop_token(request: Request, token_id: TokenId, caller: Admin) -> dict[str, Any]:
    with read_session(request.app.state.engine) as session:
        row = _one(revoke_token, session, token_id)
        result = _token(row)
    log_access(request, caller, "token_revoke", token_id)
    return result


@router.get("/keys", response_model=list[KeyOut])
def keys(request: Request, _: Admin) -> list[dict[str, Any]]:
    with read_session(request.app.state.engine) as session:
        return [_key(row) for row in list_keys(session)]


@router.post("/keys", response_model=IssuedKeyOut, status_code=201)
def new_key(request: Request, body: NewKey, caller: Admin) -> dict[str, Any]:
    """Issue a proxy key for an engineer; it is shown in this answer only."""
    with read_session(request.app.state.engine) as session:
        issued = create_key(session, request.app.state.salt, body.user, body.team, body.expires_at)
    log_access(request, caller, "key_create", issued.id, user=body.user)
    return {"id": issued.id, "prefix": issued.prefix, "key": issued.key}


@router.delete("/keys/{key_id}", response_model=KeyOut)
def drop_key(request: Request, key_id: TokenId, caller: Admin) -> dict[str, Any]:
    with read_session(request.app.state.engine) as session:
        result = _key(_one(revoke_key, session, key_id))
    log_access(request, caller, "key_revoke", key_id)
    return result


def _one(revoke: Any, session: Any, wanted: str) -> Any:
    try:
        row = revoke(session, wanted)
    except AmbiguousKey as exc:
        raise HTTPException(409, str(exc)) from None
    if row is None:
        raise HTTPException(404, "not found")
    return row


def _token(row: Any) -> dict[str, Any]:
    fields = ("id", "name", "role", "created_at", "expires_at", "revoked_at")
    return {"prefix": row.token_prefix, **{name: getattr(row, name) for name in fields}}


def _key(row: Any) -> dict[str, Any]:
    fields = ("id", "user", "team", "created_at", "expires_at", "revoked_at")
    return {"prefix": row.key_prefix, **{name: getattr(row, name) for name in fields}}
