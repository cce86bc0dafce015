"""Issue 15 in a real browser (Debian's Chromium): a participant changes their registration,
cancels after a confirmation page and registers again, and says "Jeg kan ikke komme" from a
mail, on a 375 px screen with the keyboard alone and JavaScript off; an organiser corrects an
address. Axe is run on every page reached, and in nb, nn and en on the new pages
(test_accessibility.py lists them too)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp import reminders, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, Registration, RegistrationStatus
from tests.browser.conftest import axe_violations
from tests.browser.helpers import _gathering, calendar_part, deliver, log_in, mails_to
from tests.conftest import person, registration_request

pytestmark = pytest.mark.browser

TITLE = "Frokostmøte: beredskap i kalde vintre"


@pytest.fixture
def phone(browser, browser_context_args):
    """A 375 px phone on which none of the site's scripts run: every script request is refused
    (and the CSP allows no inline script), so everything must work with plain HTML forms.
    (java_script_enabled=False would also stop the test's own page.evaluate and axe, which
    then never return.)"""
    context = browser.new_context(**{**browser_context_args,
                                     "viewport": {"width": 375, "height": 740}})
    refused = []
    context.route(re.compile(r".*\.m?js(\?.*)?$"), lambda route: (refused.append(route.request.url),
                                                                   route.abort()))
    page = context.new_page()
    yield page
    assert page.locator("script[src]").count() == 0 or refused  # none ran
    context.close()


def seed(app, capacity=1, days=10, registered_days_ago=0) -> int:
    """A gathering with `capacity` seats, person 1 in a seat and person 2 waiting."""
    with app.app_context():
        now = utcnow() - timedelta(days=registered_days_ago)
        gathering = _gathering(TITLE, days=days, capacity=capacity, reminder_days_before=2, now=now)
        for n in (1, 2):
            rsvp.register(gathering, registration_request(n, person=person(n, name=f"Deltaker {n}")),
                          now=now)
        db.session.commit()
        return gathering.id


def status_of(app, email: str) -> RegistrationStatus:
    with app.app_context():
        return db.session.scalar(db.select(Registration.status).where(Registration.email == email))


def link_in(message, pattern: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"(http://127\.0\.0\.1:\d+/pamelding/[\w-]+{pattern})", text).group(1)


def tab_to(page: Page, test: str, limit: int = 80) -> None:
    """Press Tab until `test` (JavaScript about document.activeElement) holds; the focus must
    stay visible on the way."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const e = document.activeElement; return {test}; }})()"):
            assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
            return
    raise AssertionError(f"never reached by Tab: {test}")


