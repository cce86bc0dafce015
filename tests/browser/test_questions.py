"""Issue 16 in Debian's Chromium: an organiser adds a one-choice and a several-choices question
through the organiser pages; a person on a phone (375 px), with the keyboard alone, registers
themselves and a colleague, each answering both; axe on the organiser's pages and the form."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from klynge_rsvp import questions
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Registration
from tests.browser.conftest import axe_violations
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def gathering(app, make_gathering):
    with app.app_context():
        now = utcnow()
        made = make_gathering(title="Seminar om flom og skred", capacity=20, now=now,
                              starts_at=now + timedelta(days=20))
        db.session.commit()
        return {"id": made.id, "slug": made.slug}


def add_question(page: Page, label: str, kind: str, choices: str, required: bool) -> None:
    page.locator("#label").fill(label)
    page.get_by_label(kind).check()
    page.locator("#new_choices").fill(choices)
    if required:
        page.get_by_label("Må besvares").check()
    page.get_by_role("button", name="Lagre spørsmålet").click()
    expect(page.locator(".notice--success")).to_contain_text(label)


def tab_to(page: Page, element_id: str, most: int = 120) -> None:
    """Press Tab until the element with this id has the focus (keyboard only, no clicks)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_organiser_adds_questions_and_a_person_answers_for_two_by_keyboard(
        live_url, app, browser, browser_context_args, make_organiser, gathering, screenshot,
        javascript):
    # The organiser adds the two questions through the pages.
    email = make_organiser()
    organiser = browser.new_context(**browser_context_args)
    try:
        page = organiser.new_page()
        log_in(page, live_url, email)
        page.goto(f"{live_url}/arrangor/samlinger/{gathering['id']}")
        page.get_by_role("link", name="Spørsmål i påmeldingsskjemaet").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Spørsmål i påmeldingsskjemaet")
        add_question(page, "Hvilken workshop?", "Ett valg (radioknapper)", "Flom\nSkred", True)
        add_question(page, "Hvilke måltider?", "Flere valg (avkrysningsbokser)", "Lunsj\nMiddag",
                     False)
        assert axe_violations(page) == []
        page.get_by_role("link", name="Endre «Hvilke måltider?»").click()
        expect(page.get_by_label("Valg 2")).to_have_value("Middag")
        assert axe_violations(page) == []
    finally:
        organiser.close()
    with app.app_context():
        workshop, meals = questions.questions_of(gathering["id"])
        w, m = f"question_{workshop.id}", f"question_{meals.id}"

    # A person on a phone, keyboard only: themselves and a colleague, both answering both.
    # Without JavaScript, "Legg til en kollega" sends the form and the page comes back with the
    # new row focused and everything typed kept.
    person = browser.new_context(**{**browser_context_args, "viewport": PHONE},
                                 java_script_enabled=javascript)
    try:
        page = person.new_page()
        page.goto(f"{live_url}/samlinger/{gathering['slug']}")
        expect(page.locator(f"#{w}-group legend")).to_contain_text("Hvilken workshop?")
        tab_to(page, "name")
        page.keyboard.type("Kari Nordmann")
        tab_to(page, "email")
        page.keyboard.type("kari@example.no")
        tab_to(page, "organisation")
        page.keyboard.type("Bergen kommune")
        tab_to(page, "sector-0")
        page.keyboard.press("Space")
        tab_to(page, f"{w}-0")
        page.keyboard.press("ArrowDown")  # moves to and chooses "Skred"
        expect(page.locator(f"#{w}-1")).to_be_checked()
        tab_to(page, f"{m}-0")
        page.keyboard.press("Space")
        tab_to(page, f"{m}-1")
        page.keyboard.press("Space")
        tab_to(page, "add_colleague")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        expect(page.locator("#colleagues-0-name")).to_be_visible()
        expect(page.locator(f"#{w}-1")).to_be_checked()
        expect(page.locator(f"#{m}-1")).to_be_checked()
        expect(page.locator("#name")).to_have_value("Kari Nordmann")
        expect(page.locator(f"#colleagues-0-{w}-group legend")).to_contain_text(
            "Hvilken workshop?")
        if page.evaluate("document.activeElement.id") != "colleagues-0-name":
            tab_to(page, "colleagues-0-name")
        page.keyboard.type("Ola Nordmann")
        tab_to(page, "colleagues-0-email")
        page.keyboard.type("ola@example.no")
        tab_to(page, f"colleagues-0-{w}-0")
        page.keyboard.press("Space")  # "Flom"
        tab_to(page, f"colleagues-0-{m}-1")
        page.keyboard.press("Space")  # "Middag"
        if javascript:
            assert axe_violations(page) == []
            screenshot(page, "issue16-questions-form")
        tab_to(page, "consent")
        page.keyboard.press("Space")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Meld meg på")).to_be_focused()
        page.keyboard.press("Enter")
        page.wait_for_url("**/kvittering")
    finally:
        person.close()

    with app.app_context():
        found = {r.email: dict(questions.answers_of(r))
                 for r in db.session.scalars(sa.select(Registration))}
    assert found == {
        "kari@example.no": {"Hvilken workshop?": "Skred", "Hvilke måltider?": "Lunsj, Middag"},
        "ola@example.no": {"Hvilken workshop?": "Flom", "Hvilke måltider?": "Middag"},
    }
