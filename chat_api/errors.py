"""One place that turns errors into HTTP answers: {"error": <class>, "detail": <message>}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from labsearch.errors import AuthError, LabsearchError

log = logging.getLogger(__name__)

# What an unexpected failure tells the client; the details go to the server log only.
UNEXPECTED = "unexpected server error; see the server log"


def error_response(
    status: int, error: str, detail: object, headers: dict[str, str] | None = None
) -> JSONResponse:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="labsearch"'}
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


async def labsearch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LabsearchError)
    if exc.status >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    name = "AuthError" if isinstance(exc, AuthError) else type(exc).__name__
    retry = getattr(exc, "retry_after_seconds", None)
    headers = {"Retry-After": str(retry)} if retry else None
    return error_response(exc.status, name, str(exc), headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Pydantic's error list names the field (loc) and the problem (msg); inputs are dropped
    # because they can be large and echo secrets back.
    detail = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", "")} for error in exc.errors()
    ]
    return error_response(422, "ValidationError", detail)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "HTTPError", exc.detail)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "InternalError", UNEXPECTED)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LabsearchError, labsearch_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
