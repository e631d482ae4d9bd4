"""The audit log: every operator action and every refused call, kept and listed.

Who (the key, its holder, role and organization; or the local administrator for the CLI),
what (the route or command and its target), why (the written reason), when, and how it
ended: `done`, `unchanged`, `denied` (role, organization or permission refused) or
`failed`. Rows are only ever added.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from bounce_worker.domain.events import format_instant
from bounce_worker.domain.identity import Principal
from bounce_worker.store.models import AuditRow
from bounce_worker.store.uow import UnitOfWork

OUTCOMES = ("done", "unchanged", "denied", "failed")


@dataclass(frozen=True, slots=True)
class Who:
    """Who acted: a key's principal over HTTP, or the administrator at the CLI."""

    via: str
    actor: str
    role: str
    key_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Who:
        return cls("http", principal.actor, str(principal.role), principal.key_id)

    @classmethod
    def administrator(cls) -> Who:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls("cli", f"{user} (local administrator)", "administrator")


def record(
    engine: Engine,
    who: Who,
    action: str,
    outcome: str,
    *,
    now: datetime,
    organization: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    with UnitOfWork(engine) as uow:
        uow.session.add(
            AuditRow(
                at=now,
                via=who.via,
                key_id=who.key_id,
                actor=who.actor[:255],
                role=who.role,
                organization=organization or "",
                action=action[:128],
                target=target,
                reason=reason,
                outcome=outcome,
                detail=detail,
            )
        )
        uow.commit()


def listing(
    engine: Engine,
    *,
    organization: str | None = None,
    outcome: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; `before` (an id) pages back. `organization` keeps that organization's
    rows only (what its owner may see)."""
    stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if organization is not None:
        stmt = stmt.where(AuditRow.organization == organization)
    if outcome is not None:
        stmt = stmt.where(AuditRow.outcome == outcome)
    if before is not None:
        stmt = stmt.where(AuditRow.id < before)
    with UnitOfWork(engine) as uow:
        return [as_dict(row) for row in uow.session.scalars(stmt)]


def as_dict(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": format_instant(row.at),
        "via": row.via,
        "key_id": row.key_id,
        "actor": row.actor,
        "role": row.role,
        "organization": row.organization or None,
        "action": row.action,
        "target": row.target,
        "reason": row.reason,
        "outcome": row.outcome,
        "detail": row.detail,
    }
