"""A participant in a real browser: find, register with a colleague, open the mail's link,
download the calendar file, cancel. And the same registration by keyboard alone."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def gathering_slug(app, make_gathering):
    with app.app_context():
        slug = make_gathering(title="Frokostmøte: beredskap i kalde vintre", capacity=10,
                              now=utcnow(), starts_at=utcnow() + timedelta(days=20)).slug
        db.session.commit()
        return slug


def deliver(app):
    with app.app_context():
        while delivery.deliver_due().claimed:
            pass


def mail_to(smtp_server, address):
    for message in smtp_server.handler.parsed():
        if message["To"].addresses[0].addr_spec == address:
            return message
    raise AssertionError(f"no mail to {address}")


def manage_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"(http://127\.0\.0\.1:\d+/pamelding/[\w-]+)", text).group(1)


def test_register_with_colleague_then_manage_and_cancel(live_url, page: Page, app,
                                                        gathering_slug, smtp_server, screenshot):
    page.goto(live_url)
    assert axe_violations(page) == []
    screenshot(page, "01-upcoming")
    page.get_by_role("link", name="Frokostmøte: beredskap i kalde vintre").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Frokostmøte: beredskap i kalde vintre")

    page.get_by_label("Navn", exact=False).first.fill("Åse Ærlig-Østby")
    page.get_by_label("E-post").first.fill("ase@example.no")
    page.get_by_label("Stilling").first.fill("Beredskapskoordinator")
    page.get_by_label("Virksomhet eller organisasjon").fill("Bergen Røde Kors")
    page.get_by_label("Frivillig").check()
    page.get_by_role("button", name="Legg til en kollega").click()
    # The server kept everything and added a row for the colleague.
    expect(page.get_by_label("Navn", exact=False).first).to_have_value("Åse Ærlig-Østby")
    colleague = page.get_by_role("group", name="Kollega 1")
    colleague.get_by_label("Navn").fill("Олег Петров")
    colleague.get_by_label("E-post").fill("oleg@example.no")
    assert axe_violations(page) == []
    screenshot(page, "02-gathering-form")
    page.get_by_label("Jeg samtykker").check()
    page.get_by_role("button", name="Meld meg på").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")
    expect(page.get_by_text("Олег Петров (oleg@example.no)")).to_be_visible()
    expect(page.get_by_text("Sjekk innboksen.")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "03-receipt")

    deliver(app)
    assert {m["To"].addresses[0].addr_spec for m in smtp_server.handler.parsed()} == {
        "ase@example.no", "oleg@example.no"}
    page.goto(manage_link(mail_to(smtp_server, "ase@example.no")))
    expect(page.get_by_text("Du har plass på samlingen.")).to_be_visible()
    expect(page.get_by_text("Олег Петров")).to_have_count(0)  # only this person's data
    assert axe_violations(page) == []
    screenshot(page, "04-manage")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Last ned kalenderfil (.ics)").click()
    calendar = download_info.value.path().read_bytes()
    assert b"METHOD:PUBLISH" in calendar and b"BEGIN:VEVENT" in calendar

    page.get_by_role("link", name="Meld meg av …").click()  # a confirmation page first
    page.get_by_role("button", name="Ja, meld meg av").click()
    expect(page.get_by_text("Du er meldt av denne samlingen.")).to_be_visible()
    deliver(app)
    cancellations = [m for m in smtp_server.handler.parsed()
                     if str(m["Subject"]).startswith("Avmeldt")]
    assert [m["To"].addresses[0].addr_spec for m in cancellations] == ["ase@example.no"]


def test_registration_by_keyboard_alone_with_visible_focus(live_url, page: Page, app,
                                                           gathering_slug):
    page.goto(f"{live_url}/samlinger/{gathering_slug}")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Hopp til hovedinnholdet"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"

    name = page.locator("#name")
    while not page.evaluate("document.activeElement.id === 'name'"):
        page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.type("Kari Tastatur")
    page.keyboard.press("Tab")
    page.keyboard.type("kari.tastatur@example.no")
    page.keyboard.press("Tab")
    page.keyboard.type("Rådgiver")
    page.keyboard.press("Tab")
    page.keyboard.type("Ingen nøtter")  # the person's own needs, in "Om deg"
    page.keyboard.press("Tab")
    page.keyboard.type("Bergen kommune")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # the first sector radio: Offentlig
    expect(page.get_by_label("Offentlig")).to_be_checked()
    consent = page.get_by_label("Jeg samtykker")
    while not page.evaluate("document.activeElement.id === 'consent'"):
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(consent).to_be_checked()
    while page.evaluate("document.activeElement.value") != "Meld meg på":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")
    assert name is not None


def test_invalid_form_in_the_browser_keeps_input_and_is_accessible(live_url, page: Page,
                                                                   gathering_slug):
    page.goto(f"{live_url}/samlinger/{gathering_slug}")
    page.get_by_label("Navn", exact=False).first.fill("Kari")
    page.get_by_label("E-post").first.fill("ikke-en-adresse")
    page.get_by_role("button", name="Meld meg på").click()
    expect(page.get_by_text("Påmeldingen ble ikke sendt")).to_be_visible()
    expect(page.get_by_label("Navn", exact=False).first).to_have_value("Kari")
    expect(page.locator("#email-error")).to_contain_text("gyldig e-postadresse")
    assert axe_violations(page) == []


@pytest.mark.parametrize("path", ["/arkiv", "/personvern", "/finnes-ikke"])
def test_other_public_pages_have_no_accessibility_violations(live_url, page: Page, path,
                                                             screenshot):
    page.goto(live_url + path)
    assert axe_violations(page) == []
    screenshot(page, "page" + path.replace("/", "-"))
