"""The import check's report rows are exactly what csv.writer writes for them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bounce_worker.importcheck import BadFile, ChunkChecker, read_items
from bounce_worker.lookup import Batch, Found, Hit
from bounce_worker.store.models import Base


def test_report_text_is_csv_writers() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)  # the lookup reads the (empty) entries table at start
    check = ChunkChecker(engine, "email", None, "acme", None)
    cells = [
        "a@b.org",
        "Plain.Name+tag@Example.org",
        'x"y@b.org',  # needs quoting: a quote
        "a,b@c.org",  # a comma
        " c@d.org\r\n",  # line breaks around it
        "ü@b.org",
        "",
        "blocked@b.org",
    ]
    read = [(i + 2, cell, cell.strip().lower() or None, "") for i, cell in enumerate(cells)]
    read += [(20, None, None, "missing column 'email'"), (21, "m\udcfcller", None, "not UTF-8")]
    hit = Hit("email", "blocked@b.org", "organization", "acme", "", "blocked", 'a "b", c', None)
    own = {key for _, _, key, _ in read if key}
    found = Found(own={"blocked@b.org": [hit]}, domains={})
    text, counts = check.report(read, Batch(own, {}, {}), found)

    expected = io.StringIO()
    rows: list[list[object]] = []
    for line, cell, key, why in read:
        if key is None:
            shown = (cell or "").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            rows.append([line, shown, "bad", "", "", "", "", why])
        elif key == "blocked@b.org":
            rows.append([line, cell, "skip", "blocked", 'a "b", c', "organization/acme",
                         "address", ""])  # fmt: skip
        else:
            rows.append([line, cell, "send", "active", "", "", "", ""])
    csv.writer(expected).writerows(rows)
    assert text == expected.getvalue()
    assert counts == {"send": 6, "skip": 1, "skip:blocked": 1, "bad": 3}


def test_a_header_that_is_not_utf8_is_named_readably(tmp_path: Path) -> None:
    # The API answers this message as JSON: a lone surrogate in it made the answer a 500.
    source = tmp_path / "contacts.csv"
    source.write_bytes(b"na\xefme,ma\xffil\nx,y\n")
    with pytest.raises(BadFile) as caught:
        next(read_items(source, "email"))
    message = str(caught.value)
    assert message.encode("utf-8") and "na\ufffdme, ma\ufffdil" in message
