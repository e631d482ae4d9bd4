"""Hostile mails: `python bench/hostile.py [--scale F] [--only NAME] [--no-worker] [--check]`.

Builds the mails of issue 14, each at its size and at double its size:

- `punycode`: a bounce whose 1 MB text part declares charset=punycode (a quadratic codec);
- `subject-2047`: a bounce with a 1.5 MB Subject of RFC 2047 encoded words;
- `recipients`: a text bounce naming 100,000 addresses;
- `nested`: a mail nested 12 levels deep (multipart and message/rfc822), 8.8 MB in all;
- `huge`: a 30 MB mail (over BOUNCE_WORKER_MAX_MESSAGE_BYTES).

and prints, per mail, the CPU time and the peak RSS

- through `parse_message`: each mail in a fresh Python process (so one peak cannot hide
  another), CPU time of the call, the process's peak RSS (VmHWM) and its growth during the
  call (the mail itself and the imports are in the process before the call);
- through the worker (unless --no-worker): a real Celery worker process (`--pool solo`, so
  the consumer and the task are one process; started as compose starts it,
  `bounce-worker-celery`) on Redis and PostgreSQL; each mail is
  published as `bounce-worker pipe` does (`ingest_raw`) and the worker's CPU time (utime +
  stime from /proc) and peak RSS (VmHWM, reset before each mail through
  /proc/PID/clear_refs) are read once its dead letter or events are in the database;
  "then" is the worker's RSS 2.5 s after a big mail (what the idle worker keeps: memory.py).

Goals (issue 14): each mail <= 1 s CPU and <= 100 MB RSS (parse_message: peak RSS of the
process; worker: peak RSS growth over the idle worker, whose own size is printed), and
doubling a mail's size costs at most 2.5x its time (ratios under 0.1 s of CPU are noise
and not judged). `--check` exits 1 when a goal is missed. `--scale` shrinks every mail
(the test suite's smoke run uses a small scale).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CPU_GOAL = 1.0  # seconds per mail
RSS_GOAL = 100.0  # MB per mail
RATIO_GOAL = 2.5  # time of the double / time of the mail
RATIO_FLOOR = 0.1  # seconds: below this, a ratio measures noise

HEAD = (
    "From: MAILER-DAEMON@mx.hostile.example\r\n"
    "To: sender@hostile.example\r\n"
    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <{mid}@mx.hostile.example>\r\n"
)


def _mid() -> str:
    return uuid.uuid4().hex


def punycode(size: int) -> bytes:
    """A bounce whose text part of `size` bytes declares charset=punycode: Python's codec
    is quadratic in the length of the text it decodes."""
    words = b"<gone@hostile.example>: 550 5.1.1 user unknown\r\n"
    body = words + (b"abcdefghij" * (size // 10 + 1))[: size - len(words)]
    return (
        HEAD.format(mid=_mid()) + "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=punycode\r\n\r\n"
    ).encode() + body


def subject_2047(size: int) -> bytes:
    """A bounce whose Subject is `size` bytes of RFC 2047 encoded words."""
    word = "=?utf-8?q?Undelivered_mail_=C3=A9?= "
    words = word * (size // len(word) + 1)
    return (
        HEAD.format(mid=_mid())
        + f"Subject: {words[:size]}\r\n\r\n"
        + "This is the mail system. 550 5.1.1 <gone@hostile.example>: user unknown\r\n"
    ).encode()


def recipients(count: int) -> bytes:
    """A text bounce naming `count` failed recipients, one per line."""
    lines = "".join(f"<u{i}@hostile.example>: 550 5.1.1\r\n" for i in range(count))
    return (
        HEAD.format(mid=_mid())
        + "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        + "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        + lines
    ).encode()


def nested(size: int, depth: int = 12) -> bytes:
    """A mail of multiparts nested `depth` levels deep, `size` bytes in all: each level holds
    a part of its own (base64 and text in turn), then the next level; the innermost holds a
    message/rfc822 original. (The old parser copied each level's body once more.)"""
    per_level = max(1, size // depth)
    chunk = base64.encodebytes(os.urandom(per_level * 3 // 4 + 3))[:per_level]
    inner = (
        b"Content-Type: message/rfc822\r\n\r\n"
        b"From: sender@hostile.example\r\nTo: deep@hostile.example\r\nSubject: hello\r\n\r\nhi\r\n"
    )
    for level in range(depth):
        boundary = f"b{level}-{_mid()}"
        own = (
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64"
            if level % 2 == 0
            else "Content-Type: text/plain"
        )
        inner = (
            (
                f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n"
                f"--{boundary}\r\n{own}\r\n\r\n"
            ).encode()
            + chunk
            + f"\r\n--{boundary}\r\n".encode()
            + inner
            + (f"\r\n--{boundary}--\r\n").encode()
        )
    return (
        HEAD.format(mid=_mid()) + "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode() + inner


def huge(size: int) -> bytes:
    """A bounce of `size` bytes (a text part of letters)."""
    head = (
        HEAD.format(mid=_mid())
        + "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        + "550 5.1.1 <big@hostile.example>: user unknown\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * ((size - len(head)) // len(line) + 1)


MB = 1024 * 1024
# name -> (builder, size argument at scale 1, what the size argument is)
MAILS: dict[str, tuple[Callable[[int], bytes], int]] = {
    "punycode": (punycode, 1 * MB),
    "subject-2047": (subject_2047, 3 * MB // 2),
    "recipients": (recipients, 100_000),
    "nested": (nested, 88 * MB // 10),
    "huge": (huge, 30 * MB),
}


def build(name: str, scale: float, double: bool) -> bytes:
    builder, size = MAILS[name]
    return builder(max(1, int(size * scale)) * (2 if double else 1))


def vm_kb(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# -- through parse_message, in a fresh process per mail -------------------------------------
def parse_child(name: str, scale: float, double: bool) -> None:
    """Runs in the child: build, parse, print one JSON line."""
    from datetime import UTC, datetime

    from bounce_worker.config import settings
    from bounce_worker.parsers import ParseError, parse_message

    raw = build(name, scale, double)
    limits = settings().mail_limits
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on: the parse's peak
    before_kb = vm_kb("self", "VmRSS")
    cpu = time.process_time()
    try:
        events = parse_message(raw, received_at=datetime.now(UTC), limits=limits)
        outcome = f"{len(events)} event(s)"
    except ParseError as exc:
        outcome = f"refused: {str(exc)[:70]}"
    cpu = time.process_time() - cpu
    peak_kb = vm_kb("self", "VmHWM")
    print(
        json.dumps(
            {
                "bytes": len(raw),
                "cpu": cpu,
                "peak_mb": peak_kb / 1024,
                "growth_mb": max(0, peak_kb - before_kb) / 1024,
                "outcome": outcome,
            }
        )
    )


def through_parser(name: str, scale: float, double: bool) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--scale", str(scale)]
        + (["--double"] if double else []),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"parse_message child for {name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- through a real worker ------------------------------------------------------------------
class WorkerRun:
    """A real `celery worker --pool solo` on Redis and PostgreSQL, a scratch queue and a
    scratch database; mails are published as `bounce-worker pipe` publishes them."""

    def __init__(self) -> None:
        from tests.conftest import REDIS_URL, temporary_database

        self.run = uuid.uuid4().hex[:8]
        self.queue = f"bw-hostile-{self.run}"
        self._database = temporary_database(f"bw_hostile_{self.run}")  # created and migrated
        self.db_url = next(self._database)
        self.redis_url = REDIS_URL
        self.home = Path(tempfile.mkdtemp(prefix="bw-hostile-"))
        self.env = {
            **os.environ,
            "BOUNCE_WORKER_HOME": str(self.home),
            "BOUNCE_WORKER_DATABASE_URL": self.db_url,
            "BOUNCE_WORKER_BROKER_URL": self.redis_url,
            "BOUNCE_WORKER_QUEUE": self.queue,
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),  # this checkout
        }
        # This process publishes: same settings as the worker's, read before any import.
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("BOUNCE_WORKER_")})
        self.log = self.home / "worker.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bounce_worker.celery_cli",  # as compose starts it: celery without plugins
                "-A",
                "bounce_worker.celery_app",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "WARNING",
                "-Q",
                self.queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        from bounce_worker.http.publish import publish
        from bounce_worker.tasks import process_batch

        event = {"event_id": "bench-ready", "type": "delivered", "recipient": "r@hostile.example",
                 "occurred_at": "2026-11-23T10:00:00Z"}  # fmt: skip
        # (process_batch: process_event's groups fail on the solo pool, see the note file)
        publish(process_batch, [[event]])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"worker exited: {self.log.read_text()[-2000:]}")
            if self._rows() > 0:
                return
            time.sleep(0.5)
        raise SystemExit("worker not ready after 120 s")

    def _rows(self) -> int:
        """Dead letters plus processed events: one more once a mail is dealt with."""
        import psycopg

        sql = "select (select count(*) from dead_letters) + (select count(*) from processed_events)"
        with psycopg.connect(self.db_url.replace("postgresql+psycopg", "postgresql")) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(self, raw: bytes) -> dict[str, Any]:
        import psycopg

        from bounce_worker.http.publish import publish
        from bounce_worker.memory import BIG_BYTES
        from bounce_worker.tasks import ingest_raw, raw_mail_args

        source = f"hostile-{uuid.uuid4().hex[:8]}"
        before = self._rows()
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")  # resets VmHWM
        idle_kb = vm_kb(self.proc.pid, "VmRSS")
        cpu = self.cpu_seconds()
        args, kwargs = raw_mail_args(raw, source)
        publish(ingest_raw, args, kwargs)
        del args, kwargs
        deadline = time.monotonic() + 600
        while self._rows() == before:
            if self.proc.poll() is not None:
                raise SystemExit(f"worker exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"no result for {source} after 600 s")
            time.sleep(0.2)
        time.sleep(0.5)  # the task's last writes and its acknowledgement
        peak_kb = vm_kb(self.proc.pid, "VmHWM")
        cpu = self.cpu_seconds() - cpu
        if len(raw) * 4 // 3 > BIG_BYTES:
            time.sleep(2.5)  # the worker gives a big message's memory back (memory.py)
        after_kb = vm_kb(self.proc.pid, "VmRSS")
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute(
                "select reason from dead_letters where source = %s", (source,)
            ).fetchone()
        return {
            "cpu": cpu,
            "peak_mb": peak_kb / 1024,
            "idle_mb": idle_kb / 1024,
            "growth_mb": max(0, peak_kb - idle_kb) / 1024,
            "after_mb": after_kb / 1024,
            "outcome": f"dead letter: {row[0][:60]}" if row else "applied",
        }

    def close(self) -> None:
        import redis

        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        r = redis.Redis.from_url(self.redis_url)
        r.delete(self.queue, f"{self.queue}.unacked", f"{self.queue}.unacked_index")
        self._database.close()  # drops the database


def judge(rows: list[dict[str, Any]], rss_key: str) -> list[str]:
    misses = []
    by_name = {(r["name"], r["double"]): r for r in rows}
    for r in rows:
        label = f"{r['name']}{' x2' if r['double'] else ''}"
        if r["cpu"] > CPU_GOAL:
            misses.append(f"{label}: {r['cpu']:.2f} s CPU > {CPU_GOAL} s")
        if r[rss_key] > RSS_GOAL:
            misses.append(f"{label}: {r[rss_key]:.0f} MB > {RSS_GOAL:.0f} MB")
        base = by_name.get((r["name"], False))
        if r["double"] and base and r["cpu"] >= RATIO_FLOOR:
            ratio = r["cpu"] / max(base["cpu"], 1e-3)
            if ratio > RATIO_GOAL:
                misses.append(f"{label}: doubling took {ratio:.1f}x the time > {RATIO_GOAL}x")
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size factor of every mail")
    parser.add_argument("--only", action="append", choices=sorted(MAILS), help="this mail only")
    parser.add_argument("--no-worker", action="store_true", help="parse_message only")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--max-bytes",
        type=int,
        help="BOUNCE_WORKER_MAX_MESSAGE_BYTES for the run (default: the setting's); raise it "
        "to see mails over the default limit parsed rather than refused",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--double", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        parse_child(args.child, args.scale, args.double)
        return 0
    if args.max_bytes:
        os.environ["BOUNCE_WORKER_MAX_MESSAGE_BYTES"] = str(args.max_bytes)
    names = args.only or list(MAILS)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; scale {args.scale}")
    print("through parse_message (a fresh process per mail):")
    rows = []
    for name in names:
        for double in (False, True):
            r = through_parser(name, args.scale, double) | {"name": name, "double": double}
            rows.append(r)
            print(
                f"  {name + (' x2' if double else ''):<16} {r['bytes'] / MB:7.2f} MB  "
                f"{r['cpu']:6.3f} s CPU  peak RSS {r['peak_mb']:6.1f} MB "
                f"(+{r['growth_mb']:.1f})  {r['outcome']}"
            )
    misses = judge(rows, "peak_mb")
    if not args.no_worker:
        print("through a real worker (celery --pool solo, Redis, PostgreSQL):")
        worker = WorkerRun()
        wrows = []
        try:
            for name in names:
                for double in (False, True):
                    raw = build(name, args.scale, double)
                    r = worker.measure(raw) | {"name": name, "double": double}
                    wrows.append(r)
                    print(
                        f"  {name + (' x2' if double else ''):<16} {len(raw) / MB:7.2f} MB  "
                        f"{r['cpu']:6.3f} s CPU  peak RSS {r['peak_mb']:6.1f} MB "
                        f"(+{r['growth_mb']:.1f} over the idle {r['idle_mb']:.0f}, "
                        f"then {r['after_mb']:.0f})  "
                        f"{r['outcome']}"
                    )
        finally:
            worker.close()
        misses += [f"worker {m}" for m in judge(wrows, "growth_mb")]
    print(f"self: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB peak")
    if misses:
        print("MISSED: " + "; ".join(misses))
    else:
        print(f"goals met: <= {CPU_GOAL} s CPU, <= {RSS_GOAL:.0f} MB, doubling <= {RATIO_GOAL}x")
    return 1 if args.check and misses else 0


if __name__ == "__main__":
    sys.exit(main())
