"""A colleague registered by someone else, in a real browser: the mail's "not me" link, its one
button, and the form afterwards refusing their address with a message (what was typed kept)."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from tests.browser.conftest import axe_violations
from tests.browser.helpers import deliver, mails_to

pytestmark = pytest.mark.browser


@pytest.fixture
def slug(app, make_gathering):
    with app.app_context():
        slug = make_gathering(title="Frokostmøte om flom", capacity=1, now=utcnow(),
                              starts_at=utcnow() + timedelta(days=20)).slug
        db.session.commit()
        return slug


def fill_in(page: Page, name: str, email: str) -> None:
    page.get_by_label("Navn", exact=False).first.fill(name)
    page.get_by_label("E-post").first.fill(email)
    page.get_by_label("Virksomhet eller organisasjon").fill("Bergen kommune")
    page.get_by_label("Offentlig").check()


def test_a_colleague_says_not_me(live_url, page: Page, app, slug, smtp_server, screenshot):
    page.goto(f"{live_url}/samlinger/{slug}")
    fill_in(page, "Kari Nordmann", "kari@example.no")
    page.get_by_role("button", name="Legg til en kollega").click()
    colleague = page.get_by_role("group", name="Kollega 1")
    colleague.get_by_label("Navn").fill("Ola Nordmann")
    colleague.get_by_label("E-post").fill("ola@example.no")
    page.get_by_label("Jeg samtykker").check()
    page.get_by_role("button", name="Meld meg på").click()
    expect(page.get_by_text("Sjekk innboksen.")).to_be_visible()

    deliver(app)
    [mail] = mails_to(smtp_server, "ola@example.no")
    body = mail.get_body(("plain",)).get_content()
    assert "Kari Nordmann (kari@example.no) har meldt deg på." in body
    page.goto(re.search(r"(http://127\.0\.0\.1:\d+/pamelding/[\w-]+/ikke-meg)", body).group(1))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Meld av og stopp e-posten fra påmeldingsskjemaet")
    assert axe_violations(page) == []
    screenshot(page, "not-me")
    page.get_by_role("button", name="Meld meg av og stopp e-posten").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Du er meldt av")
    assert axe_violations(page) == []

    # Someone types the address again: the form says so beside it and keeps everything.
    page.goto(f"{live_url}/samlinger/{slug}")
    fill_in(page, "Per Hansen", "per@example.no")
    page.get_by_role("button", name="Legg til en kollega").click()
    colleague = page.get_by_role("group", name="Kollega 1")
    colleague.get_by_label("Navn").fill("Ola")
    colleague.get_by_label("E-post").fill("ola@example.no")
    page.get_by_label("Jeg samtykker").check()
    # Kari has the only seat: the form offers the waiting list.
    page.get_by_role("button", name="Sett meg på ventelisten").click()
    expect(page.get_by_role("alert")).to_contain_text("Påmeldingen ble ikke sendt")
    # Beside the field, and as a link to it in the summary.
    expect(page.locator("#colleagues-0-email-error")).to_contain_text(
        "Vi kan ikke sende e-post til ola@example.no")
    expect(page.get_by_role("link", name=re.compile("^Kollega 1: E-post: Vi kan ikke sende"))
           ).to_be_visible()
    expect(page.get_by_label("Navn", exact=False).first).to_have_value("Per Hansen")
    expect(colleague.get_by_label("E-post")).to_have_value("ola@example.no")
    assert axe_violations(page) == []
    screenshot(page, "form-refused-colleague")
