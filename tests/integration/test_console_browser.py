"""The console in a real headless Chromium (Debian's chromium + chromedriver, via Selenium)
against the real `bounce-worker serve` on PostgreSQL with 100,000 entries.

One server, one browser and one seeded database for the module (the tests run in file
order and share them, which keeps the whole file to a few seconds of browser time). Every
page visited is saved as a screenshot (build/screenshots/console/, or $CONSOLE_SCREENSHOTS),
its weight is checked (<= 200 KB), and the browser's network log must show no request to
any other origin than the server.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from bench.console import seed
from bounce_worker.store.db import get_engine
from bounce_worker.store.models import AuditRow
from tests.conftest import REPO, run_cli, temporary_database
from tests.integration.api_support import make_key
from tests.integration.http_server import Server

pytestmark = pytest.mark.services

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS", REPO / "build" / "screenshots" / "console"))
ROWS = 100_000
MAX_PAGE_BYTES = 200 * 1024

EVENTS = [  # real events through the real CLI: what support is asked about
    {"event_id": "t-1", "type": "delivered", "recipient": "gone.user@example.org",
     "organization": "acme", "occurred_at": "2026-11-01T08:00:00Z", "source": "postfix"},
    {"event_id": "t-2", "type": "bounce", "recipient": "Gone.User@Example.org",
     "organization": "acme", "status": "5.1.1", "smtp_code": 550,
     "diagnostic": "550 5.1.1 <gone.user@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
     "occurred_at": "2026-11-20T08:00:00Z", "source": "postfix"},
    {"event_id": "t-3", "type": "unsubscribe", "recipient": "leaver@example.org",
     "organization": "acme", "occurred_at": "2026-11-21T09:00:00Z", "source": "one-click"},
]  # fmt: skip


@pytest.fixture(scope="module")
def console(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded database, keys for an owner (acme) and support, and the server on them."""
    home = tmp_path_factory.mktemp("console-home")
    with pytest.MonkeyPatch.context() as mp:
        for url in temporary_database(f"bw_test_{run_id}_console"):
            mp.setenv("BOUNCE_WORKER_DATABASE_URL", url)
            mp.setenv("BOUNCE_WORKER_HOME", str(home))
            mp.setenv("BOUNCE_WORKER_CONSOLE_SECRET", "test-console-secret-of-32-bytes-or-more")
            from bounce_worker.config import settings

            settings.cache_clear()
            seed(url, ROWS)
            feed = home / "events.jsonl"
            feed.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
            done = run_cli("process", str(feed))
            assert done.returncode == 0 and "applied 3" in done.stdout, done.stderr
            assert run_cli("recalculate", "--now", "2026-12-01T03:30:00Z").returncode == 0
            keys = {
                "owner": make_key("owner", "acme", "Olga Owner"),
                "support": make_key("support", None, "Sam Support"),
                "sender": make_key("sender", "acme", "a sender"),
            }
            server = Server().start()
            try:
                yield {"url": server.url, "keys": keys, "home": home, "db": url}
            finally:
                server.stop()
            settings.cache_clear()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: apt-get install chromium chromium-driver", False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--disable-background-networking",
                "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    yield driver
    driver.quit()


