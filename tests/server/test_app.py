"""The HTTP app: /status on both databases, request ids, problem+json errors, offline docs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leakshield import __version__
from leakshield.config import load_settings
from leakshield.errors import NotFoundError
from leakshield.server import create_app, is_loopback
from leakshield.store import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


def make_client(database: Database) -> TestClient:
    app = create_app(load_settings().settings, database)
    _add_test_routes(app)
    return TestClient(app, raise_server_exceptions=False)


def _add_test_routes(app: FastAPI) -> None:
    @app.get("/test/missing")
    def missing() -> None:
        raise NotFoundError("There is no bank named X. List banks with `leakshield bank list`.")

    @app.get("/test/crash")
    def crash() -> None:
        raise RuntimeError("secret internal detail")

    @app.get("/test/count")
    def count(n: int) -> dict[str, int]:
        return {"n": n}


def test_status_reports_version_a_migrated_database_and_the_matcher(database: Database) -> None:
    database.upgrade()
    with make_client(database) as client:  # the lifespan loads the matcher
        response = client.get("/status")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["database"]["backend"] == database.backend
    assert body["database"]["reachable"] is True
    assert body["database"]["schema_up_to_date"] is True
    assert body["matcher"]["loaded"] is True
    assert body["matcher"]["follower_error"] is None


def test_status_is_503_until_the_matcher_is_loaded(database: Database) -> None:
    database.upgrade()
    response = make_client(database).get("/status")  # no lifespan: nothing loaded
    assert response.status_code == 503
    assert response.json()["matcher"] == {
        "loaded": False,
        "seq": None,
        "signals": None,
        "seconds_since_refresh": None,
        "follower_error": None,
    }


def test_status_is_503_degraded_before_migration(database: Database) -> None:
    response = make_client(database).get("/status")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["database"]["schema_up_to_date"] is False


def test_status_is_503_when_the_database_is_unreachable_and_logs_why(
    unreachable_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(unreachable_database_url)
    with caplog.at_level(logging.ERROR, logger="leakshield"):
        response = make_client(database).get("/status")
    assert response.status_code == 503
    assert response.json()["database"]["reachable"] is False
    assert "server log" in response.json()["database"]["error"]
    assert "127.0.0.1" not in response.text  # where the database is stays private
    logged = [r for r in caplog.records if r.getMessage() == "database unavailable"]
    assert logged
    assert "Cannot connect" in logged[0].detail


@pytest.fixture
def client(tmp_path: object) -> Iterator[TestClient]:
    database = Database(load_settings().settings.database_url_or_default)
    database.upgrade()
    yield make_client(database)
    database.dispose()


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    first = client.get("/status").headers["x-request-id"]
    second = client.get("/status").headers["x-request-id"]
    assert first != second
    assert len(first) == 32


def test_a_well_formed_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/status", headers={"X-Request-ID": "trace-42.a_b"})
    assert response.headers["x-request-id"] == "trace-42.a_b"


@pytest.mark.parametrize("bad", ["has space", "x" * 65, "line\tbreak", "ünïcode"])
def test_a_malformed_request_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/status", headers={"X-Request-ID": bad.encode()})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["instance"] == "/nowhere"
    assert problem["request_id"] == response.headers["x-request-id"]


def test_a_leakshield_error_is_its_problem(client: TestClient) -> None:
    response = client.get("/test/missing")
    assert response.status_code == 404
    problem = response.json()
    assert problem["type"] == "urn:leakshield:problem:not-found"
    assert "leakshield bank list" in problem["detail"]


def test_a_validation_error_is_a_422_problem_without_echoing_input(client: TestClient) -> None:
    response = client.get("/test/count", params={"n": "SENSITIVE-VALUE"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["query", "n"]
    assert "SENSITIVE-VALUE" not in response.text


def test_a_crash_is_a_500_problem_that_leaks_nothing_and_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="leakshield"):
        response = client.get("/test/crash", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"
    assert "secret internal detail" not in response.text
    assert response.json()["request_id"] == "crash-1"
    assert any("unhandled error" in record.getMessage() for record in caplog.records)


def test_openapi_describes_status(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/status" in spec["paths"]
    assert spec["info"]["version"] == __version__


def test_docs_load_nothing_from_the_network(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "/_assets/swagger-ui/swagger-ui-bundle.js" in page.text
    asset = client.get("/_assets/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


def test_json_log_lines_carry_the_request_id() -> None:
    from leakshield.server._logging import JsonFormatter, request_id_var

    token = request_id_var.set("rid-7")
    try:
        record = logging.makeLogRecord({"msg": "request", "levelname": "INFO", "status": 200})
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "rid-7"
    assert line["event"] == "request"
    assert line["status"] == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
