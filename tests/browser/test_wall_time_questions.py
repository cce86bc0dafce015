"""In a real browser without JavaScript: an organiser types a time the clocks skip or repeat
(Europe/Oslo, 2030), is asked, answers with the keyboard-reachable controls by their labels,
and the gathering is stored at the instant chosen. The asking pages pass axe (WCAG 2.1 AA)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering
from tests.browser.conftest import axe_violations
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser


def new_gathering(page: Page, base_url: str, title: str, day: str, start: str) -> None:
    page.goto(f"{base_url}/arrangor/samlinger/ny")
    page.get_by_label("Tittel").fill(title)
    page.get_by_label("Type samling").fill("Øvelse")
    page.get_by_label(re.compile("^Dato")).fill(day)
    page.get_by_label("Starter kl.").fill(start)
    page.get_by_label("Slutter kl.").fill("05:00")
    page.get_by_label(re.compile("^Sted")).fill("Beredskapssenteret")
    page.get_by_role("button", name="Lagre", exact=True).click()


def starts_at(app, title: str) -> datetime | None:
    with app.app_context():
        return db.session.scalar(db.select(Gathering.starts_at).where(Gathering.title == title))


def test_skipped_and_repeated_times_are_asked_without_javascript(
        live_url, app, browser, browser_context_args, make_organiser):
    email = make_organiser("arrangor@bergen.kommune.no")
    plain = browser.new_context(**browser_context_args, java_script_enabled=False)
    checked = browser.new_context(**browser_context_args)
    try:
        for context in (plain, checked):
            page = context.new_page()
            log_in(page, live_url, email)
        page = plain.pages[0]

        # Spring: 02.30 does not exist; saying yes stores 03.30 summer time.
        new_gathering(page, live_url, "Nattøvelse vår", "2030-03-31", "02:30")
        summary = page.locator("#error-summary")
        expect(summary).to_contain_text("Kl. 02.30 finnes ikke søndag 31. mars 2030")
        assert starts_at(app, "Nattøvelse vår") is None
        summary.get_by_role("link", name=re.compile("^Starter kl.")).click()
        expect(page).to_have_url(re.compile("#start_time_gap$"))
        page.get_by_label("Ja, lagre kl. 03.30").check()
        page.get_by_role("button", name="Lagre", exact=True).click()
        expect(page.get_by_text("Utkastet er lagret")).to_be_visible()
        assert starts_at(app, "Nattøvelse vår") == datetime(2030, 3, 31, 1, 30, tzinfo=UTC)

        # Autumn: 02.30 happens twice; the group is a fieldset named by its legend.
        new_gathering(page, live_url, "Nattøvelse høst", "2030-10-27", "02:30")
        group = page.get_by_role("group", name=re.compile("Kl. 02.30 finnes to ganger"))
        expect(group).to_be_visible()
        expect(page.get_by_label("Starter kl.")).to_have_value("02:30")  # what was typed is kept
        assert starts_at(app, "Nattøvelse høst") is None
        group.get_by_label(re.compile("^02.30 normaltid \\(UTC\\+1\\)")).check()
        page.get_by_role("button", name="Lagre", exact=True).click()
        expect(page.get_by_text("Utkastet er lagret")).to_be_visible()
        assert starts_at(app, "Nattøvelse høst") == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)

        # The asking pages, checked by axe in a browser that runs it.
        page = checked.pages[0]
        for day in ("2030-03-31", "2030-10-27"):
            new_gathering(page, live_url, f"Sjekk {day}", day, "02:30")
            expect(page.locator("#error-summary")).to_be_visible()
            assert axe_violations(page) == [], day
    finally:
        plain.close()
        checked.close()
