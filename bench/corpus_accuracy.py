"""Accuracy and speed of `parse_message` + `classify` on the labeled bounce corpus.

    python bench/corpus_accuracy.py ../shared/corpus/emails-dev ../shared/corpus/manifest-dev.jsonl
    python bench/corpus_accuracy.py EMAIL_DIR MANIFEST --limit 20     # smoke run

Figures (one manifest row = one failed recipient of one mail, as Sisimai sees it):

* recipient found: we produced an event at the row's position (its `index`) for that mail;
  for `vacation` rows, "found" means the mail was recognised as an auto-reply (NotFeedback),
  because naming a failed recipient there would be the mistake.
* hard/soft agreement (rows whose `hard` is not null): our category is hard_bounce exactly
  when Sisimai's hard flag is true.
* reason-category agreement: our category equals `REASON_CATEGORY[reason]` (below).
  Statuses are never compared: rows with `invented_status: true` carry a code Sisimai made
  up, and the others are scored through the category they lead to.
* messages/s: mails per second of CPU time through parse_message + classify (each mail's
  best thread CPU time over --repeat rounds; each tool runs its own loop over all mails
  in every round, so other load on the machine does not skew the ratio).
* flufl.bounce: `scan_message` on the same mails; its recipient found % is counted the same
  way (a set of at least `index` addresses; an empty set for vacation rows), its speed is
  its detection alone (the mail already parsed into a Message), and we print ours/flufl.

REASON_CATEGORY maps each Sisimai reason to our category (SPEC section 3):

* hard_bounce: userunknown, hostunknown, hasmoved, notaccept. The address or domain does not
  exist (X.1.1 / X.1.2 / X.1.6 / X.1.10). Sisimai calls them hard only with a 5xx code; with
  `hard: false` (a 4xx) they are soft_bounce, since we never treat 4.x.x as hard.
* mailbox_full: mailboxfull (X.2.2, over quota) and suspend (X.2.1, disabled/frozen/inactive):
  both are the mailbox's temporary state, our escalating temporary block.
* soft_bounce: exceedlimit (message larger than this mailbox accepts, X.2.3: a property of
  this message, not of the mailbox's state), systemfull (the receiving *system* is full),
  expired, networkerror, systemerror, mailererror, mesgtoobig, syntaxerror, failedstarttls,
  notcompliantrfc, onhold, undefined, and the rate limits speeding and toomanyconn
  (SPEC: "rate limits" are soft): transient or technical, not the mailbox's fault.
* policy: blocked, rejected, spamdetected, policyviolation, securityerror, authfailure,
  requireptr, badreputation, norelaying, virusdetected, contenterror, filtered. The receiver
  refused because of the sender (its IP, reputation, authentication, content, or a filter);
  SPEC: recorded only, never suppresses the recipient.
* complaint: feedback (ARF) of a complaint type (abuse, fraud, virus, other, or none given);
  feedback of type `opt-out` is the recipient's unsubscribe -> unsubscribe; other feedback
  types (auth-failure, not-spam) are about nobody's mailbox -> ignored.
* ignored: vacation (auto-replies are not bounces). delivered: delivered.

Exit status 0 when every figure meets its bar (BARS), 1 otherwise; --misses lists the rows
we disagree on.
"""

from __future__ import annotations

import argparse
import email
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.policy import compat32
from pathlib import Path

from bounce_worker.domain.classify import Category, classify
from bounce_worker.parsers import NotFeedback, ParseError, parse_message

BARS = {
    "recipient_found": 97.0,
    "hard_agreement": 97.0,
    "reason_agreement": 93.0,
    "speed_ratio": 1.0,
}
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)

_HARD = {"userunknown", "hostunknown", "hasmoved", "notaccept"}
REASON_CATEGORY: dict[str, Category] = {
    **dict.fromkeys(_HARD, Category.HARD_BOUNCE),
    **dict.fromkeys(("mailboxfull", "suspend"), Category.MAILBOX_FULL),
    **dict.fromkeys(
        (
            "exceedlimit",
            "systemfull",
            "expired",
            "networkerror",
            "systemerror",
            "mailererror",
            "mesgtoobig",
            "syntaxerror",
            "failedstarttls",
            "notcompliantrfc",
            "onhold",
            "undefined",
            "speeding",
            "toomanyconn",
        ),
        Category.SOFT_BOUNCE,
    ),
    **dict.fromkeys(
        (
            "blocked",
            "rejected",
            "spamdetected",
            "policyviolation",
            "securityerror",
            "authfailure",
            "requireptr",
            "badreputation",
            "norelaying",
            "virusdetected",
            "contenterror",
            "filtered",
        ),
        Category.POLICY,
    ),
    "feedback": Category.COMPLAINT,
    "vacation": Category.IGNORED,
    "delivered": Category.DELIVERED,
}
UNSUBSCRIBE_FEEDBACK = frozenset({"opt-out", "unsubscribe"})
COMPLAINT_FEEDBACK = frozenset({"", "abuse", "fraud", "virus", "other", "complaint"})


def expected_category(row: dict) -> Category:
    reason = row["reason"]
    if reason in _HARD and row.get("hard") is False:
        return Category.SOFT_BOUNCE
    if reason == "feedback":
        ftype = (row.get("feedback_type") or "").lower()
        if ftype in UNSUBSCRIBE_FEEDBACK:
            return Category.UNSUBSCRIBE
        return Category.COMPLAINT if ftype in COMPLAINT_FEEDBACK else Category.IGNORED
    return REASON_CATEGORY.get(reason, Category.SOFT_BOUNCE)


