"""The JSON log line: the service's extra fields become keys; task arguments never appear."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from bounce_worker.observability.logs import MAX_FIELD, JsonFormatter, configure_cli


def record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("bounce_worker.transitions", logging.INFO, __file__, 1, msg, (), None)
    rec.__dict__.update(extra)
    return rec


def test_extra_fields_become_keys_on_one_line() -> None:
    line = JsonFormatter().format(
        record("email a@example.org active -> blocked", reason="hard_bounce", event_id="e-1")
    )
    assert "\n" not in line
    data = json.loads(line)
    assert data["logger"] == "bounce_worker.transitions"
    assert data["level"] == "info"
    assert (data["reason"], data["event_id"]) == ("hard_bounce", "e-1")
    assert data["ts"].endswith("+00:00")
    assert "args" not in data and "msg" not in data  # LogRecord internals stay out


def test_celery_task_arguments_are_dropped_and_long_strings_cut() -> None:
    body = {"event_id": "e-2", "diagnostic": "550 secret text"}
    data = json.loads(
        JsonFormatter().format(
            record(
                "Task received",
                data={"id": "t-1", "name": "bounce_worker.process_event", "args": repr((body,))},
                reason="x" * (MAX_FIELD + 100),
            )
        )
    )
    assert data["data"] == {"id": "t-1", "name": "bounce_worker.process_event"}
    assert "secret text" not in json.dumps(data)
    assert len(data["reason"]) < MAX_FIELD + 20 and data["reason"].endswith("[cut]")


def test_an_exception_stays_on_the_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), True)
        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line and "RuntimeError: boom" in json.loads(line)["exception"]


@pytest.mark.parametrize(("fmt", "level"), [("json", logging.INFO), ("text", logging.WARNING)])
def test_cli_logging(fmt: str, level: int, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_cli(fmt)
        logging.getLogger("bounce_worker.dead_letters").warning("dead letter 1", extra={"k": 1})
        logging.getLogger("bounce_worker.transitions").info("moved")
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err.splitlines()
    assert root.level == saved[1]
    if fmt == "json":
        assert [json.loads(x)["message"] for x in err] == ["dead letter 1", "moved"]
    else:
        assert len(err) == 1 and "dead letter 1" in err[0]
