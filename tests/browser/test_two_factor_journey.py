"""An administrator in a real browser: the first login sets up the second factor (the key read
from the page, the code computed as an authenticator app would, with pyotp), logging out makes a
copy of the session cookie worthless, the next login asks for the code (and refuses the same
code twice), and a recovery code logs in once."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.models import OrganiserRole
from tests.browser.conftest import axe_violations
from tests.conftest import ORGANISER_PASSWORD

pytestmark = pytest.mark.browser

EMAIL = "leder@bergen.kommune.no"


def password_step(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/arrangor/")
    expect(page).to_have_url(re.compile(r"/arrangor/innlogging"))
    page.get_by_label("E-post").fill(EMAIL)
    page.get_by_label("Passord").fill(ORGANISER_PASSWORD)
    page.get_by_role("button", name="Logg inn").click()


def code_step(page: Page, code: str) -> None:
    expect(page).to_have_url(re.compile(r"/arrangor/innlogging/kode"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Skriv inn koden")
    page.get_by_label("Kode").fill(code)
    page.get_by_role("button", name="Logg inn").click()


def logged_in(page: Page) -> None:
    expect(page.get_by_role("button", name=re.compile("^Logg ut"))).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^Logg ut")).click()
    expect(page.get_by_text("Du er logget ut.")).to_be_visible()


def test_set_up_log_in_with_a_code_and_with_a_recovery_code(live_url, app, browser,
                                                             browser_context_args, make_organiser,
                                                             screenshot):
    make_organiser(EMAIL, role=OrganiserRole.ADMINISTRATOR, name="Lise Leder", second_factor=False)
    context = browser.new_context(**browser_context_args)
    try:
        page = context.new_page()

        # The first login: the password, then setting up the second factor before anything else.
        password_step(page, live_url)
        expect(page).to_have_url(re.compile(r"/arrangor/konto/tofaktor(\?|$)"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Slå på tofaktor")
        expect(page.get_by_role("img", name=re.compile("^QR-kode"))).to_be_visible()
        assert axe_violations(page) == []
        screenshot(page, "two-factor-journey-setup")
        totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
        setup_step = totp.timecode(utcnow())
        page.get_by_label("Koden appen viser").fill(totp.generate_otp(setup_step))
        page.get_by_role("button", name="Slå på tofaktor").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Gjenopprettingskodene dine")
        codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(codes) == 10 and len(set(codes)) == 10
        assert axe_violations(page) == []
        screenshot(page, "two-factor-journey-recovery-codes")
        page.get_by_role("link", name="Jeg har tatt vare på kodene").click()
        logged_in(page)

        # Logging out ends the session: a copy of its cookie opens nothing afterwards.
        cookies = context.cookies()
        log_out(page)
        thief = browser.new_context(**browser_context_args)
        try:
            thief.add_cookies(cookies)
            stolen = thief.new_page()
            stolen.goto(f"{live_url}/arrangor/")
            expect(stolen).to_have_url(re.compile(r"/arrangor/innlogging"))
        finally:
            thief.close()

        # The next login asks for the code from the app (one of a later step than the set-up's).
        password_step(page, live_url)
        code = totp.generate_otp(max(totp.timecode(utcnow()), setup_step + 1))
        code_step(page, code)
        logged_in(page)
        log_out(page)

        # The same code again (seen over a shoulder) is refused.
        password_step(page, live_url)
        code_step(page, code)
        # Beside the field, and as a link to it in the focused error summary.
        expect(page.locator("#code-error")).to_contain_text("Koden stemmer ikke, eller den er brukt før.")
        expect(page.locator("#error-summary")).to_be_focused()
        assert axe_violations(page) == []

        # A recovery code instead of the phone: it works once.
        code_step(page, codes[0])
        logged_in(page)
        expect(page.get_by_text("Du logget inn med en gjenopprettingskode, og har 9 igjen."))\
            .to_be_visible()
        log_out(page)
        password_step(page, live_url)
        code_step(page, codes[0])
        expect(page.locator("#code-error")).to_contain_text("Koden stemmer ikke, eller den er brukt før.")
        code_step(page, codes[1])
        logged_in(page)
        page.get_by_role("link", name="Min konto").click()
        expect(page.get_by_text("Du har 8 ubrukte gjenopprettingskoder.")).to_be_visible()
    finally:
        context.close()
