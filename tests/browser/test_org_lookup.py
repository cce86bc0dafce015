"""Enhetsregisteret in Debian's Chromium: leaving the organisation-number field fills in the name
and the sector and says so in a live region (org-lookup.js), the server does the same without
JavaScript, a deleted number is explained beside the field with a box to use it anyway, and the
organisers' "Hent fra Enhetsregisteret"; axe on each page. The register is tests/test_registry.py's
HTTP server on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Organisation, Registration, Sector
from tests.browser.conftest import axe_violations
from tests.browser.helpers import log_in
from tests.conftest import NOW
from tests.test_registry import BRANNVESEN, FRIVILLIG, SLETTET, FakeRegister

pytestmark = pytest.mark.browser


@pytest.fixture
def brreg(app_config):
    with FakeRegister() as server:
        app_config.update({"KLYNGE_BRREG_URL": server.base, "KLYNGE_BRREG_TIMEOUT": 1.0})
        yield server


@pytest.fixture
def slug(brreg, live_url, app, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(starts_at=now + timedelta(days=20), now=now)
        db.session.commit()
        return gathering.slug


def organisation_of(app):
    with app.app_context():
        registration = db.session.scalar(sa.select(Registration))
        return registration and (registration.organisation.name, registration.organisation.sector)


def fill_me(page):
    page.locator("#name").fill("Kari Nordmann")
    page.locator("#email").fill("kari@example.no")
    page.locator("#consent").check()


def test_leaving_the_number_fills_in_the_name_and_sector_and_says_so(brreg, live_url, slug, app,
                                                                    page, screenshot):
    page.goto(f"{live_url}/samlinger/{slug}")
    fill_me(page)
    page.locator("#organisation").fill("Røde kors bergen")
    page.get_by_label("Privat").check()
    page.locator("#org_number").fill("910 000 039")
    page.keyboard.press("Tab")
    status = page.locator("[data-org-lookup-status]")
    expect(status).to_have_text("Fant «BERGEN RØDE KORS» i Enhetsregisteret. Navnet og sektoren "
                                "(Frivillig) er fylt ut.")
    assert status.get_attribute("aria-live") == "polite"
    expect(page.locator("#organisation")).to_have_value("BERGEN RØDE KORS")
    expect(page.get_by_label("Frivillig")).to_be_checked()
    assert axe_violations(page) == []
    screenshot(page, "org-lookup-found")
    assert brreg.hits == [f"/enheter/{FRIVILLIG}"]
    page.get_by_role("button", name="Meld meg på").click()
    page.wait_for_load_state()
    assert "/kvittering" in page.url
    assert organisation_of(app) == ("BERGEN RØDE KORS", Sector.VOLUNTEER)
    assert brreg.hits == [f"/enheter/{FRIVILLIG}"]  # the submit found the kept answer


def test_without_javascript_the_server_fills_in_at_submit(brreg, live_url, slug, app, browser,
                                                          browser_context_args):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_url}/samlinger/{slug}")
        fill_me(page)
        page.locator("#organisation").fill("Brannvesenet")
        page.get_by_label("Privat").check()
        page.locator("#org_number").fill(BRANNVESEN)
        page.get_by_role("button", name="Meld meg på").click()
        page.wait_for_load_state()
        assert "/kvittering" in page.url
    finally:
        context.close()
    assert organisation_of(app) == ("BERGEN BRANNVESEN", Sector.PUBLIC)


def test_a_deleted_number_is_explained_and_can_be_used_anyway(brreg, live_url, slug, app, page,
                                                               screenshot):
    page.goto(f"{live_url}/samlinger/{slug}")
    fill_me(page)
    page.locator("#organisation").fill("Gamle Vakt AS")
    page.get_by_label("Privat").check()
    page.locator("#org_number").fill(SLETTET)
    page.keyboard.press("Tab")
    expect(page.locator("[data-org-lookup-status]")).to_contain_text(
        "Organisasjonsnummeret er slettet i Enhetsregisteret")
    page.get_by_role("button", name="Meld meg på").click()
    page.wait_for_load_state()
    assert page.title().startswith("Feil:")
    expect(page.locator("#org_number-error")).to_contain_text("slettet i Enhetsregisteret")
    expect(page.locator("#org_number")).to_have_attribute("aria-invalid", "true")
    assert axe_violations(page) == []
    screenshot(page, "org-lookup-deleted")
    page.get_by_label("Bruk organisasjonsnummeret likevel").check()
    page.locator("#consent").check()
    page.get_by_role("button", name="Meld meg på").click()
    page.wait_for_load_state()
    assert "/kvittering" in page.url
    assert organisation_of(app) == ("Gamle Vakt AS", Sector.PRIVATE)


def test_an_organiser_fetches_the_name_and_sector(brreg, live_url, app, make_organiser, page):
    with app.app_context():
        organisation = Organisation(name="Brannvesenet", name_key="brannvesenet",
                                    sector=Sector.PRIVATE, org_number=BRANNVESEN, created_at=NOW)
        db.session.add(organisation)
        db.session.commit()
        organisation_id = organisation.id
    log_in(page, live_url, make_organiser())
    page.goto(f"{live_url}/arrangor/virksomheter/{organisation_id}")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Hent fra Enhetsregisteret").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text("BERGEN BRANNVESEN")
    expect(page.get_by_text("Navnet og sektoren er hentet fra Enhetsregisteret")).to_be_visible()
    assert axe_violations(page) == []
