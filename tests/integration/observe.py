"""Helpers for the observability tests: free ports, HTTP with basic auth, scraping, a feed."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO

EVENTS = [
    {
        "event_id": "obs-1",
        "type": "bounce",
        "recipient": "gone@example.org",
        "status": "5.1.1",
        "smtp_code": 550,
        "diagnostic": "550 5.1.1 secret-diagnostic user unknown",
        "occurred_at": "2026-11-22T10:00:00Z",
    },
    {
        "event_id": "obs-2",
        "type": "complaint",
        "recipient": "angry@example.org",
        "organization": "acme",
        "feedback_type": "abuse",
        "occurred_at": "2026-11-22T10:01:00Z",
    },
    {
        "event_id": "obs-3",
        "type": "bounce",
        "recipient": "full@example.org",
        "status": "5.2.2",
        "diagnostic": "552 5.2.2 mailbox full",
        "occurred_at": "2020-01-01T10:02:00Z",  # its one-day block has long ended
    },
]
BROKEN = '{"event_id": "obs-4", broken'


def write_feed(path: Path) -> Path:
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n" + BROKEN + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except OSError:
        return 0, ""  # not listening yet


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} from a Prometheus text exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float | None:
    return scrape.get((name, frozenset(labels.items())))


class Server:
    """A long-running command (Flower, the exporter) in its own process group."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
