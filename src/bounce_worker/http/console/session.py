"""Console sign-in: an API key (role owner or support) is exchanged once for a session cookie.

The cookie holds no secret of the key: only its public key id, the role and organization
read from the key's row, when the session ends, and a random session id, signed with
HMAC-SHA256 (BOUNCE_WORKER_CONSOLE_SECRET). It is HttpOnly (no script reads it) and
SameSite=Strict (no other site's page sends it). Every request re-reads the key's row, so a
revoked key ends its sessions at once. Every form carries a CSRF token, an HMAC of the
session id, checked on each POST; the sign-in form itself uses a double-submit cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import Engine, select

from bounce_worker import credentials
from bounce_worker.config import settings
from bounce_worker.domain.identity import Principal
from bounce_worker.domain.permissions import Role
from bounce_worker.store.models import ApiKeyRow

COOKIE = "bw_console"
LOGIN_CSRF_COOKIE = "bw_console_login"
CONSOLE_ROLES = (Role.OWNER, Role.SUPPORT)
_PROCESS_SECRET = secrets.token_bytes(32)  # when no secret is configured: this process only


class SignInRefused(Exception):
    """Sign-in failed; the message is safe to show (it never says which part was wrong)."""


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    sid: str
    expires: datetime

    @property
    def csrf(self) -> str:
        return _mac(f"csrf:{self.sid}")


def _secret() -> bytes:
    s = settings()
    if s.console_secret:
        return s.console_secret.encode()
    if s.secret_key:  # derived, so the erasure key itself never signs a cookie
        return hmac.new(s.secret_key.encode(), b"console-session", hashlib.sha256).digest()
    return _PROCESS_SECRET


def _mac(text: str) -> str:
    return hmac.new(_secret(), text.encode(), hashlib.sha256).hexdigest()


def sign_in(engine: Engine, presented: str, now: datetime) -> Session:
    """A session for a valid key of a console role (owner or support)."""
    principal = credentials.authenticate(engine, presented)
    if principal is None:
        raise SignInRefused("unknown, revoked or mistyped API key")
    if principal.role not in CONSOLE_ROLES:
        raise SignInRefused(
            f"a {principal.role} key cannot sign in to the console (needs owner or support)"
        )
    hours = settings().console_session_hours
    return Session(principal, secrets.token_urlsafe(16), now + timedelta(hours=hours))


def write_cookie(response: Response, session: Session, *, secure: bool) -> None:
    p = session.principal
    body = json.dumps(
        {"k": p.key_id, "sid": session.sid, "exp": int(session.expires.timestamp())},
        separators=(",", ":"),
    )
    token = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    response.set_cookie(
        COOKIE,
        f"{token}.{_mac(token)}",
        max_age=int(settings().console_session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/console",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")


def read(request: Request, engine: Engine, now: datetime) -> Session | None:
    """The request's session, if its cookie is genuine, unexpired and its key still valid."""
    raw = request.cookies.get(COOKIE, "")
    token, _, mac = raw.partition(".")
    if not token or not hmac.compare_digest(mac, _mac(token)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key_id, sid, exp = str(data["k"]), str(data["sid"]), int(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if exp <= now.timestamp():
        return None
    # The key's row, read each time: a revoked key (or a changed role) ends the session.
    with engine.connect() as conn:
        row = conn.execute(
            select(ApiKeyRow.name, ApiKeyRow.role, ApiKeyRow.organization, ApiKeyRow.revoked_at)
            .where(ApiKeyRow.key_id == key_id)
        ).first()  # fmt: skip
    if row is None or row.revoked_at is not None or row.role not in CONSOLE_ROLES:
        return None
    principal = Principal(key_id, row.name, Role(row.role), row.organization or None)
    return Session(principal, sid, datetime.fromtimestamp(exp, now.tzinfo))


def login_csrf(request: Request) -> str:
    """The sign-in form's token: the double-submit cookie's value (made when missing)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(16)


def set_login_csrf(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure,
        path="/console", max_age=3600,
    )  # fmt: skip


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")
