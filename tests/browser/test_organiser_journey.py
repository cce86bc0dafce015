"""An organiser in a real browser: log in, create and publish a gathering (typed in Oslo time),
see a registration arrive, check someone in on a phone and undo it, move the gathering and
postpone it (the registrant's calendar follows), send an announcement and watch it go out,
log out. Mail goes through the real outbox to a real SMTP server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, Registration
from tests.browser.conftest import SCREENSHOTS, axe_violations
from tests.browser.helpers import calendar_part, deliver, log_in, mails_to
from tests.conftest import registration_request

pytestmark = pytest.mark.browser

OSLO = ZoneInfo("Europe/Oslo")
TITLE = "Frokostmøte: når mobilnettet faller ut"
PARTICIPANT, PARTICIPANT_EMAIL = "Åse Ærlig-Østby", "ase@example.no"


def oslo(day: date, clock: str) -> datetime:
    """The UTC instant of an Oslo wall-clock time."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=OSLO).astimezone(UTC)


def gathering_with_title(app, title: str) -> Gathering:
    with app.app_context():
        gathering = db.session.scalar(db.select(Gathering).where(Gathering.title == title))
        db.session.expunge(gathering)
        return gathering


def checked_in(app, email: str) -> bool:
    with app.app_context():
        registration = db.session.scalar(db.select(Registration).where(Registration.email == email))
        return registration.checked_in_at is not None


def create_and_publish(page: Page, base_url: str, day: date) -> None:
    page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Samlinger").click()
    page.get_by_role("link", name="Ny samling").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ny samling")
    page.get_by_label("Tittel").fill(TITLE)
    page.get_by_label("Type samling").fill("Frokostmøte")
    page.get_by_label("Beskrivelse").fill("Hva gjør vi når mobilnettet er nede?\n\nTre korte innlegg.")
    page.get_by_label(re.compile("^Dato")).fill(day.isoformat())
    page.get_by_label("Starter kl.").fill("08:30")
    page.get_by_label("Slutter kl.").fill("10:00")
    page.get_by_label(re.compile("^Sted")).fill("Bergen Offentlige Bibliotek")
    page.get_by_label("Antall plasser").fill("40")
    page.get_by_role("button", name="Lagre", exact=True).click()
    expect(page.get_by_text("Utkastet er lagret")).to_be_visible()
    expect(page.get_by_text("Dette er et utkast.")).to_be_visible()
    page.get_by_role("button", name="Publiser samlingen").click()
    expect(page.get_by_text("Samlingen er publisert og åpen for påmelding.")).to_be_visible()


def register_in_public(page: Page, base_url: str) -> None:
    page.goto(base_url)
    page.get_by_role("link", name=TITLE).click()
    page.get_by_label("Navn", exact=False).first.fill(PARTICIPANT)
    page.get_by_label("E-post").first.fill(PARTICIPANT_EMAIL)
    page.get_by_label("Virksomhet eller organisasjon").fill("Bergen Røde Kors")
    page.get_by_label("Frivillig").check()
    page.get_by_label("Jeg samtykker").check()
    page.get_by_role("button", name="Meld meg på").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Takk for påmeldingen")


