"""An organiser in a real browser (Debian's Chromium), by keyboard: copy a gathering into a new
draft, and merge two organisations after the confirmation page, in Bokmål, Nynorsk and
English, with axe-core finding nothing on any page on the way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Gathering, Organisation, Registration
from tests.browser.conftest import axe_violations
from tests.browser.helpers import LANGUAGES, log_in
from tests.browser.test_accessibility import switch_language
from tests.conftest import registration_request

pytestmark = pytest.mark.browser


def seed(app, make_gathering) -> tuple[int, int, int]:
    """A published gathering with one registration from "Universitetet i Bergen" and one from
    "UiB"; their ids (gathering, kept organisation, organisation to merge)."""
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(title="Frokostmøte om flom", now=now, capacity=30,
                                   starts_at=now + timedelta(days=20))
        ids = []
        for n, name in enumerate(["Universitetet i Bergen", "UiB"], 1):
            [outcome] = rsvp.register(gathering, registration_request(
                n, organisation_name=name), now=now)
            ids.append(outcome.registration.organisation_id)
        db.session.commit()
        return gathering.id, ids[0], ids[1]


def press(page: Page, selector: str) -> None:
    """Reach a control by keyboard focus and press Enter, as a keyboard user would."""
    page.locator(selector).focus()
    expect(page.locator(selector)).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def clean(page: Page, where: str) -> None:
    assert axe_violations(page) == [], where


def test_copy_and_merge_by_keyboard_in_every_language(live_url, app, browser,
                                                       browser_context_args, make_organiser,
                                                       make_gathering):
    email = make_organiser("arrangor@bergen.kommune.no")
    gathering_id, keep, gone = seed(app, make_gathering)
    context = browser.new_context(**browser_context_args)
    try:
        page = context.new_page()
        log_in(page, live_url, email)
        for language in LANGUAGES:
            switch_language(page, language)
            page.goto(f"{live_url}/arrangor/samlinger/{gathering_id}")
            clean(page, f"{language} gathering page")

            press(page, "form[action$='/kopier'] button")
            expect(page).to_have_url(re.compile(r"/arrangor/samlinger/\d+/endre$"))
            expect(page.locator("[name=title]")).to_have_value("Frokostmøte om flom")
            clean(page, f"{language} edit form of the copy")

            page.goto(f"{live_url}/arrangor/virksomheter")
            clean(page, f"{language} organisations")
            page.locator(f"a[href$='/virksomheter/{keep}']").focus()
            page.keyboard.press("Enter")
            expect(page).to_have_url(re.compile(f"/virksomheter/{keep}$"))
            clean(page, f"{language} organisation")

            # Continue without choosing: a message, nothing merged.
            press(page, "[name='merge-submit']")
            expect(page.locator(".error-summary, [role=alert]").first).to_be_visible()
            clean(page, f"{language} merge without a choice")

            page.locator("[name='merge-other']").focus()
            page.locator("[name='merge-other']").select_option(str(gone))
            press(page, "[name='merge-submit']")
            expect(page.locator("input[name='merge-confirm']")).to_have_count(1)
            clean(page, f"{language} merge confirmation")
            if language != "en":  # the last language merges; the others go back
                page.locator("main a.button--secondary").focus()
                page.keyboard.press("Enter")
                expect(page).to_have_url(re.compile(f"/virksomheter/{keep}$"))
                continue
            press(page, "main form button[type=submit]")
            expect(page).to_have_url(re.compile(f"/virksomheter/{keep}$"))
            expect(page.get_by_text("“UiB” has been merged into “Universitetet i Bergen”. "
                                    "1 registration was moved.")).to_be_visible()
            clean(page, f"{language} after the merge")
    finally:
        context.close()

    with app.app_context():
        copies = db.session.scalars(sa.select(Gathering).where(Gathering.id != gathering_id)).all()
        assert len(copies) == 3 and all(g.status.value == "draft" and g.registrations == []
                                        for g in copies)
        assert db.session.get(Organisation, gone) is None
        assert set(db.session.scalars(sa.select(Registration.organisation_id))) == {keep}
        actions = db.session.scalars(sa.select(AuditEntry.action)).all()
        assert actions.count("organisation_merge") == 1 and actions.count("create") == 3
