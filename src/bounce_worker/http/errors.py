"""Every error the service answers is `{"error": "one line"}` (docs/api.md): FastAPI's own
request validation (422), Starlette's 404 / 405 and text the database refuses (422) too.
A validation error names the parameter and what is wrong with it, and never echoes the
input back (a 10,001-address batch was answered with all 10,001 addresses)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from bounce_worker.http.limits import BodyTooLarge

SHOWN = 3  # problems named in the one line; the rest are counted
KINDS = {"query": "query parameter", "path": "path", "header": "header", "body": "body field"}


def _problem(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'unreadable')})"
    kind, name = (KINDS.get(loc[0], loc[0]), ".".join(loc[1:])) if loc else ("request", "")
    where = f"{kind} {name}" if name else ("the body" if kind == "body field" else kind)
    return f"{where}: {error.get('msg', 'invalid')}"


def one_line(errors: list[dict[str, Any]]) -> str:
    """The validation errors as one line: what is wrong where, no input values."""
    shown = "; ".join(_problem(e) for e in errors[:SHOWN])
    more = len(errors) - SHOWN
    return f"bad request: {shown}" + (f" (and {more} more)" if more > 0 else "")


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"error": one_line(list(exc.errors()))}, status_code=422)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.__cause__, BodyTooLarge):
        # A chunked body over the limit: FastAPI turns any error while it reads a JSON or
        # form body into 400 "There was an error parsing the body"; it is a 413.
        return JSONResponse({"error": str(exc.__cause__)}, status_code=413)
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def data_error(_request: Request, exc: Exception) -> JSONResponse:
    # Text PostgreSQL cannot store (a NUL character in a reason or an organization: "PostgreSQL
    # text fields cannot contain NUL (0x00) bytes") was a 500; it is the request's fault.
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return JSONResponse({"error": f"bad input: {first}"}, status_code=422)


def install(app: Any) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(DataError, data_error)
