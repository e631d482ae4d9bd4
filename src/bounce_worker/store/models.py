"""The tables. Transitions are the history: "why is this address suppressed?" is answered
from them alone, so they are never updated or purged (erasure only blanks diagnostics)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints so Alembic migrations stay stable across databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Partial index predicates (the same text in migration 0003).
_TEMPORARILY_BLOCKED = text("state = 'temporarily_blocked'")
_HAS_EVENT = text("event_id IS NOT NULL")
# History rows of feedback recorded without changing state (SPEC 7), counted by `stats`.
# Queries use this very clause (literals, not bound parameters) so the planner uses the index.
RECORDED_ONLY = text("reason = 'unverified' OR reason = 'unattributed'")
# Entries kept under a keyed hash (domain.targets.FORGOTTEN_PREFIX; migration 0010): queries
# use this very clause, so the planner takes the index that holds these rows only.
FORGOTTEN = text("substr(address, 1, 5) = 'hmac:'")

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on PostgreSQL (timestamptz) and SQLite (naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EntryRow(Base):
    """One suppression key: (channel, address, scope, organization, list).

    `organization` and `list` are '' rather than NULL where they do not apply, so the
    unique key (and the upsert on it) works the same on every database.
    """

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint(
            "channel", "address", "scope", "organization", "list", name="uq_entries_key"
        ),
        # The nightly unlock's due entries. Partial (migration 0003): an unlocked entry's
        # new row version is not added to it, one index insertion less per unlocked row.
        Index(
            "ix_entries_temporarily_blocked_until",
            "blocked_until",
            postgresql_where=_TEMPORARILY_BLOCKED,
            sqlite_where=_TEMPORARILY_BLOCKED,
        ),
        Index("ix_entries_org_channel_state", "organization", "channel", "state"),
        Index(
            "ix_entries_forgotten",
            "channel",
            "address",
            postgresql_where=FORGOTTEN,
            sqlite_where=FORGOTTEN,
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, sms, or domain
    address: Mapped[str] = mapped_column(String(320))  # case-folded key
    display_address: Mapped[str] = mapped_column(String(320))  # as first given
    scope: Mapped[str] = mapped_column(String(16))
    organization: Mapped[str] = mapped_column(String(255), default="")
    list: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(32), default="active")
    reason: Mapped[str | None] = mapped_column(String(64))
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    temp_block_count: Mapped[int] = mapped_column(Integer, default=0)
    temp_block_last_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    soft_bounce_count: Mapped[int] = mapped_column(Integer, default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TransitionRow(Base):
    __tablename__ = "transitions"
    __table_args__ = (
        # Only transitions an event caused: unlocks and manual changes have no event id.
        Index(
            "ix_transitions_event_id",
            "event_id",
            postgresql_where=_HAS_EVENT,
            sqlite_where=_HAS_EVENT,
        ),
        Index(
            "ix_transitions_recorded_only",
            "reason",
            "recorded_at",
            postgresql_where=RECORDED_ONLY,
            sqlite_where=RECORDED_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(255))  # operator, for manual changes
    note: Mapped[str | None] = mapped_column(Text)  # the operator's written reason
    diagnostic: Mapped[str | None] = mapped_column(Text)  # the MTA's text
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The classifier's fine reason of a bounce (domain/rules/reasons.py REASONS, e.g.
    # user_unknown); NULL for other feedback, operator changes and rows before migration 0009.
    detail: Mapped[str | None] = mapped_column(String(32))


class ProcessedEventRow(Base):
    """Idempotency: an event id is claimed in the same transaction as its effects."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    payload: Mapped[str | None] = mapped_column(Text)  # purged after the retention period


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # event, raw, webhook
    source: Mapped[str | None] = mapped_column(String(255))  # file:line, task id, provider
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # exactly as received
    reason: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryRow(Base):
    """ "Ever delivered" facts: lost (delivered, then suppressed) versus never sent."""

    __tablename__ = "deliveries"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    organization: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_delivered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_delivered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecalculationStatRow(Base):
    """One nightly recalculation's figures for one (organization, channel); every run adds a
    snapshot stamped `computed_at` (reports read the latest). organization '' holds the
    global entries (hard bounces, temporary blocks): see README "Nightly jobs"."""

    __tablename__ = "recalculation_stats"
    __table_args__ = (
        UniqueConstraint(
            "computed_at", "organization", "channel", name="uq_recalculation_stats_run"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    organization: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    active: Mapped[int] = mapped_column(BigInteger)
    temporarily_blocked: Mapped[int] = mapped_column(BigInteger)
    blacklisted: Mapped[int] = mapped_column(BigInteger)
    blocked: Mapped[int] = mapped_column(BigInteger)
    lost: Mapped[int] = mapped_column(BigInteger)  # blacklisted/blocked after a delivery
    never_sent: Mapped[int] = mapped_column(BigInteger)  # suppressed before any delivery


class ApiKeyRow(Base):
    """An API key of the HTTP API (`bounce-worker keys create`). Only a slow hash of its
    secret part is stored: the key itself is shown once, when it is made."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # public part of the key
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    organization: Mapped[str] = mapped_column(String(255), default="")  # '' = platform-wide
    secret_hash: Mapped[str] = mapped_column(String(255))  # scrypt$n$r$p$salt$digest
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """Every operator action and every refused call: who (key, role, organization), what,
    why (the written reason), when, and how it ended. Never updated."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_organization_id", "organization", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    via: Mapped[str] = mapped_column(String(8))  # http or cli
    key_id: Mapped[str | None] = mapped_column(String(32))  # None: the local administrator
    actor: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    organization: Mapped[str] = mapped_column(String(255), default="")  # acted for
    action: Mapped[str] = mapped_column(String(128))  # e.g. "POST /v1/lift", "keys revoke"
    target: Mapped[str | None] = mapped_column(Text)  # the address, entry or key concerned
    reason: Mapped[str | None] = mapped_column(Text)  # the operator's written reason
    outcome: Mapped[str] = mapped_column(String(16))  # done, unchanged, denied, failed
    detail: Mapped[str | None] = mapped_column(Text)  # why denied, or what changed


class RobinsonListRow(Base):
    """A Robinson list (robinson.py): an external do-not-contact list imported under a name,
    platform-wide (organization '') or for one organization. Re-importing replaces it."""

    __tablename__ = "robinson_lists"
    __table_args__ = (
        UniqueConstraint("organization", "name", name="uq_robinson_lists_organization"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    organization: Mapped[str] = mapped_column(String(255), default="")  # '' = platform-wide
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str | None] = mapped_column(String(255))


class RobinsonEntryRow(Base):
    """One address of a Robinson list, as the SHA-256 of its address key (never in clear).
    Keyed digest first: a check probes by digest."""

    __tablename__ = "robinson_entries"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("robinson_lists.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ContactLinkRow(Base):
    """One address (or phone) of one person, as the sending platform's contact id in one
    organization names them: the links of a contact are its addresses on every channel.
    Written from events and manual entries that carry a `contact_id` (bounce_worker.contacts)."""

    __tablename__ = "contact_links"
    __table_args__ = (
        UniqueConstraint("organization", "contact_id", "channel", "address"),
        Index("ix_contact_links_address", "channel", "address", "organization"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    organization: Mapped[str] = mapped_column(String(255))
    contact_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(320))  # the key (addresses.address_key)
    display_address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OrganizationPolicyRow(Base):
    """An organization's own policy numbers over the environment's defaults (org_policy.py);
    NULL: the default."""

    __tablename__ = "organization_policies"

    organization: Mapped[str] = mapped_column(String(255), primary_key=True)
    soft_bounce_limit: Mapped[int | None] = mapped_column(Integer)
    ladder_days: Mapped[str | None] = mapped_column(String(255))  # "1,2,3,90"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(255))
