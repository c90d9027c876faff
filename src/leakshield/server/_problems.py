"""RFC 9457 problem+json responses for every error the API can return."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from leakshield.errors import InternalError, LeakshieldError, UsageError
from leakshield.server._logging import request_id_var

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_response(
    problem: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON response with the problem media type, tagged with the current request id."""
    request_id = request_id_var.get()
    if request_id is not None:
        problem = {**problem, "request_id": request_id}
    return JSONResponse(
        problem, status_code=problem["status"], media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def internal_error_problem(path: str) -> dict[str, Any]:
    """The problem for an unexpected failure; it says nothing of the failure itself."""
    detail = "An internal error occurred. Quote the request id when reporting it."
    return InternalError(detail).to_problem(instance=path)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error response of ``app`` a problem+json body."""

    async def on_leakshield_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LeakshieldError)
        return problem_response(exc.to_problem(instance=request.url.path))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        status = HTTPStatus(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else status.description
        problem = {
            "type": "about:blank",
            "title": status.phrase,
            "status": status.value,
            "detail": detail,
            "instance": request.url.path,
        }
        return problem_response(problem, headers=getattr(exc, "headers", None))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Location and message only: the offending input is not echoed back.
        errors = [
            {"loc": [str(part) for part in error["loc"]], "msg": error["msg"]}
            for error in exc.errors()
        ]
        error = UsageError("The request is not valid; see `errors` for each problem.")
        problem = error.to_problem(instance=request.url.path) | {"status": 422, "errors": errors}
        return problem_response(problem)

    app.add_exception_handler(LeakshieldError, on_leakshield_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
