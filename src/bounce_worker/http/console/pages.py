"""The console's pages: server-rendered HTML, one small page per task, no script at all.

Every page but sign-in needs a session (see session.py); an owner sees and acts for their
own organization only, support for any. Which action a page offers is decided by the same
rules (`domain.permissions`) that refuse it when posted anyway, so a hand-made POST of a
form the page did not offer is refused with 403, never carried out.
"""

from __future__ import annotations

import csv
import io
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine

from bounce_worker import api, audit, dead_letters, importcheck, recorded
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.domain.permissions import Refused, Role, may_hide, may_lift, may_suppress
from bounce_worker.domain.policy import Scope, State
from bounce_worker.http.console import chart, readmodel, session
from bounce_worker.http.console.readmodel import BadFilter, Filters
from bounce_worker.store.db import get_engine
from bounce_worker.store.models import EntryRow


def _start_clock(request: Request) -> None:
    request.state.started = time.perf_counter()


router = APIRouter(dependencies=[Depends(_start_clock)], include_in_schema=False)

_env = Environment(
    loader=PackageLoader("bounce_worker.http.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Seconds are enough to read; the CSV export and the CLI keep the full instant.
_env.filters["instant"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%SZ") if v else ""
_env.filters["num"] = lambda v: f"{v:,}"
_env.globals["urlencode"] = urlencode

# No outside request is possible from a console page: everything is inline or same-origin.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' "
    "data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SignInNeeded(Exception):
    """No valid session: pages answer with a redirect to the sign-in page."""


class Denied(Exception):
    """A refused request (403) or bad input (400); the message is shown as one line."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def engine() -> Engine:
    return get_engine(settings().database_url)


def current(request: Request) -> session.Session:
    found = session.read(request, engine(), utcnow())
    if found is None:
        raise SignInNeeded()
    request.state.session = found
    return found


Current = Annotated[session.Session, Depends(current)]


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    sess: session.Session | None = getattr(request.state, "session", None)
    html = _env.get_template(template).render(
        request=request, session=sess, csrf=sess.csrf if sess else "", **context
    )
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    _timed(request, response)
    return response


def _timed(request: Request, response: Response) -> None:
    started = getattr(request.state, "started", None)
    if started is not None:
        ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={ms:.1f}"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _check_csrf(sess: session.Session, token: str | None) -> None:
    if not session.csrf_ok(sess.csrf, token):
        raise Denied("the form's security token is missing or stale: reload the page and retry")


def _audit(
    request: Request,
    sess: session.Session,
    outcome: str,
    *,
    organization: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """The audit log row of a console action, as /v1 writes one (via `console`)."""
    p = sess.principal
    audit.record(
        engine(),
        audit.Who("console", p.actor, str(p.role), p.key_id),
        f"{request.method} {request.url.path}",
        outcome,
        now=utcnow(),
        organization=organization or p.organization,
        target=target,
        reason=reason,
        detail=detail,
    )


def _acting_org(sess: session.Session, requested: str | None) -> str | None:
    """An owner acts for their own organization only; support names any (or none)."""
    p = sess.principal
    requested = (requested or "").strip() or None
    if p.role is Role.SUPPORT:
        return requested
    if requested and requested != p.organization:
        raise Denied(f"this key belongs to organization {p.organization!r}, not {requested!r}")
    return p.organization


# -- sign-in ----------------------------------------------------------------------------------


@router.get("", include_in_schema=False)
@router.get("/")
def home(request: Request) -> Response:
    signed_in = session.read(request, engine(), utcnow()) is not None
    return RedirectResponse("/console/search" if signed_in else "/console/sign-in", 303)


@router.get("/sign-in")
def sign_in_form(request: Request, error: str | None = None) -> Response:
    token = session.login_csrf(request)
    response = render(request, "sign_in.html", 401 if error else 200, login_csrf=token, error=error)
    session.set_login_csrf(response, token, secure=_secure(request))
    return response


@router.post("/sign-in")
def sign_in(
    request: Request, key: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
) -> Response:
    if not session.csrf_ok(request.cookies.get(session.LOGIN_CSRF_COOKIE, ""), csrf):
        return sign_in_form(request, "the sign-in form expired: please try again")
    try:
        new = session.sign_in(engine(), key, utcnow())
    except session.SignInRefused as exc:
        return sign_in_form(request, str(exc))
    response = RedirectResponse("/console/search", 303)
    session.write_cookie(response, new, secure=_secure(request))
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/sign-out")
def sign_out(sess: Current, csrf: Annotated[str, Form()] = "") -> Response:
    _check_csrf(sess, csrf)
    response = RedirectResponse("/console/sign-in", 303)
    session.clear_cookie(response)
    return response


# -- search and the contact card ----------------------------------------------------------


@router.get("/search")
def search(
    request: Request,
    sess: Current,
    q: str = "",
    organization: str = "",
    list: str = "",
    done: str = "",
) -> Response:
    p = sess.principal
    org = _acting_org(sess, organization)
    list_id = list.strip() or None
    found: readmodel.Card | None = None
    error = None
    if q.strip():
        try:
            target = readmodel.find_target(q)
            found = readmodel.card(
                engine(), target, organization=org, list_id=list_id,
                visible_to=p.organization if p.role is Role.OWNER else None,
                secret=settings().secret_key,
            )  # fmt: skip
        except InvalidAddress as exc:
            error = str(exc)
    offers = _offers(sess, found) if found else {}
    return render(
        request, "search.html", 400 if error else 200, q=q, organization=org or "",
        list=list_id or "", card=found, error=error, offers=offers, done=done,
        suppress_states=_suppress_states(p.role), suppress_scopes=_suppress_scopes(p.role),
    )  # fmt: skip


def _allowed(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except Refused:
        return False
    return True


def _offers(sess: session.Session, found: readmodel.Card) -> dict[int, list[str]]:
    """Per entry id: the actions this role may take on it (the forms the card shows)."""
    role = sess.principal.role
    out: dict[int, list[str]] = {}
    for row in found.entries:
        scope, state = Scope(row.scope), State(row.state)
        if (
            role is Role.OWNER
            and scope is not Scope.GLOBAL
            and row.organization != (sess.principal.organization)
        ):
            continue
        actions = []
        if _allowed(may_lift, role, scope, state):
            actions.append("lift")
        if _allowed(may_hide, role, scope):
            actions.append("restore" if row.deleted_at else "delete")
        out[row.id] = actions
    return out


def _suppress_states(role: Role) -> list[str]:
    return [
        s for s in ("blacklisted", "blocked") if _allowed(may_suppress, role, Scope.LIST, State(s))
    ]


def _suppress_scopes(role: Role) -> list[str]:
    scopes = ["organization", "list"]
    return ["global", *scopes] if role is Role.SUPPORT else scopes


ACTIONS = {"lift": api.lift, "delete": api.delete, "restore": api.restore}


@router.post("/entries/{action}")
def act(
    request: Request,
    sess: Current,
    action: str,
    address: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
    organization: Annotated[str, Form()] = "",
    list: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "blacklisted",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    back_organization: Annotated[str, Form()] = "",
    contact: Annotated[str, Form()] = "",
) -> Response:
    """lift / delete / restore / suppress one entry, with the written reason required; a
    suppression's contact id links the address to the contact's others (contacts.py)."""
    _check_csrf(sess, csrf)
    p = sess.principal
    if action not in (*ACTIONS, "suppress"):
        raise Denied(f"unknown action {action!r}", 404)
    if scope not in readmodel.SCOPES:
        raise Denied(f"unknown scope {scope!r}", 400)
    org = organization.strip() or None
    target = f"{address} {scope}{'/' + org if org else ''}{'/' + list if list else ''}"

    def refuse(why: str) -> Denied:
        _audit(request, sess, "denied", organization=org, target=target, reason=reason,
               detail=why)  # fmt: skip
        return Denied(why)

    if p.role is Role.OWNER:
        if scope == Scope.GLOBAL:
            raise refuse(
                f"only support may {action} a global entry (it affects every organization)"
            )
        try:
            org = _acting_org(sess, org)
        except Denied as exc:
            raise refuse(str(exc)) from None
    if not reason.strip():
        raise Denied("a written reason is required", 400)
    kwargs: dict[str, Any] = dict(
        scope=scope, organization=org, list=list.strip() or None, reason=reason.strip(),
        actor=p.actor, role=str(p.role), engine=engine(),
    )  # fmt: skip
    try:
        if action == "suppress":
            change = api.suppress(
                address, state=state, contact_id=contact.strip()[:255] or None, **kwargs
            )
        else:
            change = ACTIONS[action](address, **kwargs)
    except Refused as exc:
        raise refuse(str(exc)) from None
    except (InvalidAddress, ValueError) as exc:
        raise Denied(str(exc), 400) from None
    _audit(request, sess, "done" if change.changed else "unchanged", organization=org,
           target=change.entry, reason=reason.strip(), detail=change.message)  # fmt: skip
    query = {"q": address, "organization": back_organization, "done": f"{action}: {change.message}"}
    return RedirectResponse(f"/console/search?{urlencode(query)}", 303)


# -- the suppression list -------------------------------------------------------------------


def _filters(sess: session.Session, params: dict[str, str]) -> Filters:
    def pick(name: str, allowed: tuple[str, ...]) -> str:
        value = params.get(name, "").strip()
        if value and value not in allowed:
            raise BadFilter(f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}")
        return value

    org = params.get("organization", "").strip()
    return Filters(
        channel=pick("channel", readmodel.CHANNELS),
        state=pick("state", readmodel.STATES),
        reason=params.get("reason", "").strip(),
        scope=pick("scope", readmodel.SCOPES),
        organization=_acting_org(sess, org) if sess.principal.role is Role.OWNER else (org or None),
        list=params.get("list", "").strip(),
        since=readmodel.parse_day(params.get("since"), "since"),
        until=readmodel.parse_day(params.get("until"), "until"),
    )


def _cursor(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise BadFilter(f"{name} must be a whole number, got {raw[:40]!r}")
    return int(raw)


@router.get("/suppressions")
def suppressions(request: Request, sess: Current) -> Response:
    params = dict(request.query_params)
    try:
        f = _filters(sess, params)
        found = readmodel.page(
            engine(), f, after=_cursor(params.get("after"), "after"),
            before=_cursor(params.get("before"), "before"),
        )  # fmt: skip
    except BadFilter as exc:
        return render(request, "suppressions.html", 400, error=str(exc), filters=Filters(),
                      page=None, query={}, states=readmodel.STATES)  # fmt: skip
    return render(
        request, "suppressions.html", filters=f, page=found, query=f.query(), error=None,
        states=readmodel.STATES,
    )  # fmt: skip


@router.get("/suppressions.csv")
def export(request: Request, sess: Current) -> Response:
    params = dict(request.query_params)
    try:
        f = _filters(sess, params)
    except BadFilter as exc:
        raise Denied(str(exc), 400) from None
    email_only = params.get("email_only") == "1"
    what = f"export {'addresses' if email_only else 'full'}: {urlencode(f.query())}"
    _audit(request, sess, "done", organization=f.organization, detail=what)
    header = ["address"] if email_only else readmodel.EXPORT_COLUMNS

    def lines() -> Iterator[str]:
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(header)
        for n, row in enumerate(readmodel.export_rows(engine(), f, email_only=email_only), 1):
            out.writerow(row)
            if n % 1000 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    name = "suppressions-emails.csv" if email_only else "suppressions.csv"
    return StreamingResponse(
        lines(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **HEADERS},
    )  # fmt: skip


# -- statistics and dead letters ----------------------------------------------------------


@router.get("/statistics")
def statistics(request: Request, sess: Current, organization: str = "") -> Response:
    p = sess.principal
    org = _acting_org(sess, organization)
    is_support = p.role is Role.SUPPORT
    figures = readmodel.stats(
        engine(), org if org is not None else (None if is_support else ""),
        dead_letters=is_support,
    )  # fmt: skip
    title = f"Suppressed entries of {org or 'every organization'} per nightly recalculation"
    return render(
        request, "statistics.html", organization=org or "", figures=figures,
        chart=chart.line_chart(figures.history, title), chart_title=title,
        organizations=readmodel.organizations(engine()) if is_support else [],
        done=request.query_params.get("done", ""),
        recorded_only=recorded.recorded_only(engine(), utcnow()),
    )  # fmt: skip


@router.post("/dead-letters/replay")
def replay(
    request: Request,
    sess: Current,
    ids: Annotated[list[int] | None, Form()] = None,
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(sess, csrf)
    target = f"dead letters {', '.join(map(str, ids or []))}"
    if sess.principal.role is not Role.SUPPORT:
        why = "only support may replay dead letters"
        _audit(request, sess, "denied", target=target, reason=reason, detail=why)
        raise Denied(why)
    if not ids:
        raise Denied("choose the dead letters to replay", 400)
    if not reason.strip():
        raise Denied("a written reason is required", 400)
    try:
        counts = dead_letters.replay(engine(), settings(), utcnow(), ids)
    except dead_letters.UnknownDeadLetter as exc:
        raise Denied(str(exc), 404) from None
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to replay"
    _audit(request, sess, "done", target=target, reason=reason.strip(), detail=summary)
    return RedirectResponse(f"/console/statistics?{urlencode({'done': summary})}", 303)


# -- import check --------------------------------------------------------------------------


def _reports_dir() -> Path:
    path = settings().home / "console-reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


@router.get("/import")
def import_form(request: Request, sess: Current) -> Response:
    return render(request, "import.html", result=None, error=None)


@router.post("/import")
def import_check(
    request: Request,
    sess: Current,
    contacts: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
    organization: Annotated[str, Form()] = "",
    list: Annotated[str, Form()] = "",
    column: Annotated[str, Form()] = "email",
    channel: Annotated[str, Form()] = "email",
) -> Response:
    _check_csrf(sess, csrf)
    org = _acting_org(sess, organization)
    if not org:
        return render(request, "import.html", 400, result=None,
                      error="name the organization whose campaign this is")  # fmt: skip
    if channel not in ("email", "sms"):
        raise Denied(f"channel must be email or sms, got {channel[:20]!r}", 400)
    token = secrets.token_urlsafe(12)
    report = _reports_dir() / f"{sess.principal.key_id}-{token}.csv"
    with tempfile.NamedTemporaryFile(suffix=".csv") as upload:
        while chunk := contacts.file.read(1 << 20):
            upload.write(chunk)
        upload.flush()
        try:
            with report.open("w", newline="", encoding="utf-8") as out:
                counts = importcheck.check_file(
                    engine(), Path(upload.name), out, organization=org,
                    list_id=list.strip() or None, column=column.strip() or "email",
                    channel=channel, secret=settings().secret_key,
                )  # fmt: skip
        except (importcheck.BadFile, UnicodeDecodeError, ValueError) as exc:
            report.unlink(missing_ok=True)
            return render(request, "import.html", 400, result=None, error=str(exc))
    _prune_reports()
    skipped = sorted((k.split(":", 1)[1], v) for k, v in counts.items() if k.startswith("skip:"))
    return render(
        request, "import.html", error=None,
        result={"name": contacts.filename or "contacts.csv", "organization": org,
                "list": list.strip(), "counts": counts, "skipped": skipped, "token": token},
    )  # fmt: skip


@router.get("/import/{token}.csv")
def import_report(sess: Current, token: str) -> Response:
    if not token.replace("-", "").replace("_", "").isalnum():
        raise Denied("no such report", 404)
    path = _reports_dir() / f"{sess.principal.key_id}-{token}.csv"
    if not path.exists():
        raise Denied("no such report (reports are kept for a day, for the key that made them)", 404)
    return Response(
        path.read_bytes(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="import-check.csv"', **HEADERS},
    )  # fmt: skip


def _prune_reports(max_age: float = 86_400) -> None:
    cutoff = time.time() - max_age
    for old in _reports_dir().glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


# -- errors ---------------------------------------------------------------------------------


async def sign_in_needed(request: Request, _exc: Exception) -> Response:
    return RedirectResponse("/console/sign-in", 303)


async def denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Denied)
    return render(request, "error.html", exc.status, message=str(exc))


def entry_label(row: EntryRow) -> str:
    return "/".join(p for p in (row.scope, row.organization, row.list) if p)


_env.filters["where"] = entry_label
