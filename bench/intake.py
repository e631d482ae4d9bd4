"""Signed webhook intake: `python bench/intake.py [--seconds S] [--rate R] [--batch N] [--check]`.

Starts the real `bounce-worker serve` on Redis (a scratch queue, deleted afterwards; no
worker: this measures the intake, from request to the broker's acceptance) and measures,
on the same server:

- `GET /healthz`, the no-op route: requests/s, closed loop (the ratio's base);
- `POST /webhooks/mailgun`, one event per post, each with a fresh token and its HMAC
  (verified, token remembered in Redis, published): posts/s, closed loop;
- `POST /webhooks/sendgrid` with batches of N events (default 500), ECDSA-signed: events/s;
- the signed Mailgun post at an open-loop R posts/s (default 200): p50/p99 latency,
  counted from when each request was due (no coordinated omission).

Closed loop: --connections keep-alive connections each send the next request as soon as
the answer came. Requests are pre-signed and written by hand (asyncio streams), so the load
generator costs little of the CPUs it shares with the server. Each route is warmed up
before its phase (its first request imports the task modules). Beside each rate: the
server's CPU time per request (from /proc, all of its processes), which on a shared machine
says more than the rate; and the load average.

Exit status: 1 when a request failed or a message is missing from the queue; with --check,
also when a goal (--min-ratio, --min-events, --max-p99) is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.http_server import free_port  # noqa: E402
from tests.integration.webhook_signing import (  # noqa: E402
    SendGridSigner,
    mailgun_body,
    mailgun_failed,
    sendgrid_bounce,
)

MAILGUN_KEY = "bench-mailgun-key-" + uuid.uuid4().hex


def http_post(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def mailgun_requests() -> Iterator[bytes]:
    n = 0
    while True:
        n += 1
        body = mailgun_body(MAILGUN_KEY, mailgun_failed(f"mg{n}@bench.example"))
        yield http_post("/webhooks/mailgun", body)


def sendgrid_requests(signer: SendGridSigner, size: int, distinct: int = 50) -> Iterator[bytes]:
    """`distinct` signed batches, repeated: SendGrid posts carry no one-time token (a
    repeat is a duplicate the worker skips), and signing 150 KB bodies by the thousand
    would cost the load generator more than the server."""
    bodies = []
    for n in range(distinct):
        events = [sendgrid_bounce(f"sg{n}-{i}@bench.example") for i in range(size)]
        body = json.dumps(events).encode()
        bodies.append(http_post("/webhooks/sendgrid", body, signer.headers(body)))
    while True:
        yield from bodies


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bool:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 2")


async def closed_loop(
    port: int, requests: Iterator[bytes], seconds: float, connections: int, prepared: int
) -> dict[str, float]:
    """Requests answered per second with `connections` busy connections for `seconds`."""
    ready = [next(requests) for _ in range(prepared)]  # signed before the clock starts
    ready.reverse()  # popped from the end: sent in the order made
    done = errors = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop and ready:
            ok = await _exchange(reader, writer, ready.pop())
            done += ok
            errors += not ok
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    return {"done": done, "errors": errors, "rate": done / elapsed, "ran_out": not ready}


async def open_loop(
    port: int, requests: Iterator[bytes], rate: float, seconds: float, connections: int
) -> dict[str, float]:
    count = int(rate * seconds)
    ready = [next(requests) for _ in range(count)]
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0

    async def one(due: float, request: bytes) -> None:
        nonlocal errors
        reader, writer = await idle.get()
        try:
            if not await _exchange(reader, writer, request):
                errors += 1
            latencies.append((time.perf_counter() - due) * 1000)
        except (OSError, asyncio.IncompleteReadError, StopIteration):
            errors += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        idle.put_nowait((reader, writer))

    start = time.perf_counter() + 0.1
    tasks = []
    for k, request in enumerate(ready):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, request)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    latencies.sort()
    return {
        "sent": count,
        "errors": errors,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def serve(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "bounce_worker.cli", "serve", "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("bench/intake.py: error: the server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("bench/intake.py: error: the server did not start within 60 s")


def server_cpu(group: int) -> float:
    """CPU seconds used so far by the server's processes (its process group)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:  # pgrp
                total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="per phase (default 10)")
    parser.add_argument("--rate", type=float, default=200, help="open-loop posts/s (200)")
    parser.add_argument("--batch", type=int, default=500, help="SendGrid events per post (500)")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the broker")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--min-ratio", type=float, default=0.5, help="goal: signed/no-op (0.5)")
    parser.add_argument(
        "--min-events", type=float, default=5000, help="goal: SendGrid events/s (5000)"
    )
    parser.add_argument("--max-p99", type=float, default=50, help="goal: p99 ms at --rate (50)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0 or args.batch < 1 or args.connections < 1:
        parser.error("--seconds, --rate, --batch and --connections must be positive")
    try:
        redis.Redis.from_url(args.redis_url).ping()
    except redis.RedisError as exc:
        parser.error(f"Redis at {args.redis_url} is not reachable: {exc}")
    queue = f"bench-intake-{os.getpid()}"
    signer = SendGridSigner()
    home = tempfile.mkdtemp(prefix="bw-bench-intake-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOUNCE_WORKER_")}
    env |= {
        "BOUNCE_WORKER_HOME": home,
        "BOUNCE_WORKER_BROKER_URL": args.redis_url,
        "BOUNCE_WORKER_QUEUE": queue,
        "BOUNCE_WORKER_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
        "BOUNCE_WORKER_SENDGRID_VERIFICATION_KEY": signer.public_b64,
    }
    proc, port = serve(env, args.server_workers)
    r = redis.Redis.from_url(args.redis_url)
    try:
        return measure(args, port, signer, r, queue, lambda: server_cpu(proc.pid))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        r.delete(queue)
        for key in r.scan_iter(f"{queue}:*", count=1000):
            r.delete(key)


