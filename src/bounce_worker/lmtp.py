"""The LMTP server (`bounce-worker lmtp`): the MTA hands over bounces addressed to the VERP
domain; each mail is queued whole, with its envelope recipients (where the VERP token is),
and acknowledged only once the broker has it: 250 per recipient, 451 (the MTA keeps the
mail and retries) while the broker is down. Parsing and the token check happen on the
worker, as for every raw mail (SPEC 7)."""

from __future__ import annotations

import asyncio
import base64
import logging
import signal
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import Envelope, Session

from bounce_worker.config import settings
from bounce_worker.http.publish import BrokerUnavailable, publish

log = logging.getLogger("bounce_worker.lmtp")


class BounceLMTP(LMTP):
    # Returned originals carry long lines (HTML, unfolded headers) more often than RFC 5321
    # allows; refusing them would bounce a bounce. The mail's size limit still applies.
    line_length_limit = 64 * 1024


class Handler:
    def __init__(self, verp_domain: str | None, source: str) -> None:
        self.verp_domain = verp_domain
        self.source = source

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if self.verp_domain and domain != self.verp_domain:
            return f"550 5.1.1 <{address}>: not a bounce address of {self.verp_domain}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        from bounce_worker.tasks import ingest_raw

        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = base64.b64encode(raw).decode("ascii")
        recipients = list(envelope.rcpt_tos)
        loop = asyncio.get_running_loop()
        try:
            task_id = await loop.run_in_executor(
                None, publish, ingest_raw, [message, self.source, recipients]
            )
        except BrokerUnavailable as exc:
            log.warning("broker unavailable, mail deferred: %s", exc)
            reply = "451 4.3.0 broker unavailable, try again later"
        else:
            reply = f"250 2.0.0 queued as {task_id}"
        # LMTP (RFC 2033 4.2): one reply per accepted recipient.
        return "\r\n".join([reply] * max(1, len(recipients)))


def serve(host: str, port: int, source: str) -> None:
    s = settings()
    handler = Handler(s.intake.verp_domain, source)

    def factory() -> LMTP:
        return BounceLMTP(handler, data_size_limit=s.max_message_bytes, hostname="bounce-worker")

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(factory, host, port)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(main())
