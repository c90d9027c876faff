"""API keys on every route: ``Authorization: Bearer <key>``, checked against the key's role.

Each router takes one of the dependencies below, so a route cannot be added without
one. Roles: ``lookup`` (hash, look up, compare, read banks), ``curate`` (change banks
and their content), ``admin`` (everything, and API keys).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from leakshield.apikeys import ApiKey, ApiKeys, Role, role_allows
from leakshield.server._deps import json_response

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="leakshield"'}


def require(role: Role) -> Callable[[Request], Awaitable[ApiKey | None]]:
    """A dependency that lets a request through only with a live key of ``role`` or above."""

    async def check_key(request: Request) -> ApiKey | None:
        if not request.app.state.auth:
            return None
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise HTTPException(
                401,
                "An API key is required: send `Authorization: Bearer <key>`. "
                "Create one with `leakshield apikey create --role ROLE`.",
                headers=_CHALLENGE,
            )
        keys: ApiKeys = request.app.state.api_keys
        key = keys.check(secret.strip())
        if key is None:
            raise HTTPException(
                401,
                "The API key is unknown or revoked. Check it, or create a new one.",
                headers=_CHALLENGE,
            )
        if not role_allows(key.role, role):
            raise HTTPException(
                403, f"This API key has the {key.role} role; this needs {role} or above."
            )
        return key

    return check_key


LOOKUP = Depends(require("lookup"))
CURATE = Depends(require("curate"))
ADMIN = Depends(require("admin"))

router = APIRouter(prefix="/api/v1/apikeys", tags=["api keys"], dependencies=[ADMIN])


class NewKey(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    name: str = ""


@router.get("")
def list_keys(request: Request) -> Response:
    """Every API key, revoked ones included; never a secret."""
    keys: ApiKeys = request.app.state.api_keys
    return json_response({"keys": [key.to_record() for key in keys.list()]})


@router.post("", status_code=201)
def create_key(request: Request, body: NewKey) -> Response:
    """Create a key; the response holds its secret, shown this once only."""
    keys: ApiKeys = request.app.state.api_keys
    key, secret = keys.create(body.role, body.name)
    record: dict[str, Any] = {"key": key.to_record(), "secret": secret}
    return json_response(record, status_code=201)


@router.delete("/{key_id}")
def revoke_key(request: Request, key_id: int) -> Response:
    """Revoke a key; it stops working on every server within two seconds."""
    keys: ApiKeys = request.app.state.api_keys
    return json_response(keys.revoke(key_id).to_record())