@dataclass
class Report:
    rows: int
    mails: int
    recipient_found: float
    hard_rows: int
    hard_agreement: float
    reason_agreement: float
    messages_per_s: float
    flufl_recipient_found: float
    flufl_messages_per_s: float
    speed_ratio: float
    misses: list[str]

    def lines(self) -> list[str]:
        return [
            f"mails {self.mails}, manifest rows {self.rows} (hard/soft rows {self.hard_rows})",
            f"recipient found:          {self.recipient_found:6.2f} %"
            f"   (bar {BARS['recipient_found']} %)",
            f"hard/soft agreement:      {self.hard_agreement:6.2f} %"
            f"   (bar {BARS['hard_agreement']} %)",
            f"reason-category agreement:{self.reason_agreement:6.2f} %"
            f"   (bar {BARS['reason_agreement']} %)",
            f"ours: parse+classify      {self.messages_per_s:8.1f} messages/s",
            f"flufl.bounce: recipients  {self.flufl_recipient_found:6.2f} %, "
            f"detection {self.flufl_messages_per_s:8.1f} messages/s",
            f"speed ratio ours/flufl:   {self.speed_ratio:6.2f}     (bar {BARS['speed_ratio']})",
        ]


def load_manifest(path: Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if limit:
        keep = list(dict.fromkeys(r["file"] for r in rows))[:limit]
        rows = [r for r in rows if r["file"] in set(keep)]
    return rows


def _run_ours(raw: bytes) -> object:
    try:
        events = parse_message(raw, received_at=RECEIVED_AT)
        return [classify(e).category for e in events]
    except NotFeedback:
        return "not-feedback"
    except ParseError as exc:
        return f"error: {exc}"


def _run_flufl(msg: object) -> set:
    from flufl.bounce import scan_message

    try:
        return set(scan_message(msg))
    except Exception:  # flufl's detectors raise on some broken mails: count as nothing
        return set()


def _measure(raws: dict[str, bytes], repeat: int) -> tuple[dict, dict, float, float]:
    """Both tools over all mails, round after round; each mail's best time is kept.

    Keeping each mail's best CPU time over the rounds makes the ratio robust to other load
    on the machine; each tool runs its own loop over the mails, warm, as in a worker.
    """
    messages = {n: email.message_from_bytes(r, policy=compat32) for n, r in raws.items()}
    ours: dict[str, object] = {}
    flufl: dict[str, set] = {}
    best_ours = dict.fromkeys(raws, float("inf"))
    best_flufl = dict.fromkeys(raws, float("inf"))
    # CPU time of this thread: other processes on a busy machine do not count against
    # either tool (wall-clock minima still favour whichever tool has the shorter mails).
    clock = time.thread_time
    for _ in range(max(1, repeat)):
        for name, raw in raws.items():
            start = clock()
            ours[name] = _run_ours(raw)
            best_ours[name] = min(best_ours[name], clock() - start)
        for name, msg in messages.items():
            start = clock()
            flufl[name] = _run_flufl(msg)
            best_flufl[name] = min(best_flufl[name], clock() - start)
    return ours, flufl, sum(best_ours.values()), sum(best_flufl.values())


def score(email_dir: Path, manifest: Path, limit: int | None = None, repeat: int = 7) -> Report:
    rows = load_manifest(manifest, limit)
    raws = {
        name: (email_dir / name).read_bytes() for name in dict.fromkeys(r["file"] for r in rows)
    }
    ours, flufl, ours_t, flufl_t = _measure(raws, repeat)

    found = flufl_found = hard_total = hard_ok = reason_ok = 0
    misses: list[str] = []
    for row in rows:
        result, index = ours[row["file"]], row["index"]
        vacation = row["reason"] == "vacation"
        if vacation:
            ours_cat = Category.IGNORED if result == "not-feedback" else None
            flufl_ok = not flufl[row["file"]]
        else:
            ours_cat = (
                result[index - 1] if isinstance(result, list) and len(result) >= index else None
            )
            flufl_ok = len(flufl[row["file"]]) >= index
        found += ours_cat is not None
        flufl_found += flufl_ok
        want = expected_category(row)
        reason_ok += ours_cat == want
        if row.get("hard") is not None:
            hard_total += 1
            hard_ok += (ours_cat == Category.HARD_BOUNCE) == row["hard"] and ours_cat is not None
        if ours_cat != want:
            misses.append(
                f"{row['file']}#{index}: want {want} ({row['reason']}, {row['status']}) "
                f"got {ours_cat if ours_cat else result}"
            )
    n = len(rows) or 1
    return Report(
        rows=len(rows),
        mails=len(raws),
        recipient_found=100 * found / n,
        hard_rows=hard_total,
        hard_agreement=100 * hard_ok / (hard_total or 1),
        reason_agreement=100 * reason_ok / n,
        messages_per_s=len(raws) / ours_t if ours_t else 0.0,
        flufl_recipient_found=100 * flufl_found / n,
        flufl_messages_per_s=len(raws) / flufl_t if flufl_t else 0.0,
        speed_ratio=flufl_t / ours_t if ours_t else 0.0,
        misses=misses,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("email_dir", type=Path)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--limit", type=int, help="only the first N mails (smoke run)")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs, best kept")
    parser.add_argument("--misses", action="store_true", help="list rows we disagree on")
    args = parser.parse_args(argv)
    report = score(args.email_dir, args.manifest, args.limit, args.repeat)
    print("\n".join(report.lines()))
    if args.misses:
        print("\n".join(report.misses))
    by_bar = defaultdict(bool, {k: getattr(report, k) >= v for k, v in BARS.items()})
    return 0 if all(by_bar.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
