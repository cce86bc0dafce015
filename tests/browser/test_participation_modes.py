"""Issue 16 in Debian's Chromium: an organiser creates a hybrid gathering with a meeting link
and publishes it; a person on a phone (375 px), with the keyboard alone, registers online; the
mail that arrives over SMTP has the link, the page never does; axe on the pages on the way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from tests.browser.conftest import axe_violations
from tests.browser.helpers import deliver, log_in, mails_to

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
TITLE = "Hybrid seminar: samband når strømmen går"
LINK = "https://meet.example.no/j/777?pwd=hemmelig"


def type_into(page: Page, selector: str, text: str) -> None:
    page.locator(selector).focus()
    page.keyboard.type(text)


def test_a_hybrid_gathering_and_an_online_registration(live_url, app, browser,
                                                      browser_context_args, smtp_server,
                                                      make_organiser):
    email = make_organiser("arrangor@bergen.kommune.no")
    day = (utcnow() + timedelta(days=21)).date()
    organiser = browser.new_context(**browser_context_args)
    try:
        page = organiser.new_page()
        log_in(page, live_url, email)
        page.goto(f"{live_url}/arrangor/samlinger/ny")
        page.get_by_label("Tittel").fill(TITLE)
        page.get_by_label("Type samling").fill("Seminar")
        page.get_by_label(re.compile("^Dato")).fill(day.isoformat())
        page.get_by_label("Starter kl.").fill("09:00")
        page.get_by_label("Slutter kl.").fill("11:00")
        page.get_by_label(re.compile("^Sted")).fill("Bergen rådhus")
        page.get_by_label("Hybrid: i salen eller digitalt").check()
        page.get_by_label("Antall digitale plasser (valgfritt)").fill("1")
        page.get_by_label("Møtelenke (valgfritt)").fill(LINK)
        page.get_by_label("Antall plasser (valgfritt)").fill("2")
        assert axe_violations(page) == []
        page.get_by_role("button", name="Lagre", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
        page.get_by_role("button", name="Publiser samlingen").click()
        expect(page.locator("body")).to_contain_text("Hybrid: i salen eller digitalt")
        public_url = page.locator("dd a[href*='/samlinger/']").first.get_attribute("href")
    finally:
        organiser.close()

    person = browser.new_context(**{**browser_context_args, "viewport": PHONE})
    try:
        page = person.new_page()
        page.goto(public_url)
        body = page.locator("body")
        expect(body).to_contain_text("Hybrid: i salen eller digitalt")
        expect(body).to_contain_text("Digitale plasser")
        assert LINK not in page.content() and "meet.example.no" not in page.content()
        assert axe_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        type_into(page, "#name", "Kari Nordmann")
        type_into(page, "#email", "kari@example.no")
        type_into(page, "#organisation", "Bergen kommune")
        page.locator("#sector-0").focus()
        page.keyboard.press("Space")
        page.locator("#consent").focus()
        page.keyboard.press("Space")
        # Forgetting the mode: the summary says so and its link leads to the first option.
        page.locator("#name").focus()
        page.keyboard.press("Enter")
        summary = page.locator("#error-summary")
        expect(summary).to_contain_text("Velg om du deltar i salen eller digitalt.")
        assert axe_violations(page) == []
        summary.get_by_role("link").first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#mode-0")).to_be_focused()
        # The mode by keyboard: the first option has the focus, the arrow picks the next.
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("Digitalt", exact=True)).to_be_checked()
        expect(page.locator("#consent")).to_be_checked()  # kept from the first try
        page.locator("#name").focus()
        page.keyboard.press("Enter")  # Enter in a text field registers
        expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")
        assert "meet.example.no" not in page.content()
    finally:
        person.close()

    deliver(app)
    [mail] = mails_to(smtp_server, "kari@example.no")
    text = mail.get_body(("plain",)).get_content()
    assert LINK in text
    calendar = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    unfolded = re.sub(r"\r?\n[ \t]", "", calendar.get_payload(decode=True).decode())
    assert f"LOCATION:{LINK}" in unfolded and re.search(r"^CONFERENCE;.*:" + re.escape(LINK),
                                                        unfolded, re.M)
