"""An organiser signs in with the employer's account in a real browser: the button on the
login page, the provider's own sign-in page (oidc-provider-mock on 127.0.0.1), back logged in,
and logging out at the provider too. The login page with the button is axe clean."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from klynge_rsvp.extensions import db
from klynge_rsvp.models import OrganiserSignIn
from tests.browser.conftest import axe_violations
from tests.oidc_helpers import MOCK_WARNINGS, mock_provider, set_user, settings

pytestmark = [pytest.mark.browser, *MOCK_WARNINGS]

EMAIL = "kari@bergen.kommune.no"


@pytest.fixture(scope="module")
def issuer():
    with mock_provider() as url:
        yield url


@pytest.fixture
def live_config(live_config, issuer):
    live_config["KLYNGE_OIDC_PROVIDERS"] = (settings(issuer, allowed_domains=("bergen.kommune.no",)),)
    return live_config


def loopback_only(context) -> None:
    # The mock's pages link a stylesheet on a CDN: nothing leaves 127.0.0.1.
    context.route(re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*"), lambda route: route.abort())


def test_sign_in_with_the_employers_account_and_out_again(live_url, app, issuer, browser,
                                                         browser_context_args, make_organiser,
                                                         screenshot):
    make_organiser(EMAIL, name="Kari Nordmann")
    set_user(issuer, "kari-1", email=EMAIL, email_verified=True, amr=["pwd"])
    context = browser.new_context(**browser_context_args)
    loopback_only(context)
    try:
        page: Page = context.new_page()
        page.goto(f"{live_url}/arrangor/")
        expect(page).to_have_url(re.compile(r"/arrangor/innlogging"))
        button = page.get_by_role("link", name="Logg inn med Bergen kommune")
        expect(button).to_be_visible()
        assert axe_violations(page) == []
        screenshot(page, "oidc-login")

        button.click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(issuer)}/oauth2/authorize\?"))
        page.locator("input[name=sub]").first.fill("kari-1")
        page.get_by_role("button", name="Authorize").click()

        expect(page).to_have_url(re.compile(rf"^{re.escape(live_url)}/arrangor/"))
        expect(page.get_by_role("button", name=re.compile("^Logg ut"))).to_be_visible()
        with app.app_context():
            link = db.session.scalar(sa.select(OrganiserSignIn))
            assert (link.subject, link.organiser.email, link.last_amr) == ("kari-1", EMAIL, "pwd")

        page.get_by_role("button", name=re.compile("^Logg ut")).click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(issuer)}/oauth2/end_session\?"))
        page.get_by_role("button", name="End session").click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(live_url)}/arrangor/innlogging"))
        page.goto(f"{live_url}/arrangor/")
        expect(page).to_have_url(re.compile(r"/arrangor/innlogging"))
    finally:
        context.close()
