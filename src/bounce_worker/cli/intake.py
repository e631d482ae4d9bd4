"""`bounce-worker verp encode` (the Return-Path to send with) and `bounce-worker pipe` (one
mail from an MTA's pipe transport onto the queue)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bounce_worker.cli.common import CliError, list_name, organization, port_free, tcp_port

EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the mail and tries again later


def register(sub: Any) -> None:
    verp_parser = sub.add_parser(
        "verp",
        help="VERP Return-Path addresses that make bounces verifiable",
        description="Make the Return-Path address to send one mail with. A bounce that comes "
        "back to it carries an HMAC token (BOUNCE_WORKER_VERP_KEY) naming the recipient, "
        "organization and list, so it is verified and attributed (SPEC 7).",
    )
    verp_sub = verp_parser.add_subparsers(dest="verp_command", required=True, metavar="COMMAND")
    encode = verp_sub.add_parser(
        "encode",
        help="print the Return-Path address for RECIPIENT",
        description="Print the Return-Path address on BOUNCE_WORKER_VERP_DOMAIN for one send "
        "to RECIPIENT by ORG (and LIST). Local part at most 64 characters.",
    )
    encode.add_argument("recipient", metavar="RECIPIENT", help="the address the mail goes to")
    encode.add_argument(
        "--organization", type=organization, required=True, metavar="ORG", help="sending account"
    )
    encode.add_argument(
        "--list", type=list_name, metavar="LIST", help="list inside the organization"
    )
    encode.set_defaults(func=run_verp_encode)

    pipe = sub.add_parser(
        "pipe",
        help="queue one mail read from stdin (Postfix/Exim pipe transport)",
        description="Read one mail on stdin and queue it for the workers. Exit 0 once the "
        "broker accepted it (an unparseable mail is queued too and dead-lettered by the "
        "worker), 75 (EX_TEMPFAIL) when the broker is unreachable, so the MTA keeps the mail "
        "and retries. The envelope recipient (where the VERP address is) comes from "
        "--recipient, else the ORIGINAL_RECIPIENT / RECIPIENT variables Postfix and Exim set.",
    )
    pipe.add_argument(
        "--recipient",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="envelope recipient (repeatable), e.g. Postfix's ${original_recipient}",
    )
    pipe.add_argument(
        "--source",
        default="pipe",
        help="name of this feed; list it in BOUNCE_WORKER_TRUSTED_SOURCES to trust it "
        "without VERP tokens (default: %(default)s)",
    )
    pipe.set_defaults(func=run_pipe, failure_status=EX_TEMPFAIL)

    lmtp = sub.add_parser(
        "lmtp",
        help="run the LMTP server that takes bounces for the VERP domain",
        description="Serve LMTP (RFC 2033) for the MTA: accept mail for "
        "BOUNCE_WORKER_VERP_DOMAIN (every domain when unset), queue each mail with its "
        "envelope recipients and answer 250 per recipient once the broker has it, 451 while "
        "the broker is down (the MTA keeps the mail).",
    )
    lmtp.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    lmtp.add_argument("--port", type=tcp_port, default=8024, help="TCP port (%(default)s)")
    lmtp.add_argument(
        "--source",
        default="lmtp",
        help="name of this feed (see BOUNCE_WORKER_TRUSTED_SOURCES; default: %(default)s)",
    )
    lmtp.set_defaults(func=run_lmtp)


def run_verp_encode(args: argparse.Namespace) -> int:
    from bounce_worker.api import verp_address
    from bounce_worker.domain.targets import parse_target

    try:
        target = parse_target(args.recipient)  # the rule every command uses
        if target.channel != "email":
            raise CliError(f"verp encode takes an email address (VERP is for mail), not a "
                           f"{'phone number' if target.channel == 'sms' else 'domain'}: "
                           f"{target.display}")  # fmt: skip
        print(verp_address(target.display, args.organization, args.list))
    except ValueError as exc:  # VerpError, InvalidAddress: one line
        raise CliError(str(exc)) from None
    return 0


def run_pipe(args: argparse.Namespace) -> int:
    from bounce_worker.http.publish import BrokerUnavailable, publish
    from bounce_worker.tasks import ingest_raw, raw_mail_args

    raw = sys.stdin.buffer.read()
    if not raw.strip():
        raise CliError("no mail on stdin")
    envelope = list(args.recipient)
    for name in ("ORIGINAL_RECIPIENT", "RECIPIENT"):
        if not envelope and os.environ.get(name):
            envelope.append(os.environ[name])
    task_args, task_kwargs = raw_mail_args(raw, args.source, envelope)
    try:
        publish(ingest_raw, task_args, task_kwargs)
    except BrokerUnavailable as exc:
        print(f"bounce-worker: broker unavailable, mail kept for retry: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


def run_lmtp(args: argparse.Namespace) -> int:
    from bounce_worker import lmtp

    settings_check()
    port_free(args.host, args.port)
    lmtp.serve(args.host, args.port, args.source)
    return 0


def settings_check() -> None:
    from bounce_worker.config import settings

    settings()  # a bad setting fails here, as one line, before the server starts
