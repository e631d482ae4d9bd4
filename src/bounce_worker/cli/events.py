"""`bounce-worker process` (apply now, no broker) and `publish` (put on the queue)."""

from __future__ import annotations

import argparse
import json
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future
from functools import partial
from typing import Any

from sqlalchemy import Engine

from bounce_worker import ingest, service
from bounce_worker.cli.common import engine
from bounce_worker.cli.inputs import input_size, read_inputs
from bounce_worker.cli.progress import process_progress
from bounce_worker.clock import utcnow
from bounce_worker.config import settings
from bounce_worker.store.thread import database_thread

FILE_HELP = ".jsonl events, .eml mail, .mbox file, or - for stdin (kind sniffed if unsure)"


def register(sub: Any) -> None:
    process = sub.add_parser(
        "process",
        help="apply events (JSON Lines), bounce mails (.eml) or mbox files now, without a broker",
        description="Apply normalized events (one JSON object per line), raw bounce / ARF / "
        "unsubscribe mails (.eml) and mbox files synchronously. Input that does not parse or "
        "validate is stored as a dead letter with the reason; auto-replies are ignored.",
    )
    process.add_argument("files", nargs="+", metavar="FILE", help=FILE_HELP)
    process.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="events per transaction (default: BOUNCE_WORKER_BATCH_SIZE, 500), as the "
        "worker applies a published batch",
    )
    process.set_defaults(func=run_process)

    publish = sub.add_parser(
        "publish",
        help="put events (JSON Lines), mails (.eml) or mbox files on the queue for the workers",
        description="Publish event lines as bounce_worker.process_batch tasks of up to "
        "--batch-size events each (one transaction per message in the worker; with "
        "--batch-size 1, one bounce_worker.process_event task per line), and each mail as "
        "one bounce_worker.ingest_raw task. Validation happens in the worker, which "
        "dead-letters bad input.",
    )
    publish.add_argument("files", nargs="+", metavar="FILE", help=FILE_HELP)
    publish.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="events per message (default: BOUNCE_WORKER_BATCH_SIZE, 500); 1 = one per message",
    )
    publish.set_defaults(func=run_publish)


def read_lines(files: list[str]) -> Iterator[tuple[str, str]]:
    """(source, line) of JSON Lines input only (the demo's feed)."""
    for item in read_inputs(files):
        if item.kind == "event":
            yield item.source, str(item.data)


def run_process(args: argparse.Namespace) -> int:
    """Stream the inputs through the one writer: up to --batch-size events per transaction
    (a mail's events together), in file order; a progress bar when stderr is a terminal.
    This thread reads, decodes and plans the next batches while another writes the
    current one (store/thread.py): the two halves of the work overlap."""
    eng = engine()
    size = getattr(args, "batch_size", None) or settings().batch_size  # demo: files only
    counts: Counter[service.Result] = Counter()
    ahead: deque[Future[Done]] = deque()
    with process_progress(input_size(args.files)) as advance, database_thread(eng) as submit:

        def finish(written: Future[Done]) -> None:
            results, events, nbytes = written.result()
            counts.update(results)
            advance(events, nbytes)

        for step in _steps(eng, args.files, size):
            ahead.append(submit(*step))
            if len(ahead) > LOOKAHEAD:
                finish(ahead.popleft())
        while ahead:
            finish(ahead.popleft())
    R = service.Result
    ignored = f", ignored {counts[R.IGNORED]} auto-replies" if counts[R.IGNORED] else ""
    print(
        f"applied {counts[R.APPLIED]}, duplicates {counts[R.DUPLICATE]}, "
        f"dead-lettered {counts[R.DEAD_LETTERED]}{ignored}"
    )
    return 0


LOOKAHEAD = 2  # batches decoded and planned while an earlier one is being written
Done = tuple[Counter[service.Result], int, int]  # results, events, bytes of input


def _steps(eng: Engine, files: list[str], size: int) -> Iterator[tuple[Any, ...]]:
    """`process`'s database work, in file order, as (function, *args) for the writing
    thread: each batch of event lines decoded and planned here (service.decode_payloads),
    each mail as read (parsed there, in its turn)."""
    decode = partial(service.decode_payloads, max_bytes=settings().max_message_bytes)
    payloads: list[str | bytes] = []
    sources: list[str | None] = []

    def batch() -> tuple[Any, ...]:
        return _events, eng, decode(payloads, sources), sum(len(p) + 1 for p in payloads)

    for item in read_inputs(files):
        if item.kind == "event":
            payloads.append(item.data)
            sources.append(item.source)
        if payloads and (item.kind != "event" or len(payloads) >= size):
            yield batch()
            payloads, sources = [], []
        if item.kind != "event":
            yield _mail, eng, item.data, item.source
    if payloads:
        yield batch()


def _events(eng: Engine, decoded: service.Decoded, size: int) -> Done:
    policy = settings().policy
    results = service.apply_and_follow(eng, decoded, policy=policy, now=utcnow(), durable=False)
    return Counter(results), decoded.count, size


def _mail(eng: Engine, raw: str | bytes, source: str) -> Done:
    assert isinstance(raw, bytes)
    counts = ingest.ingest_configured(eng, raw, settings(), source=source, now=utcnow())
    return counts, 1, len(raw)


def run_publish(args: argparse.Namespace) -> int:
    from bounce_worker.celery_app import app
    from bounce_worker.tasks import ingest_raw, process_batch, process_event, raw_mail_args

    size = getattr(args, "batch_size", None) or settings().batch_size  # demo passes files only
    published = messages = 0
    with app.producer_or_acquire() as producer:
        pending: list[Any] = []
        for item in read_inputs(args.files):
            if item.kind != "event":
                assert isinstance(item.data, bytes)
                task_args, task_kwargs = raw_mail_args(item.data, item.source)
                ingest_raw.apply_async(task_args, task_kwargs, producer=producer)
                messages += 1
            elif size == 1:
                process_event.apply_async((decode_or_raw(str(item.data)),), producer=producer)
                messages += 1
            else:
                pending.append(decode_or_raw(str(item.data)))
                if len(pending) == size:
                    process_batch.apply_async((pending,), producer=producer)
                    messages, pending = messages + 1, []
            published += 1
        if pending:
            process_batch.apply_async((pending,), producer=producer)
            messages += 1
    print(f"published {published} events in {messages} message{'' if messages == 1 else 's'}")
    return 0


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1, with a one-line message otherwise."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def decode_or_raw(line: str) -> Any:
    """The decoded object, or the line itself so the worker can dead-letter it with a reason."""
    try:
        return json.loads(line)
    except ValueError:
        return line
