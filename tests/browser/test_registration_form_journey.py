"""Issue 15 in Debian's Chromium: a failed submit at 375 and 1280 px (the error summary focused and
in view, "Feil:" in the title, its links moving focus to the fields), Enter registering, colleague
rows added and removed by keyboard alone with and without JavaScript, needs per person reaching the
organiser's list, a full gathering, the home page's cards, the receipt, organiser pages on a phone;
axe in Bokmål, Nynorsk and English."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Registration
from tests.browser.conftest import axe_violations
from tests.browser.helpers import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def slugs(app, make_gathering):
    """An open gathering with seats and one that is full (one seat, taken)."""
    from klynge_rsvp import rsvp
    from tests.conftest import registration_request

    with app.app_context():
        now = utcnow()
        open_slug = make_gathering(title="Frokostmøte: beredskap i kalde vintre", capacity=10,
                                   now=now, starts_at=now + timedelta(days=20),
                                   registration_deadline=now + timedelta(days=18)).slug
        full = make_gathering(title="Lunsjseminar: flom og skred", capacity=1, now=now,
                              starts_at=now + timedelta(days=25))
        rsvp.register(full, registration_request("tatt"), now=now)
        db.session.commit()
        return {"open": open_slug, "full": full.slug}


def needs_of(app) -> dict[str, str]:
    with app.app_context():
        return {r.email: r.needs for r in db.session.scalars(sa.select(Registration))}


def fill_about_me(page: Page, *, name="Kari Nordmann", email="kari@example.no") -> None:
    page.locator("#name").fill(name)
    page.locator("#email").fill(email)
    page.locator("#organisation").fill("Bergen kommune")
    page.get_by_label("Offentlig").check()


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def live_text(page: Page) -> str:
    return page.locator("[data-colleagues-live]").inner_text()


# --- a failed submit ---------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_a_failed_submit_focuses_the_summary_in_view(live_url, app, browser, browser_context_args,
                                                     slugs, viewport, javascript, screenshot):
    context = browser.new_context(**{**browser_context_args, "viewport": viewport},
                                  java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto(f"{live_url}/samlinger/{slugs['open']}")
        page.locator("#name").fill("Kari")
        page.locator("#email").fill("ikke-en-adresse")
        page.get_by_role("button", name="Legg til en kollega").click()
        page.locator("#colleagues-0-email").fill("ola@example.no")
        page.get_by_role("button", name="Meld meg på").click()
        page.wait_for_load_state()

        assert page.title().startswith("Feil: Frokostmøte")
        summary = page.locator("#error-summary")
        expect(summary).to_be_focused()
        expect(summary).to_be_in_viewport(ratio=0.5)
        box = summary.bounding_box()  # its heading and first lines at least, not just a band
        assert box["y"] >= 0 and box["y"] + min(box["height"], 200) <= viewport["height"], box
        expect(summary.get_by_role("heading")).to_have_text("Påmeldingen ble ikke sendt")
        links = summary.get_by_role("link")
        expect(links).to_have_text([
            re.compile("^E-post: Skriv inn en gyldig e-postadresse"),
            re.compile("^Virksomhet eller organisasjon: "),
            re.compile("^Sektor: "),
            "Kollega 1: Navn: Skriv inn navnet til kollegaen.",
            re.compile("^Du må samtykke|^Jeg samtykker"),
        ])
        if javascript:
            assert axe_violations(page) == []
            if viewport is PHONE:
                screenshot(page, "issue15-failed-submit")
        # Each link takes the focus to its field, and the field into view.
        for target in ("email", "sector-0", "colleagues-0-name", "consent"):
            page.locator(f"#error-summary a[href='#{target}']").click()
            expect(page.locator(f"#{target}")).to_be_focused()
            expect(page.locator(f"#{target}")).to_be_in_viewport()
        # What was typed is all there.
        expect(page.locator("#name")).to_have_value("Kari")
        expect(page.locator("#colleagues-0-email")).to_have_value("ola@example.no")
    finally:
        context.close()


def test_summary_title_and_axe_in_every_language(live_url, page: Page, slugs):
    for language, prefix, heading in (("nb", "Feil:", "Påmeldingen ble ikke sendt"),
                                      ("nn", "Feil:", "Påmeldinga vart ikkje sendt"),
                                      ("en", "Error:", None)):
        page.goto(f"{live_url}/sprak/{language}?tilbake=/samlinger/{slugs['open']}")
        page.locator("#name").fill("Kari")
        page.locator("form[data-registration-form] input[type=submit][name=submit]").click()
        page.wait_for_load_state()
        assert page.title().startswith(prefix + " "), language
        expect(page.locator("#error-summary")).to_be_focused()
        if heading:
            expect(page.locator("#error-summary-title")).to_have_text(heading)
        assert axe_violations(page) == [], language
        page.goto(f"{live_url}/")
        assert axe_violations(page) == [], language
        page.goto(f"{live_url}/samlinger/{slugs['full']}")
        assert axe_violations(page) == [], language


# --- Enter, and colleague rows ------------------------------------------------------------------


def test_enter_in_a_text_field_registers(live_url, page: Page, app, slugs):
    page.goto(f"{live_url}/samlinger/{slugs['open']}")
    fill_about_me(page)
    page.get_by_label("Jeg samtykker").check()
    page.locator("#name").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")
    assert "kari@example.no" in needs_of(app)


def tab_to(page: Page, predicate: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(predicate):
            return
    raise AssertionError(f"never reached: {predicate}")


def test_colleagues_added_and_removed_by_keyboard_with_javascript(live_url, page: Page, app, slugs,
                                                                  screenshot):
    page.set_viewport_size(PHONE)
    page.goto(f"{live_url}/samlinger/{slugs['open']}")
    fill_about_me(page)
    page.locator("#needs").fill("Vegetar")
    page.locator("#org_number").focus()
    tab_to(page, "document.activeElement.name === 'add_colleague'")
    scroll_before = page.evaluate("window.scrollY")
    page.keyboard.press("Enter")
    # No reload, no jump to the top: the new row's first field has the focus, and it is said.
    expect(page.locator("#colleagues-0-name")).to_be_focused()
    assert page.evaluate("window.scrollY") >= scroll_before - 50
    expect(page.locator("[data-colleagues-live]")).to_have_text("Kollega 1 er lagt til.")
    page.keyboard.type("Ola Nordmann")
    page.keyboard.press("Tab")
    page.keyboard.type("ola@example.no")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("Nøtteallergi")
    tab_to(page, "document.activeElement.name === 'add_colleague'")
    page.keyboard.press("Space")
    expect(page.locator("#colleagues-1-name")).to_be_focused()
    page.keyboard.type("Skal Bort")
    tab_to(page, "document.activeElement.name === 'add_colleague'")
    page.keyboard.press("Enter")
    expect(page.locator("#colleagues-2-name")).to_be_focused()
    page.keyboard.type("Per Hansen")
    page.keyboard.press("Tab")
    page.keyboard.type("per@example.no")
    screenshot(page, "issue15-colleagues")

    # Remove the middle one: the focus goes to the row now in its place, renumbered.
    page.locator("#colleagues-1-name").focus()
    tab_to(page, "document.activeElement.hasAttribute('data-remove-colleague')")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Fjern kollega 2"
    page.keyboard.press("Enter")
    expect(page.locator("#colleague-1")).to_have_count(0)
    expect(page.locator("#colleagues-2-name")).to_be_focused()
    expect(page.locator("#colleague-2 legend")).to_have_text("Kollega 2")
    expect(page.locator("[data-colleagues-live]")).to_have_text("Kollega 2 er fjernet.")
    expect(page.locator("#colleagues-0-name")).to_have_value("Ola Nordmann")
    assert axe_violations(page) == []

    page.get_by_label("Jeg samtykker").check()
    page.locator("#colleagues-2-email").press("Enter")  # Enter registers, also from a row
    expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")
    assert needs_of(app) == {"deltakertatt@example.no": "", "kari@example.no": "Vegetar",
                             "ola@example.no": "Nøtteallergi", "per@example.no": ""}


def test_colleagues_added_and_removed_without_javascript(live_url, app, browser,
                                                         browser_context_args, slugs):
    context = browser.new_context(**{**browser_context_args, "viewport": PHONE},
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_url}/samlinger/{slugs['open']}")
        fill_about_me(page)
        page.get_by_role("button", name="Legg til en kollega").click()
        # The server's page comes back at the new row, its first field focused.
        expect(page.locator("#colleagues-0-name")).to_be_focused()
        expect(page.locator("#colleagues-0-name")).to_be_in_viewport()
        page.keyboard.type("Ola Nordmann")
        page.locator("#colleagues-0-email").fill("ola@example.no")
        page.locator("#colleagues-0-needs").fill("Rullestol")
        page.get_by_role("button", name="Legg til en kollega").click()
        expect(page.locator("#colleagues-1-name")).to_be_focused()
        page.keyboard.type("Skal Bort")
        page.get_by_role("button", name="Fjern kollega 2").click()
        expect(page.locator("#colleagues-1-name")).to_have_count(0)
        expect(page.get_by_role("button", name="Legg til en kollega")).to_be_focused()
        expect(page.locator("#colleagues-0-needs")).to_have_value("Rullestol")
        expect(page.locator("#name")).to_have_value("Kari Nordmann")
        page.get_by_label("Jeg samtykker").check()
        page.locator("#colleagues-0-email").press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")
        expect(page.get_by_text("Ola Nordmann (ola@example.no): påmeldt, og har plass.")).to_be_visible()
        assert needs_of(app)["ola@example.no"] == "Rullestol"
    finally:
        context.close()


def test_needs_per_person_reach_the_organisers_list(live_url, page: Page, app, slugs,
                                                    make_organiser, screenshot):
    page.goto(f"{live_url}/samlinger/{slugs['open']}")
    fill_about_me(page)
    page.locator("#needs").fill("Glutenfri")
    page.get_by_role("button", name="Legg til en kollega").click()
    page.locator("#colleagues-0-name").fill("Ola Nordmann")
    page.locator("#colleagues-0-email").fill("ola@example.no")
    page.locator("#colleagues-0-needs").fill("Tegnspråktolk")
    page.get_by_label("Jeg samtykker").check()
    page.get_by_role("button", name="Meld meg på").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")

    log_in(page, live_url, make_organiser())
    with app.app_context():
        gathering_id = db.session.scalar(sa.select(Registration.gathering_id).where(
            Registration.email == "ola@example.no"))
    page.goto(f"{live_url}/arrangor/samlinger/{gathering_id}/pameldinger")
    expect(page.get_by_role("row", name=re.compile("^Kari Nordmann"))).to_contain_text("Behov: Glutenfri")
    expect(page.get_by_role("row", name=re.compile("^Ola Nordmann"))).to_contain_text("Behov: Tegnspråktolk")
    page.goto(f"{live_url}/arrangor/samlinger/{gathering_id}/innsjekk")
    expect(page.locator(".checkin-person", has_text="Ola Nordmann")).to_contain_text("Behov: Tegnspråktolk")


# --- full gatherings, cards, receipt -------------------------------------------------------------


def test_a_full_gathering_offers_the_waiting_list(live_url, page: Page, slugs, screenshot):
    page.set_viewport_size(PHONE)
    page.goto(f"{live_url}/")
    card = page.locator(".card", has_text="Lunsjseminar: flom og skred")
    expect(card).to_contain_text("Fullt")
    expect(page.locator(".card", has_text="kalde vintre")).to_contain_text("10 ledige")
    expect(page.locator(".card", has_text="kalde vintre")).to_contain_text("Påmeldingsfrist")
    screenshot(page, "issue15-cards")  # photographs at 375 and 1280 px, and leaves 1280

    page.set_viewport_size(PHONE)
    page.goto(f"{live_url}/samlinger/{slugs['full']}")
    jump = page.get_by_role("link", name="Meld deg på ventelisten")
    expect(jump).to_be_in_viewport()  # near the top on a phone
    jump.click()
    expect(page.get_by_role("heading", name="Påmelding")).to_be_in_viewport()
    expect(page.get_by_text("Ventelisten går i den rekkefølgen folk meldte seg på.")).to_be_visible()
    expect(page.get_by_role("button", name="Meld meg på")).to_have_count(0)
    fill_about_me(page, name="Vera Venter", email="vera@example.no")
    page.get_by_label("Jeg samtykker").check()
    page.get_by_role("button", name="Sett meg på ventelisten").click()
    expect(page.get_by_text("Vera Venter (vera@example.no): på ventelisten.")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "issue15-receipt-waiting")

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_url}/samlinger/{slugs['full']}")
    expect(page.get_by_role("link", name="Meld deg på ventelisten")).to_be_hidden()


def test_registering_twice_in_one_browser_says_already_registered(live_url, page: Page, slugs):
    for _ in range(2):
        page.goto(f"{live_url}/samlinger/{slugs['open']}")
        fill_about_me(page)
        page.get_by_label("Jeg samtykker").check()
        page.get_by_role("button", name="Meld meg på").click()
        page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_have_text("Du var allerede påmeldt")
    expect(page.get_by_text(re.compile("Kari Nordmann \\(kari@example.no\\): var allerede påmeldt"))
           ).to_be_visible()
    assert axe_violations(page) == []


# --- organiser pages on a phone ------------------------------------------------------------------


def test_organiser_pages_fit_a_phone(live_url, page: Page, app, slugs, make_organiser, screenshot):
    log_in(page, live_url, make_organiser())
    page.set_viewport_size(PHONE)
    page.goto(f"{live_url}/arrangor/samlinger")
    header = page.locator(".site-header").bounding_box()["height"]
    print(f"organiser header at 375px: {header}px")
    assert header <= 200, f"the organiser header is {header}px high at 375px"
    with app.app_context():
        from klynge_rsvp.models import Gathering
        gathering_id = db.session.scalar(sa.select(Gathering.id).where(Gathering.slug == slugs["full"]))
    page.goto(f"{live_url}/arrangor/samlinger/{gathering_id}/pameldinger")
    region = page.get_by_role("region", name="Påmeldinger")
    # The table scrolls inside a labelled region that the keyboard reaches, with a shadow at the
    # edge where more is hidden.
    assert region.evaluate("e => e.scrollWidth > e.clientWidth")
    assert region.evaluate("e => e.tabIndex") == 0
    assert "radial-gradient" in region.evaluate("e => getComputedStyle(e).backgroundImage")
    region.focus()
    assert region.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
    for _ in range(20):  # the arrow keys scroll the focused region (no script needed)
        page.keyboard.press("ArrowRight")
        if region.evaluate("e => e.scrollLeft") > 0:
            break
    assert region.evaluate("e => e.scrollLeft") > 0
    screenshot(page, "issue15-admin-registrations")
    assert axe_violations(page) == []
