"""An organiser in a real browser (Debian's Chromium), by keyboard: copy a hybrid gathering with
its own questions, a programme and seat rules into a new draft, and merge two organisations
after the confirmation page, in Bokmål, Nynorsk and English, with axe-core finding nothing on
any page on the way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from klynge_rsvp import programme, questions, rsvp, seat_rule_changes
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    AuditEntry,
    Gathering,
    GatheringMode,
    Organisation,
    QuestionKind,
    Registration,
    SeatRule,
)
from tests.browser.conftest import axe_violations
from tests.browser.helpers import LANGUAGES, log_in
from tests.browser.test_accessibility import switch_language
from tests.conftest import registration_request

pytestmark = pytest.mark.browser


def seed(app, make_gathering) -> tuple[int, int, int]:
    """A published hybrid gathering (issue 16: a meeting link, a question, a programme item, a
    cap per organisation) with one registration from "Universitetet i Bergen" and one from
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
        # Made hybrid after the two registered in the room (a hybrid form asks each the mode).
        gathering.mode, gathering.online_capacity = GatheringMode.HYBRID, 50
        gathering.meeting_url = "https://teams.example.no/l/meetup-join/flom"
        questions.add(gathering, questions.QuestionDetails(
            kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?",
            choices=[(None, "Flom"), (None, "Skred")]), now=now, by=None)
        programme.add_item(gathering, programme.ItemDetails(
            starts_at=gathering.starts_at, ends_at=None, title="Frokost"), now=now, by=None)
        seat_rule_changes.change(gathering, seat_rule_changes.Change(organisation_cap=3),
                                 now=now, by=None)
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
            expect(page.locator("input[name=mode][value=hybrid]")).to_be_checked()
            expect(page.locator("[name=meeting_url]")).to_have_value("")
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
        for copy in copies:  # the format comes along; the link is for the original's people
            assert (copy.mode, copy.online_capacity) == (GatheringMode.HYBRID, 50)
            assert not copy.meeting_url
            assert [q.label for q in questions.questions_of(copy)] == ["Hvilken workshop?"]
            assert [item.title for item in copy.programme] == ["Frokost"]
            assert db.session.scalar(sa.select(SeatRule.organisation_cap)
                                     .where(SeatRule.gathering_id == copy.id)) == 3
        assert db.session.get(Organisation, gone) is None
        assert set(db.session.scalars(sa.select(Registration.organisation_id))) == {keep}
        actions = db.session.scalars(sa.select(AuditEntry.action)).all()
        assert actions.count("organisation_merge") == 1 and actions.count("create") == 3