def check_in_on_a_phone(phone: Page, app, base_url: str, gathering_id: int) -> None:
    phone.goto(f"{base_url}/arrangor/samlinger/{gathering_id}/innsjekk")
    phone.evaluate("window.notReloaded = true")
    rows = phone.locator(".checkin-list > li")
    expect(rows).to_have_count(3)
    requests = []

    def record(request):
        requests.append(request.url)

    phone.on("request", record)
    phone.get_by_label("Søk etter navn, e-post eller virksomhet").press_sequentially("åse ær")
    expect(phone.locator(".checkin-list > li:visible")).to_have_count(1)
    expect(phone.get_by_text("1 treff.")).to_be_visible()
    phone.remove_listener("request", record)
    assert requests == []  # filtered as you type, in the page

    button = phone.get_by_role("button", name=f"Sjekk inn {PARTICIPANT}")
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box  # a target a thumb can hit
    button.tap()
    expect(phone.locator(f"li:has-text('{PARTICIPANT}')")).to_contain_text("Sjekket inn kl.")
    expect(phone.locator("[data-attended]")).to_have_text("1")
    expect(phone.locator("[data-checkin-live]")).to_have_text(f"{PARTICIPANT} er sjekket inn.")
    undo = phone.get_by_role("button", name=f"Angre innsjekkingen av {PARTICIPANT}")
    expect(undo).to_be_focused()  # the focus stays where the finger was
    assert checked_in(app, PARTICIPANT_EMAIL)
    assert axe_violations(phone) == []
    phone.screenshot(path=str(SCREENSHOTS / "journey-checkin-phone-375.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375

    undo.tap()
    expect(phone.locator(f"li:has-text('{PARTICIPANT}')")).to_contain_text("Ikke sjekket inn")
    expect(phone.locator("[data-attended]")).to_have_text("0")
    expect(phone.locator("[data-checkin-live]")).to_have_text(f"Innsjekkingen av {PARTICIPANT} er angret.")
    assert not checked_in(app, PARTICIPANT_EMAIL)
    assert phone.evaluate("window.notReloaded") is True
    expect(phone.get_by_label("Søk etter navn, e-post eller virksomhet")).to_have_value("åse ær")


def lifecycle_change(page: Page, action: str, fill, preview_text: str, confirm: str, done: str) -> None:
    page.get_by_role("link", name=action).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(action)
    fill(page)
    page.get_by_role("button", name="Forhåndsvis varselet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Se over før du sender: {action.lower()}")
    expect(page.get_by_text(preview_text)).to_be_visible()
    expect(page.get_by_text("Når du bekrefter, får 3 personer varselet nedenfor.")).to_be_visible()
    page.get_by_role("button", name=confirm).click()
    expect(page.get_by_text(done)).to_be_visible()


def test_organiser_journey(live_url, app, browser, browser_context_args, smtp_server, make_organiser,
                           screenshot):
    email = make_organiser("arrangor@bergen.kommune.no")
    desk = browser.new_context(**browser_context_args)
    visitor = browser.new_context(**browser_context_args)
    phone_context = None
    try:
        page = desk.new_page()
        log_in(page, live_url, email)
        expect(page.get_by_role("heading", level=1)).to_have_text("Oversikt")

        # Create and publish; the times typed are Oslo time, in summer or winter alike.
        day = (utcnow() + timedelta(days=40)).astimezone(OSLO).date()
        create_and_publish(page, live_url, day)
        gathering = gathering_with_title(app, TITLE)
        assert (gathering.starts_at, gathering.ends_at) == (oslo(day, "08:30"), oslo(day, "10:00"))
        screenshot(page, "journey-gathering-published")

        # The registration arrives in the organiser's list.
        page.get_by_role("navigation", name="Samlingen").get_by_role("link", name="Påmeldinger").click()
        expect(page.get_by_text("0 påmeldinger.")).to_be_visible()
        register_in_public(visitor.new_page(), live_url)
        with app.app_context():
            for n in (1, 2):
                rsvp.register(db.session.get(Gathering, gathering.id), registration_request(n), now=utcnow())
            db.session.commit()
        page.reload()
        expect(page.get_by_text("3 påmeldinger.")).to_be_visible()
        expect(page.get_by_role("link", name=PARTICIPANT)).to_be_visible()
        deliver(app)
        [confirmation] = mails_to(smtp_server, PARTICIPANT_EMAIL)
        invited = calendar_part(confirmation)
        assert invited.method == "REQUEST"

        # Check-in at the door, on a phone, with the same login.
        phone_context = browser.new_context(
            **{**browser_context_args, "viewport": {"width": 375, "height": 740}},
            has_touch=True, is_mobile=True, storage_state=desk.storage_state())
        check_in_on_a_phone(phone_context.new_page(), app, live_url, gathering.id)

        # Move it a week on: an updated invitation (same UID, higher SEQUENCE) replaces it.
        moved_day = day + timedelta(days=7)
        page.goto(f"{live_url}/arrangor/samlinger/{gathering.id}")
        lifecycle_change(
            page, "Flytt samlingen",
            lambda p: (p.get_by_label("Ny dato").fill(moved_day.isoformat()),
                       p.get_by_label("Beskjed til de påmeldte").fill("Vi flytter en uke.")),
            "Invitasjon (METHOD:REQUEST)", "Flytt og send varsel", "Samlingen er flyttet.")
        assert gathering_with_title(app, TITLE).starts_at == oslo(moved_day, "08:30")
        deliver(app)
        confirmation, move = mails_to(smtp_server, PARTICIPANT_EMAIL)
        updated = calendar_part(move)
        assert (updated.method, updated.uid) == ("REQUEST", invited.uid)
        assert updated.sequence > invited.sequence

        # Postpone: the calendar entry is taken out (CANCEL, higher SEQUENCE still).
        lifecycle_change(
            page, "Utsett på ubestemt tid",
            lambda p: p.get_by_label("Beskjed til de påmeldte og på nettsiden").fill(
                "Innlederne er opptatt med en ekte krise. Ny dato kommer."),
            "Avlysning (METHOD:CANCEL)", "Utsett og send varsel", "Samlingen er utsatt på ubestemt tid.")
        deliver(app)
        *_, postponed = mails_to(smtp_server, PARTICIPANT_EMAIL)
        withdrawn = calendar_part(postponed)
        assert (withdrawn.method, withdrawn.uid) == ("CANCEL", invited.uid)
        assert withdrawn.sequence > updated.sequence
        public = visitor.new_page()
        public.goto(f"{live_url}/samlinger/{gathering.slug}")
        expect(public.get_by_text("Utsatt på ubestemt tid.")).to_be_visible()

        # An announcement to those with a seat, and its progress until every copy is sent.
        page.get_by_role("navigation", name="Hovedmeny").get_by_role("link", name="Kunngjøringer").click()
        page.get_by_role("link", name="Skriv en ny kunngjøring").click()
        page.get_by_label(re.compile("^Samling")).select_option(str(gathering.id))
        page.get_by_label("Påmeldte med plass").check()
        page.get_by_label("Emne").fill("Ny dato kommer snart")
        page.get_by_label("Tekst").fill("Vi sender ny dato så snart den er klar.\n\nTakk for tålmodigheten.")
        page.get_by_role("button", name="Lagre og forhåndsvis").click()
        page.get_by_role("button", name="Send til 3 personer").click()
        expect(page.get_by_text("Kunngjøringen er lagt i køen for 3 mottakere.")).to_be_visible()
        expect(page.locator("[data-count=pending]")).to_have_text("3")
        deliver(app)  # the sender; the page polls for the figures by itself
        expect(page.locator("[data-count=sent]")).to_have_text("3", timeout=10_000)
        expect(page.locator("[data-count=pending]")).to_have_text("0")
        expect(page.locator("[data-progress-status]")).to_have_text(
            re.compile("^Ferdig: alle e-postene er behandlet."))
        recipients = {m["To"].addresses[0].addr_spec for m in smtp_server.handler.parsed()
                      if m["Subject"] == "Ny dato kommer snart"}
        assert recipients == {PARTICIPANT_EMAIL, "deltaker1@example.no", "deltaker2@example.no"}
        screenshot(page, "journey-announcement-sent")

        page.get_by_role("button", name=f"Logg ut ({email})").click()
        expect(page.get_by_text("Du er logget ut.")).to_be_visible()
        page.goto(f"{live_url}/arrangor/samlinger")
        expect(page).to_have_url(re.compile(r"/arrangor/innlogging"))
    finally:
        for context in (desk, visitor, phone_context):
            if context is not None:
                context.close()
