"""GET /v1/contacts/{address}: the contact card. Its effective state for the organization
(and list), every entry that applies with reason, blocked_until and escalation count, and
the transition history (MTA replies, who lifted what and why). An owner sees the global
entries and its own organization's, never another organization's; support, naming no
organization, sees every entry."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from bounce_worker import api, contacts
from bounce_worker.domain.addresses import InvalidAddress
from bounce_worker.http.v1.checks import channel_for
from bounce_worker.http.v1.identity import ApiError, Operator, acting_for, engine, named

router = APIRouter(tags=["operator"])


@router.get("/contacts/{address}", summary="The contact card: state per scope, reasons, history")
def contact(
    request: Request,
    who: Operator,
    address: str,
    channel: Literal["email", "sms"] | None = Query(None, description="default: by the address"),
    list: str | None = Query(None, description="the list whose send is asked about"),
    organization: str | None = Query(None, description="support only: whose view"),
) -> dict[str, Any]:
    org = acting_for(request, who, organization, target=address)
    named(list, "list")
    channel = channel_for(address, channel)
    try:
        card = api.check(address, channel=channel, organization=org, list=list, engine=engine())
        if org is None and who.platform_wide:
            # Support's whole view: every organization's entries and their history.
            everything = api.contact_entries(address, channel=channel, engine=engine())
            card.entries = everything["entries"]
            card.transitions = everything["transitions"]
        # The same person's other addresses and phones (contact links), with their states.
        linked = contacts.card(
            engine(), channel, card.address, visible_to=org, platform_wide=who.platform_wide
        )
    except InvalidAddress as exc:
        raise ApiError(422, f"invalid address: {exc}") from None
    return card.to_dict() | {"organization": org, "list": list, "contacts": linked}