def no_overflow(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_change_the_name_by_keyboard_on_a_phone_without_javascript(live_url, app, phone, smtp_server,
                                                                   screenshot):
    seed(app, capacity=2)
    deliver(app)
    [confirmation] = mails_to(smtp_server, "deltaker1@example.no")
    invited = calendar_part(confirmation)
    phone.goto(link_in(confirmation, ""))
    tab_to(phone, "e.textContent.trim() === 'Endre navn, stilling, virksomhet eller behov'")
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Endre påmeldingen")
    expect(phone.get_by_text("En ny adresse er en ny påmelding")).to_be_visible()
    assert axe_violations(phone) == [] and no_overflow(phone) is None
    screenshot(phone, "issue15-manage-edit")

    # An empty name: the summary is focused, the title says "Feil:", the link leads to the field.
    tab_to(phone, "e.id === 'name'")
    phone.keyboard.press("Control+A")
    phone.keyboard.press("Delete")
    tab_to(phone, "e.id === 'needs'")
    phone.keyboard.type("Nøtteallergi")
    phone.keyboard.press("Enter")  # a new line in the text area, not a submit
    tab_to(phone, "e.value === 'Lagre endringene'")
    phone.keyboard.press("Enter")
    expect(phone).to_have_title(re.compile("^Feil: "))
    expect(phone.locator("#error-summary")).to_be_focused()  # autofocus: no script needed
    expect(phone.locator("#needs")).to_have_value("Nøtteallergi")  # nothing typed is lost
    assert axe_violations(phone) == []
    screenshot(phone, "issue15-manage-edit-error")
    phone.keyboard.press("Tab")  # the summary's link to the field
    phone.keyboard.press("Enter")
    tab_to(phone, "e.id === 'name'") if phone.evaluate("document.activeElement.id") != "name" else None
    phone.keyboard.type("Åse Ærlig-Østby")
    tab_to(phone, "e.value === 'Lagre endringene'")
    phone.keyboard.press("Enter")

    expect(phone.get_by_text("Du får en oppdatert kalenderinvitasjon på e-post.")).to_be_visible()
    expect(phone.get_by_text("Åse Ærlig-Østby")).to_be_visible()
    deliver(app)
    updated = mails_to(smtp_server, "deltaker1@example.no")[-1]
    assert str(updated["Subject"]).startswith("Oppdatert påmelding")
    again = calendar_part(updated)
    assert (again.method, again.uid) == ("REQUEST", invited.uid)
    assert again.sequence == invited.sequence + 1


def test_cancel_after_confirming_then_register_again(live_url, app, phone, smtp_server, screenshot):
    seed(app, capacity=1)  # person 1 has the seat, person 2 waits
    deliver(app)
    phone.goto(link_in(mails_to(smtp_server, "deltaker1@example.no")[0], ""))
    tab_to(phone, "e.textContent.trim() === 'Meld meg av …'")
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Kan du ikke komme?")
    assert status_of(app, "deltaker1@example.no") == RegistrationStatus.CONFIRMED  # GET asks only
    assert axe_violations(phone) == []
    screenshot(phone, "issue15-manage-cancel")
    tab_to(phone, "e.value === 'Ja, meld meg av'")
    phone.keyboard.press("Enter")
    expect(phone.get_by_text("Du er meldt av denne samlingen.")).to_be_visible()
    assert status_of(app, "deltaker2@example.no") == RegistrationStatus.CONFIRMED  # promoted

    # Full again (the waiting person took the seat): registering again means the waiting list.
    expect(phone.get_by_role("button", name="Sett meg på ventelisten")).to_be_visible()
    assert axe_violations(phone) == []
    screenshot(phone, "issue15-manage-cancelled")
    tab_to(phone, "e.textContent.trim() === 'Sett meg på ventelisten'")
    phone.keyboard.press("Enter")
    expect(phone.get_by_text("Du står som nummer 1 på ventelisten.")).to_be_visible()
    assert status_of(app, "deltaker1@example.no") == RegistrationStatus.WAITING
    deliver(app)
    kinds = [str(m["Subject"]).split(":")[0] for m in mails_to(smtp_server, "deltaker1@example.no")]
    assert kinds == ["Påmeldt", "Avmeldt", "Venteliste"]


@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_jeg_kan_ikke_komme_from_the_reminder(live_url, app, phone, smtp_server, language):
    # Registered ten days ago; the gathering is tomorrow, so its reminder is due now.
    gathering_id = seed(app, capacity=1, days=1, registered_days_ago=10)
    with app.app_context():
        db.session.get(Registration, 1).language = language
        gathering = db.session.get(Gathering, gathering_id)
        assert reminders.send_reminders(gathering, now=utcnow()) == 1
        db.session.commit()
    deliver(app)
    subjects = {"nb": "Påminnelse", "nn": "Påminning", "en": "Reminder"}
    [reminder] = [m for m in mails_to(smtp_server, "deltaker1@example.no")
                  if str(m["Subject"]).startswith(subjects[language])]
    words = {"nb": "Jeg kan ikke komme", "nn": "Eg kan ikkje kome", "en": "I can't come"}[language]
    html = reminder.get_body(("html",)).get_content()
    assert words in html.replace("&#39;", "'")
    phone.goto(link_in(reminder, "/avmelding"))
    assert status_of(app, "deltaker1@example.no") == RegistrationStatus.CONFIRMED
    assert axe_violations(phone) == []
    tab_to(phone, "e.value === 'Ja, meld meg av'")  # the page is in the browser's language
    phone.keyboard.press("Enter")
    expect(phone.get_by_text("Du er meldt av denne samlingen.")).to_be_visible()
    assert status_of(app, "deltaker1@example.no") == RegistrationStatus.CANCELLED
    assert status_of(app, "deltaker2@example.no") == RegistrationStatus.CONFIRMED
    deliver(app)
    [promotion] = [m for m in mails_to(smtp_server, "deltaker2@example.no")
                   if calendar_part(m) and calendar_part(m).method == "REQUEST"]
    assert promotion is not None


def test_an_organiser_corrects_an_address(live_url, app, page: Page, smtp_server, make_organiser,
                                          screenshot):
    seed(app, capacity=2)
    deliver(app)
    invited = calendar_part(mails_to(smtp_server, "deltaker1@example.no")[0])
    log_in(page, live_url, make_organiser())
    with app.app_context():
        registration_id = db.session.scalar(db.select(Registration.id).where(
            Registration.email == "deltaker1@example.no"))
    page.goto(f"{live_url}/arrangor/pameldinger/{registration_id}")
    page.get_by_role("link", name="Endre eller rett adressen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Endre påmeldingen til Deltaker 1")
    assert axe_violations(page) == []
    screenshot(page, "issue15-admin-edit")
    page.get_by_label("E-post").fill("deltaker2@example.no")  # someone else's: refused
    page.get_by_role("button", name="Lagre").click()
    expect(page).to_have_title(re.compile("^Feil: "))
    expect(page.get_by_text("deltaker2@example.no er allerede påmeldt")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("E-post").fill("riktig@example.no")
    page.get_by_role("button", name="Lagre").click()
    expect(page.get_by_text("Adressen er rettet til riktig@example.no.")).to_be_visible()
    assert axe_violations(page) == []
    deliver(app)
    withdrawn = calendar_part(mails_to(smtp_server, "deltaker1@example.no")[-1])
    corrected = calendar_part(mails_to(smtp_server, "riktig@example.no")[-1])
    assert (withdrawn.method, withdrawn.uid, withdrawn.sequence) == (
        "CANCEL", invited.uid, invited.sequence + 1)
    assert (corrected.method, corrected.uid, corrected.sequence) == (
        "REQUEST", invited.uid, invited.sequence + 1)
