"""An organiser sets fair-seat rules in Debian's Chromium (issue 16): a refused form keeps what
was typed and puts the focus on the error summary; a cap and a hold for volunteers are saved and
shown again; the page is axe clean in Bokmål, Nynorsk and English; the public page then says
how many seats are held, for whom and until when."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp import seat_rules
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.formatting import local
from klynge_rsvp.models import Gathering, Sector
from tests.browser.conftest import axe_violations
from tests.browser.helpers import at_half_past_eight, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def gathering(app, make_gathering):
    """A published gathering with 30 seats, a month away."""
    with app.app_context():
        made = make_gathering(title="Øvelse i krisekommunikasjon", starts_at=at_half_past_eight(30),
                              capacity=30, now=utcnow(), slug="krisekommunikasjon")
        db.session.commit()
        return made.id


def test_an_organiser_sets_a_cap_and_seats_held_for_volunteers(live_url, app, page: Page,
                                                                make_organiser, gathering):
    log_in(page, live_url, make_organiser())
    page.goto(f"{live_url}/arrangor/samlinger/{gathering}")
    page.get_by_role("link", name="Plassregler").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plassregler")
    assert axe_violations(page) == []

    # Seats without a date: refused, everything typed kept, the focus on the summary.
    page.get_by_label("Høyst antall plasser per virksomhet (valgfritt)").fill("3")
    page.get_by_label("Plasser holdt av for Frivillig").fill("5")
    page.get_by_role("button", name="Lagre plassreglene").click()
    expect(page).to_have_title(re.compile("^Feil: "))
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Skriv datoen plassene for frivillig holdes av til.")
    expect(page.get_by_label("Plasser holdt av for Frivillig")).to_have_value("5")
    assert axe_violations(page) == []

    with app.app_context():
        day = (local(utcnow()) + timedelta(days=20)).date()
    page.get_by_label("Holdes av til (dato) for Frivillig").fill(day.isoformat())
    page.get_by_role("button", name="Lagre plassreglene").click()
    expect(page.get_by_role("status")).to_contain_text("Plassreglene er lagret.")
    expect(page.get_by_label("Høyst antall plasser per virksomhet (valgfritt)")).to_have_value("3")
    expect(page.get_by_label("Holdes av til (dato) for Frivillig")).to_have_value(day.isoformat())
    expect(page.get_by_role("main")).to_contain_text(
        "5 plasser holdes av til frivillige organisasjoner til")
    with app.app_context():
        rules = seat_rules.rules_of(db.session.get(Gathering, gathering))
        assert rules.organisation_cap == 3
        assert [(h.sector, h.seats) for h in rules.holds] == [(Sector.VOLUNTEER, 5)]

    for language in ("nb", "nn", "en"):
        page.goto(f"{live_url}/sprak/{language}?tilbake=/arrangor/samlinger/{gathering}/plassregler")
        assert page.locator("html").get_attribute("lang") == language
        assert axe_violations(page) == [], language

    page.goto(f"{live_url}/sprak/nb?tilbake=/samlinger/krisekommunikasjon")
    expect(page.get_by_role("main")).to_contain_text(
        f"5 plasser holdes av til frivillige organisasjoner til {day.day}.")
    assert axe_violations(page) == []