def measure(
    args: argparse.Namespace,
    port: int,
    signer: SendGridSigner,
    r: redis.Redis,
    queue: str,
    cpu: Callable[[], float],
) -> int:
    def run(make: Callable[[], Iterator[bytes]], prepared: int) -> dict[str, float]:
        asyncio.run(closed_loop(port, make(), 0.5, args.connections, 200))  # warm-up
        r.delete(queue)
        before = cpu()
        res = asyncio.run(closed_loop(port, make(), args.seconds, args.connections, prepared))
        res["cpu_us"] = (cpu() - before) / max(res["done"], 1) * 1e6
        return res

    def noop() -> Iterator[bytes]:
        while True:
            yield b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n"

    base = run(noop, int(4000 * args.seconds))
    mailgun = run(mailgun_requests, int(max(base["rate"], 100) * args.seconds * 1.2))
    queued_mailgun = r.llen(queue)
    r.delete(queue)
    sendgrid = run(lambda: sendgrid_requests(signer, args.batch), int(1000 * args.seconds))
    queued_sendgrid = r.llen(queue)
    r.delete(queue)
    latency = asyncio.run(
        open_loop(port, mailgun_requests(), args.rate, args.seconds, args.connections)
    )
    r.delete(queue)

    events_per_s = sendgrid["rate"] * args.batch
    ratio = mailgun["rate"] / base["rate"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nbench/intake.py: serve ({args.server_workers} process) onto Redis, "
          f"{args.connections} connections, {args.seconds:g} s per phase; "
          f"load average {load} on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'phase':<44}{'answered':>9}{'errors':>8}{'per s':>10}{'CPU us/req':>12}")
    rows = (
        ("GET /healthz (no-op)", base, base["rate"]),
        ("POST /webhooks/mailgun (signed, 1 event)", mailgun, mailgun["rate"]),
        (f"POST /webhooks/sendgrid ({args.batch} events): events", sendgrid, events_per_s),
    )
    for label, res, per_s in rows:
        print(f"{label:<44}{res['done']:>9}{res['errors']:>8}{per_s:>10.0f}{res['cpu_us']:>12.0f}")
    print(f"signed posts / no-op: {ratio:.2f} (server CPU per request: "
          f"{base['cpu_us'] / max(mailgun['cpu_us'], 1):.2f}; queued {queued_mailgun} Mailgun "
          f"messages, {queued_sendgrid} SendGrid batches)")  # fmt: skip
    print(f"signed Mailgun posts at {args.rate:g}/s open loop: {latency['sent']} sent, "
          f"{latency['errors']} errors, p50 {latency['p50']:.1f} ms, "
          f"p99 {latency['p99']:.1f} ms")  # fmt: skip
    goals = {
        f"signed >= {args.min_ratio:g} x no-op": ratio >= args.min_ratio,
        f"SendGrid >= {args.min_events:,.0f} events/s": events_per_s >= args.min_events,
        f"p99 <= {args.max_p99:g} ms at {args.rate:g}/s": latency["p99"] <= args.max_p99,
    }
    print("goals: " + "; ".join(f"{g}: {'met' if ok else 'NOT met'}" for g, ok in goals.items()))
    if any(x["ran_out"] for x in (base, mailgun, sendgrid)):
        print("note: a phase ran out of pre-signed requests before its time was up")
    failed = base["errors"] + mailgun["errors"] + sendgrid["errors"] + latency["errors"]
    if failed or queued_mailgun != mailgun["done"]:
        print(f"error: {failed} failed requests, {queued_mailgun} of {mailgun['done']} queued")
        return 1
    return 1 if args.check and not all(goals.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
