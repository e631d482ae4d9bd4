"""A session that failed at the greeting, EHLO or MAIL FROM without any reply is a network
failure, not the receiver refusing our sender at that stage (the formats work: Postfix's and
Exim's own texts, read from their sources)."""

from __future__ import annotations

import pytest

from bounce_worker.domain.classify import Category, classify_bounce


@pytest.mark.parametrize(
    "diagnostic",
    [
        # Postfix smtp_proto.c: "conversation with %s timed out while %s" / "lost connection
        # with %s while %s", the stage being "receiving the initial server greeting", ...
        "conversation with mx.example.net[192.0.2.25] timed out while receiving the initial "
        "server greeting",
        "lost connection with mx.example.net[192.0.2.25] while receiving the initial server "
        "greeting",
        "lost connection with mx.example.net[192.0.2.25] while sending MAIL FROM",
        # Exim transports/smtp.c: "SMTP timeout after %s", "Remote host closed connection in
        # response to %s", the stage being "initial connection", "EHLO", "MAIL FROM:<x>"
        "host mx.example.net [192.0.2.25]: SMTP timeout after initial connection",
        "host mx.example.net [192.0.2.25]: Remote host closed connection in response to "
        "initial connection",
        "host mx.example.net [192.0.2.25]: SMTP timeout after EHLO mail.example.org",
    ],
)
@pytest.mark.parametrize("status", ["5.0.0", "4.4.2"])
def test_no_reply_at_the_sender_stage_is_a_network_failure(diagnostic: str, status: str) -> None:
    outcome = classify_bounce(status, None, diagnostic)
    assert (outcome.category, outcome.detail) == (Category.SOFT_BOUNCE, "network_error")


def test_a_refusal_at_the_sender_stage_stays_a_policy_refusal() -> None:
    for diagnostic in (
        "host mx.example.net[192.0.2.25] refused to talk to me: 554 5.7.1 Service unavailable",
        "host mx.example.net[192.0.2.25] said: 554 5.7.1 rejected (in reply to MAIL FROM "
        "command)",
        "SMTP error from remote mail server after initial connection: 554 5.7.1 blocked",
    ):
        assert classify_bounce("5.7.1", 554, diagnostic).category is Category.POLICY


def test_postfix_local_forwarding_loop_is_a_loop() -> None:
    # Postfix local/local.c: "mail forwarding loop for %s"
    outcome = classify_bounce("5.4.6", None, "mail forwarding loop for kim@example.net")
    assert outcome.detail == "routing_loop"
    outcome = classify_bounce("5.0.0", None, "mail forwarding loop for kim@example.net")
    assert outcome.detail == "routing_loop"
