"""GET /v1/export (streaming CSV, email-only or full) and POST /v1/import-check (a contacts
CSV in, the report CSV out). An owner exports and checks for its own organization."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from bounce_worker import audit, export
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.http.v1.identity import (
    ApiError,
    Checker,
    Operator,
    acting_for,
    engine,
    named,
)
from bounce_worker.importcheck import BadFile, check_file

router = APIRouter(tags=["files"])

SUPPRESSING = ["temporarily_blocked", "blacklisted", "blocked"]
State = Literal["active", "temporarily_blocked", "blacklisted", "blocked"]


@router.get(
    "/export",
    summary="Suppressions as CSV, streamed (format=email: one column of addresses)",
    response_class=StreamingResponse,
)
def export_csv(
    request: Request,
    who: Operator,
    format: Literal["full", "email"] = "full",
    state: Annotated[
        list[State] | None, Query(description="repeatable; default: suppressing")
    ] = None,
    channel: Literal["email", "sms", "domain"] | None = None,
    organization: str | None = Query(None, description="support only; default: every one"),
) -> StreamingResponse:
    org = acting_for(request, who, organization)
    states = list(state or SUPPRESSING)
    email_only = format == "email"
    rows = export.rows(engine(), states, channel or ("email" if email_only else None), org,
                       email_only)  # fmt: skip
    audit.record(
        engine(), audit.Who.of(who), "GET /v1/export", "done", now=utcnow(), organization=org,
        detail=f"format {format}, states {','.join(states)}, channel {channel or 'any'}",
    )  # fmt: skip
    return StreamingResponse(
        _csv(["address"] if email_only else export.COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )


def _csv(header: list[str], rows: Iterator[list[object]]) -> Iterator[str]:
    """The CSV in pieces of about a page of rows: constant memory for any size."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % export.PAGE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.post(
    "/import-check",
    summary="Upload a contacts CSV (request body); get the report CSV: send, skip or bad",
    response_class=StreamingResponse,
)
async def import_check(
    request: Request,
    who: Checker,
    column: str = Query("email", description="the header of the address column"),
    channel: Literal["email", "sms"] = "email",
    list: str | None = None,
    organization: str | None = Query(None, description="support only: whose import"),
) -> StreamingResponse:
    org = acting_for(request, who, organization)
    if org is None:
        raise ApiError(422, "a platform-wide key must name the organization to check for")
    named(list, "list")
    with tempfile.TemporaryDirectory(prefix="bw-import-") as tmp:
        source = Path(tmp) / "contacts.csv"
        with source.open("wb") as out:
            async for piece in request.stream():  # the body limit applies while it streams
                out.write(piece)
        report = io.StringIO()
        try:
            counts = await run_in_threadpool(
                check_file, engine(), source, report, organization=org, list_id=list,
                column=column, channel=channel, secret=settings().secret_key,
            )  # fmt: skip
        except BadFile as exc:
            raise ApiError(422, f"contacts file: {exc}") from None
    summary = {k: counts[k] for k in ("send", "skip", "bad")}
    return StreamingResponse(
        iter([report.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"X-Import-Check": ", ".join(f"{k} {n}" for k, n in summary.items())},
    )