class Console:
    """The browser on the console: visits check weight and outside requests, and shoot."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.d, self.base = driver, base

    def network(self) -> list[dict[str, Any]]:
        return [json.loads(e["message"])["message"] for e in self.d.get_log("performance")]

    def check_page(self, shot: str) -> None:
        """After a navigation: every request went to the server, the page is light."""
        weight = 0
        for msg in self.network():
            if msg["method"] == "Network.requestWillBeSent":
                url = msg["params"]["request"]["url"]
                assert url.startswith((self.base, "data:")), f"outside request: {url}"
            elif msg["method"] == "Network.loadingFinished":
                weight += int(msg["params"].get("encodedDataLength", 0))
        assert weight <= MAX_PAGE_BYTES, f"{shot}: {weight} bytes"
        self.d.save_screenshot(str(SHOTS / f"{shot}.png"))

    def open(self, path: str, shot: str) -> None:
        self.d.get_log("performance")  # start this page's log afresh
        self.d.get(self.base + path)
        self.check_page(shot)

    def submit(self, form_element: Any, shot: str) -> None:
        self.d.get_log("performance")
        form_element.submit()
        self.check_page(shot)

    def sign_in(self, key: str, shot: str | None = None) -> None:
        self.d.delete_all_cookies()
        self.open("/console/", shot or "sign-in")
        field = self.d.find_element(By.ID, "key")
        field.send_keys(key)
        self.submit(field, (shot or "sign-in") + "-done")

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.d.get_cookies()}

    def text(self, css: str) -> str:
        return str(self.d.find_element(By.CSS_SELECTOR, css).text)


@pytest.fixture
def ui(browser: WebDriver, console: dict[str, Any]) -> Console:
    return Console(browser, console["url"])


def test_sign_in_as_owner_and_as_support_and_out(ui: Console, console: dict[str, Any]) -> None:
    ui.open("/console/statistics", "sign-in")  # no session: sent to sign-in
    assert ui.d.current_url.endswith("/console/sign-in")

    ui.sign_in("bwk_000000000000_not-a-key", "sign-in-refused")
    assert "unknown, revoked or mistyped" in ui.text("[role=alert]")
    ui.sign_in(console["keys"]["sender"], "sign-in-sender")
    assert "cannot sign in to the console" in ui.text("[role=alert]")

    ui.sign_in(console["keys"]["owner"], "owner-signed-in")
    assert ui.d.current_url.endswith("/console/search")
    assert ui.text("#who") == "Olga Owner · owner · acme"
    cookie = next(c for c in ui.d.get_cookies() if c["name"] == "bw_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert console["keys"]["owner"] not in cookie["value"]

    ui.sign_in(console["keys"]["support"], "support-signed-in")
    assert ui.text("#who") == "Sam Support · support"
    ui.submit(ui.d.find_element(By.CSS_SELECTOR, "header form"), "signed-out")
    assert ui.d.current_url.endswith("/console/sign-in")
    ui.open("/console/search", "signed-out-search")
    assert ui.d.current_url.endswith("/console/sign-in")


def test_support_searches_any_spelling_and_reads_reply_and_history(
    ui: Console, console: dict[str, Any]
) -> None:
    ui.sign_in(console["keys"]["support"])
    ui.open("/console/search", "search")
    # By keyboard alone: the search box has focus on arrival, Tab moves to the organization,
    # Enter searches.
    assert ui.d.switch_to.active_element.get_attribute("id") == "q"  # autofocus
    ui.d.switch_to.active_element.send_keys("  GONE.USER@example.ORG ", Keys.TAB)
    assert ui.d.switch_to.active_element.get_attribute("name") == "organization"
    ui.d.get_log("performance")
    ui.d.switch_to.active_element.send_keys("acme", Keys.ENTER)
    ui.check_page("contact-card")
    assert ui.text("#card-title") == "Gone.User@example.org"  # as the first bounce spelt it
    assert ui.text("#state") == "blocked"
    assert ui.text("#reason").startswith("hard_bounce")
    assert "User unknown in virtual mailbox table" in ui.text("#mta-reply")
    timeline = ui.text("#timeline")
    assert "active → blocked" in timeline and "hard_bounce" in timeline
    assert "event t-2" in timeline
    # A phone number in another spelling finds the seeded sms entry.
    ui.open("/console/search?q=%2B49 30 000000010", "contact-card-sms")
    assert ui.text("#card-title") == "+4930000000010"
    assert ui.text("#state") == "blocked"
    # A domain entry: every address at the domain is stopped by it.
    ui.open("/console/search?q=%40BENCH97.example", "contact-card-domain")
    assert ui.text("#state") == "blocked" and ui.text("#reason").startswith("manual")
    ui.open("/console/search?q=someone%40bench97.example", "contact-card-at-domain")
    assert ui.text("#state") == "blocked" and "domain bench97.example" in ui.text("#entries")


def test_owner_is_offered_no_lift_and_a_handmade_post_is_refused(
    ui: Console, console: dict[str, Any]
) -> None:
    ui.sign_in(console["keys"]["owner"])
    ui.open("/console/search?q=gone.user@example.org", "owner-card-blocked")
    row = ui.d.find_element(By.CSS_SELECTOR, "#entries tr[data-scope=global]")
    assert row.get_attribute("data-state") == "blocked"
    assert not row.find_elements(By.CSS_SELECTOR, ".action-lift, form")

    # The form support would get, posted by hand with the owner's own session and token.
    csrf = ui.d.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")
    form = {"csrf": csrf, "address": "gone.user@example.org", "scope": "global",
            "organization": "", "list": "", "reason": "customer insists"}  # fmt: skip
    with httpx.Client(base_url=console["url"], cookies=ui.cookies()) as http:
        refused = http.post("/console/entries/lift", data=form)
        assert refused.status_code == 403
        assert "only support may lift a global entry" in refused.text
        as_org = http.post("/console/entries/lift", data=form | {"scope": "organization"})
        assert as_org.status_code == 403  # there is no acme entry to lift: still nothing done
        no_token = http.post("/console/entries/lift", data=form | {"csrf": "forged"})
        assert no_token.status_code == 403 and "security token" in no_token.text
    ui.open("/console/search?q=gone.user@example.org", "owner-card-still-blocked")
    assert ui.text("#state") == "blocked"
    denied = _audit(console, "denied")
    assert (denied[0][:15], denied[1]) == ("Olga Owner (key", "POST /console/entries/lift")

    # What an owner may do is offered: lifting their organization's unsubscribe.
    ui.open("/console/search?q=leaver@example.org", "owner-card-blacklisted")
    assert ui.text("#state") == "blacklisted"
    assert ui.d.find_elements(By.CSS_SELECTOR, "#entries tr[data-scope=organization] .action-lift")


def test_support_lifts_with_a_reason_and_the_timeline_says_who_and_why(
    ui: Console, console: dict[str, Any]
) -> None:
    ui.sign_in(console["keys"]["support"])
    ui.open("/console/search?q=gone.user@example.org&organization=acme", "support-card")
    row = ui.d.find_element(By.CSS_SELECTOR, "#entries tr[data-scope=global]")
    lift = row.find_element(By.CSS_SELECTOR, ".action-lift")
    lift.find_element(By.TAG_NAME, "summary").click()
    reason = lift.find_element(By.NAME, "reason")
    reason.send_keys("mailbox re-created, confirmed by phone (ticket 4711)")
    ui.submit(lift.find_element(By.TAG_NAME, "form"), "support-lifted")
    assert "lift: blocked -> active" in ui.text("#done")
    assert ui.text("#state") == "may send"
    newest = ui.d.find_element(By.CSS_SELECTOR, "#timeline li").text
    assert "blocked → active" in newest and "lifted" in newest
    assert "Sam Support" in newest and "ticket 4711" in newest
    done = _audit(console, "done")
    assert done[1] == "POST /console/entries/lift" and "ticket 4711" in done[2]


def _audit(console: dict[str, Any], outcome: str) -> tuple[str, str, str]:
    """The newest audit row with this outcome written through the console."""
    with get_engine(console["db"]).connect() as conn:
        row = conn.execute(
            select(AuditRow.actor, AuditRow.action, AuditRow.reason)
            .where(AuditRow.via == "console", AuditRow.outcome == outcome)
            .order_by(AuditRow.id.desc()).limit(1)
        ).one()  # fmt: skip
    return row.actor, row.action, row.reason or ""


def _ids(ui: Console) -> list[int]:
    return [
        int(r.get_attribute("data-id"))
        for r in ui.d.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    ]


def test_filters_and_keyset_paging_over_100000_entries(
    ui: Console, console: dict[str, Any]
) -> None:
    ui.sign_in(console["keys"]["support"])
    ui.open("/console/suppressions", "suppressions")
    Select(ui.d.find_element(By.NAME, "state")).select_by_visible_text("blocked")
    Select(ui.d.find_element(By.NAME, "channel")).select_by_visible_text("email")
    ui.submit(ui.d.find_element(By.ID, "filters"), "suppressions-filtered")
    first = _ids(ui)
    assert len(first) == 50
    states = {c.text for c in ui.d.find_elements(By.CSS_SELECTOR, "#list tbody td:nth-child(4)")}
    channels = {c.text for c in ui.d.find_elements(By.CSS_SELECTOR, "#list tbody td:nth-child(2)")}
    assert states == {"blocked"} and channels == {"email"}
    pages = [first]
    for n in range(2):
        ui.d.get_log("performance")
        ui.d.find_element(By.ID, "older").click()
        ui.check_page(f"suppressions-page-{n + 2}")
        pages.append(_ids(ui))
    flat = [i for p in pages for i in p]
    assert flat == sorted(flat, reverse=True) and len(set(flat)) == 150  # no gap, no repeat
    ui.d.get_log("performance")
    ui.d.find_element(By.ID, "newer").click()
    ui.check_page("suppressions-back")
    assert _ids(ui) == pages[1]

    # Organization, scope, list and a date range together.
    ui.open("/console/suppressions?organization=org12&scope=list&list=news1"
            "&since=2026-01-01&until=2026-06-30", "suppressions-org-list-dates")  # fmt: skip
    scopes = {c.text for c in ui.d.find_elements(By.CSS_SELECTOR, "#list tbody td:nth-child(3)")}
    assert scopes == {"list/org12/news1"}
    changed = [c.text for c in ui.d.find_elements(By.CSS_SELECTOR, "#list tbody td:nth-child(7)")]
    assert changed and all("2026-01-01" <= c[:10] <= "2026-06-30" for c in changed)

    # The export of a filtered view: addresses only, streamed as CSV.
    with httpx.Client(base_url=console["url"], cookies=ui.cookies()) as http:
        export = http.get("/console/suppressions.csv?reason=manual&email_only=1")
    lines = export.text.splitlines()
    assert export.status_code == 200 and lines[0] == "address" and len(lines) > 100

    ui.open("/console/suppressions?since=yesterday", "suppressions-bad-filter")
    assert "since must be a date" in ui.text("[role=alert]")


def test_statistics_chart_renders_at_desktop_and_phone_width(
    ui: Console, console: dict[str, Any]
) -> None:
    ui.sign_in(console["keys"]["support"])
    ui.open("/console/statistics?organization=org03", "statistics")
    lines = ui.d.find_elements(By.CSS_SELECTOR, "svg.chart polyline.series")
    assert {ln.get_attribute("data-series") for ln in lines} == {
        "blocked", "blacklisted", "temporarily_blocked", "lost"}  # fmt: skip
    assert all(len(ln.get_attribute("points").split()) == 61 for ln in lines)  # 60 + today's
    assert lines[0].size["width"] > 300  # drawn, not collapsed
    assert ui.d.find_elements(By.CSS_SELECTOR, "#latest tbody tr")
    assert ui.d.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
    # Replay one dead letter (its payload is still broken: it stays a dead letter).
    ui.d.find_element(By.CSS_SELECTOR, "#dead-letters input[name=ids]").click()
    reason = ui.d.find_element(By.CSS_SELECTOR, "form[action$=replay] textarea[name=reason]")
    reason.send_keys("parser fixed in 1.2")
    ui.submit(reason, "statistics-replayed")
    assert "dead_lettered 1" in ui.text("#done")
    ui.d.set_window_size(390, 844)
    try:
        ui.open("/console/statistics?organization=org03", "statistics-phone")
        assert ui.d.execute_script("return document.documentElement.scrollWidth") <= 400
        ui.open("/console/search?q=gone.user@example.org", "contact-card-phone")
        assert ui.d.execute_script("return document.documentElement.scrollWidth") <= 400
    finally:
        ui.d.set_window_size(1280, 900)


def test_upload_gives_its_report(ui: Console, console: dict[str, Any]) -> None:
    contacts = console["home"] / "campaign.csv"
    contacts.write_text("name,email\nLea,leaver@example.org\nNew,fresh@example.org\n"
                        "Bad,not an address\nBlocked,USER5@example5.org\n")  # fmt: skip
    ui.sign_in(console["keys"]["owner"])
    ui.open("/console/import", "import")
    upload = ui.d.find_element(By.ID, "contacts")
    upload.send_keys(str(contacts))
    ui.submit(upload, "import-report")
    assert ui.text("#count-send") == "1"
    assert ui.text("#count-skip") == "2"
    assert ui.text("#count-bad") == "1"
    link = ui.d.find_element(By.ID, "download").get_attribute("href")
    with httpx.Client(cookies=ui.cookies()) as http:
        report = http.get(link)
    assert report.status_code == 200
    rows = report.text.splitlines()
    assert rows[0].startswith("line,address,result")
    assert any("leaver@example.org" in r and "skip" in r for r in rows)
    with httpx.Client() as http:  # without the session: nothing
        assert http.get(link, follow_redirects=False).status_code == 303


def test_every_page_was_shot() -> None:
    shots = {p.stem for p in SHOTS.glob("*.png")}
    for page in ("sign-in", "contact-card", "suppressions-filtered", "statistics", "import-report"):
        assert page in shots
