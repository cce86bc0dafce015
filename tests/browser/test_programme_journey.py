"""An organiser builds a gathering's programme by keyboard in Debian's Chromium: a refused item
keeps what was typed and puts the focus on the error summary; the programme page is axe clean
in Bokmål, Nynorsk and English; the public page shows the programme in order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from tests.browser.conftest import axe_violations
from tests.browser.helpers import at_half_past_eight, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def gathering(app, make_gathering):
    """A published gathering at 08.30–10.30 Oslo time, a fortnight away."""
    with app.app_context():
        starts_at = at_half_past_eight(14)
        made = make_gathering(title="Frokostseminar om kraftberedskap", starts_at=starts_at,
                              ends_at=starts_at + timedelta(hours=2), now=utcnow(),
                              slug="kraftberedskap")
        db.session.commit()
        return made.id


def tab_to(page: Page, field_id: str) -> None:
    """Press Tab until the field has the focus (a time input takes a Tab per part it has)."""
    for _ in range(4):
        if page.evaluate("document.activeElement.id") == field_id:
            return
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == field_id


def type_item(page: Page, *, starts: str, ends: str, title: str, speakers: str = "",
              organisation: str = "") -> None:
    """Fill the add form with Tab and the keyboard, and send it with Enter in the last field."""
    # Debian's headless Chromium takes no typed digits in an <input type=time> driven over
    # CDP (tried: type, press per digit, after a click), so the times are filled; the rest is
    # keys: Tab from field to field, the text typed, Enter to send.
    page.get_by_label("Starter kl.").fill(starts)
    page.get_by_label("Slutter kl. (valgfritt)").fill(ends)
    page.get_by_label("Slutter kl. (valgfritt)").focus()
    for field_id, value in (("title", title), ("speakers", speakers), ("organisation", organisation)):
        tab_to(page, field_id)
        page.keyboard.press("Control+A")
        page.keyboard.type(value) if value else page.keyboard.press("Delete")
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_two_items_added_by_keyboard(live_url, app, page: Page, make_organiser, gathering):
    log_in(page, live_url, make_organiser())
    page.goto(f"{live_url}/arrangor/samlinger/{gathering}")
    page.get_by_role("link", name="Programmet").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Program")
    assert axe_violations(page) == []

    # Outside the gathering (it starts at 08.30): refused, with everything typed kept.
    type_item(page, starts="08:00", ends="", title="Frokost", organisation="Bergen kommune")
    expect(page).to_have_title(re.compile("^Feil: "))
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Punktet må ligge innenfor samlingens tid.")
    expect(page.get_by_label("Tittel")).to_have_value("Frokost")
    expect(page.get_by_label("Innledernes organisasjon (valgfritt)")).to_have_value("Bergen kommune")
    assert axe_violations(page) == []

    type_item(page, starts="09:00", ends="09:45", title="Kraft og kulde",
              speakers="Kari Nordmann og Per Hansen", organisation="BKK")
    expect(page.get_by_role("status")).to_contain_text(
        "«Kraft og kulde» er lagt til i programmet.")
    type_item(page, starts="08:30", ends="", title="Frokost og velkommen")
    expect(page.get_by_role("row")).to_have_count(3)  # the header row and the two items
    rows = page.get_by_role("row").all_inner_texts()
    assert rows[1].startswith("08.30") and "Frokost og velkommen" in rows[1]
    assert rows[2].startswith("09.00") and "Kari Nordmann og Per Hansen (BKK)" in rows[2]

    for language in ("nb", "nn", "en"):
        page.goto(f"{live_url}/sprak/{language}?tilbake=/arrangor/samlinger/{gathering}/program")
        assert page.locator("html").get_attribute("lang") == language
        assert axe_violations(page) == [], language
    page.goto(f"{live_url}/sprak/nb?tilbake=/samlinger/kraftberedskap")
    programme = page.get_by_role("region", name="Program")
    expect(programme.get_by_role("listitem")).to_have_count(2)
    expect(programme.get_by_role("listitem").first).to_contain_text("08.30")
    expect(programme.get_by_role("listitem").last).to_contain_text("09.00–09.45")
    assert axe_violations(page) == []
