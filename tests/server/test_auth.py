"""API keys: every route but /status and the docs needs one, of a role high enough."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests._postgres import free_port
from tests.conftest import CliResult
from tests.server.conftest import PDQ_A, Api

OPEN_PATHS = {"/status", "/docs", "/openapi.json"}


def _sample_path(path: str) -> str:
    path = re.sub(r"\{(content_id|key_id)\}", "1", path)
    return re.sub(r"\{[a-z_]+\}", "SOME_BANK", path)


def test_every_route_but_status_and_docs_needs_a_key(api: Api) -> None:
    anonymous = TestClient(api.app, raise_server_exceptions=False)
    checked = 0
    # Every route the app has, those of included routers too; mounts (static docs assets)
    # have no methods.
    for route in iter_route_contexts(api.app.routes):
        if not route.methods or route.path in OPEN_PATHS:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            response = anonymous.request(method, _sample_path(str(route.path)))
            assert response.status_code == 401, f"{method} {route.path} is not protected"
            assert response.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    documented = {
        (method.upper(), path)
        for path, operations in api.app.openapi()["paths"].items()
        for method in operations
    }
    assert checked >= len(documented) - 1 >= 40  # all but /status: native and HMA routes


@pytest.mark.parametrize("path", sorted(OPEN_PATHS))
def test_status_and_the_docs_need_no_key(api: Api, path: str) -> None:
    anonymous = TestClient(api.app, raise_server_exceptions=False)
    assert anonymous.get(path).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer lsk_000000000000_wrong", "lsk_x"],
)
def test_a_missing_or_wrong_key_is_a_401_problem(api: Api, authorization: str) -> None:
    response = api.client.get("/api/v1/banks", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "apikey create" in response.json()["detail"] or "revoked" in response.json()["detail"]


# role -> the status each request gets; 200/201/204 allowed, 403 refused
MATRIX = [
    ("GET", "/api/v1/lookup", {"lookup": 200, "curate": 200, "admin": 200}),
    ("GET", "/api/v1/banks", {"lookup": 200, "curate": 200, "admin": 200}),
    ("GET", "/api/v1/index/status", {"lookup": 200, "curate": 200, "admin": 200}),
    ("POST", "/api/v1/compare", {"lookup": 200, "curate": 200, "admin": 200}),
    ("GET", "/m/lookup", {"lookup": 200, "curate": 200, "admin": 200}),
    ("GET", "/c/banks", {"lookup": 200, "curate": 200, "admin": 200}),
    ("POST", "/api/v1/banks", {"lookup": 403, "curate": 201, "admin": 201}),
    ("POST", "/c/banks", {"lookup": 403, "curate": 201, "admin": 201}),
    ("GET", "/api/v1/banks/B/export", {"lookup": 403, "curate": 200, "admin": 200}),
    ("GET", "/api/v1/apikeys", {"lookup": 403, "curate": 403, "admin": 200}),
]
BODIES = {
    "/api/v1/compare": {"a": f"pdq:{PDQ_A}", "b": f"pdq:{PDQ_A}"},
    "/api/v1/banks": {"name": "NEW"},
    "/c/banks": {"name": "NEW"},
}
PARAMS = {
    "/api/v1/lookup": {"signal": f"pdq:{PDQ_A}"},
    "/m/lookup": {"signal_type": "pdq", "signal": PDQ_A},
}


@pytest.mark.parametrize("role", ["lookup", "curate", "admin"])
@pytest.mark.parametrize(("method", "path", "expected"), MATRIX)
def test_each_role_may_do_what_it_allows(
    api: Api, role: str, method: str, path: str, expected: dict[str, int]
) -> None:
    api.bank("B")
    response = api.client.request(
        method, path, headers=api.as_role(role), json=BODIES.get(path), params=PARAMS.get(path)
    )
    assert response.status_code == expected[role], response.text
    if expected[role] == 403:
        assert f"has the {role} role" in response.json()["detail"]


def test_a_revoked_key_stops_working(api: Api) -> None:
    created = api.client.post("/api/v1/apikeys", json={"role": "lookup", "name": "pipeline"})
    assert created.status_code == 201
    key, secret = created.json()["key"], created.json()["secret"]
    assert secret.startswith("lsk_") and key["role"] == "lookup" and key["revoked_at"] is None
    listed = api.client.get("/api/v1/apikeys").json()["keys"]
    assert "pipeline" in [k["name"] for k in listed]
    assert all("secret" not in k for k in listed)

    revoked = api.client.delete(f"/api/v1/apikeys/{key['id']}").json()
    assert revoked["revoked_at"] is not None
    response = api.client.get("/api/v1/banks", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_an_unknown_role_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/apikeys", json={"role": "root"})
    assert response.status_code == 422


def test_without_auth_no_key_is_needed(make_api: Callable[..., Api]) -> None:
    open_api = make_api(auth=False)
    anonymous = TestClient(open_api.app, raise_server_exceptions=False)
    assert anonymous.get("/api/v1/banks").status_code == 200
    assert anonymous.post("/api/v1/banks", json={"name": "X"}).status_code == 201


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com"])
def test_no_auth_is_refused_beyond_loopback(cli: Callable[..., CliResult], host: str) -> None:
    result = cli("serve", "--no-auth", "--host", host, "--port", str(free_port()))
    assert result.exit_code == 4
    assert "--no-auth" in result.stderr and "loopback" in result.stderr
