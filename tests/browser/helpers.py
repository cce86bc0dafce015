"""Helpers for the organiser and accessibility browser tests: logging in, languages, mail and
its calendar part, and a seeded world with something to show on every page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import BrowserContext, Page, expect

from klynge_rsvp import (
    announcements,
    certificates,
    checkin,
    feedback,
    gatherings,
    lifecycle,
    mailing_list,
    organisers,
    programme,
    replies,
    rsvp,
)
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.mail import delivery
from klynge_rsvp.models import Audience, GatheringMode, GatheringStatus, OrganiserRole, Sector
from tests.conftest import (
    ORGANISER_PASSWORD,
    enrol_second_factor,
    person,
    registration_request,
    totp_code,
)

LANGUAGES = ("nb", "nn", "en")
# The switcher names each language in that language.
LANGUAGE_NAMES = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}
OSLO = ZoneInfo("Europe/Oslo")
TRANSLATIONS = Path(__file__).resolve().parents[2] / "klynge_rsvp" / "translations"
ADMIN_EMAIL = "admin@bergen.kommune.no"
# An Authentication-Results line that fails DKIM and DMARC: such a calendar reply is held.
FAILED_AUTH = ("mx.rsvp.test; dkim=fail (body hash did not verify) header.d=example.no header.s=sel1; "
               "spf=softfail smtp.mailfrom=example.no; dmarc=fail (p=NONE) header.from=example.no")


# --- the app ---------------------------------------------------------------------------------


def deliver(app) -> None:
    """Run the sender until the outbox has nothing due."""
    with app.app_context():
        while delivery.deliver_due().claimed:
            pass


def log_in(page: Page, base_url: str, email: str, password: str = ORGANISER_PASSWORD,
           app=None) -> None:
    """Log in through the real form, starting from an organiser page; where the account has a
    second factor, with the code its app would show (`app` reads the account's secret)."""
    page.goto(f"{base_url}/arrangor/")
    expect(page).to_have_url(re.compile(r"/arrangor/innlogging"))
    page.get_by_label("E-post").fill(email)
    page.get_by_label("Passord").fill(password)
    page.get_by_role("button", name="Logg inn").click()
    page.wait_for_load_state()
    if "/arrangor/innlogging/kode" in page.url:
        assert app is not None, "this account has a second factor: pass the app"
        page.get_by_label("Kode").fill(totp_code(app, email))
        page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("button", name=re.compile("^Logg ut"))).to_be_visible()


def has_catalogue(language: str) -> bool:
    """Whether the app has translations for `language` (Bokmål is the source language)."""
    return language == "nb" or (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").exists()


# --- axe-core ---------------------------------------------------------------------------------

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
    # The only frames are sandboxed previews of a mail, where no script (so no axe) can run;
    # waiting for them to answer costs a second a page and finds nothing.
    "iframes": False,
}


def install_axe(context: BrowserContext) -> None:
    """Put axe-core into every page the context loads (not blocked by the CSP: it is the
    browser's own init script), so checking a page does not send 570 kB each time."""
    context.add_init_script(script=AXE_SCRIPT)


def violations(page: Page) -> list[str]:
    """The same rules and report as conftest.axe_violations, for a page of an install_axe
    context, with only the violations sent back."""
    found = page.evaluate("options => axe.run(document, options).then(r => r.violations.map("
                          "v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target)})))",
                          AXE_OPTIONS)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]})" for v in found]


# --- layout ---------------------------------------------------------------------------------

_STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const describe = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim()
       ? "." + el.className.trim().split(/\\s+/).join(".") : "")
    + " «" + el.textContent.trim().replace(/\\s+/g, " ").slice(0, 40) + "»";
  // A scrolling box clips what is inside it, except an absolutely positioned element whose
  // containing block is outside the box (such as a visually hidden text in a table cell).
  const clipped = el => {
    let block = null;
    if (["absolute", "fixed"].includes(getComputedStyle(el).position)) {
      block = el.parentElement;
      while (block && block !== document.body && getComputedStyle(block).position === "static") {
        block = block.parentElement;
      }
    }
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible" && (!block || p === block || p.contains(block))) {
        return true;
      }
    }
    return false;
  };
  const out = [...document.querySelectorAll("body *")].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !clipped(el);
  });
  // A word too long for its line (an address, say) sticks out of a box that itself fits.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    range.selectNodeContents(text);
    const parent = text.parentElement;
    if (range.getBoundingClientRect().right > width + 1 && !out.includes(parent)
        && getComputedStyle(parent).overflowX === "visible" && !clipped(parent)) {
      out.push(parent);
    }
  }
  return out.filter(el => !out.some(o => o !== el && o.contains(el))).slice(0, 4).map(describe);
}"""


def sticking_out(page: Page, width: int = 375) -> list[str]:
    """The outermost elements that stick out to the right at `width` px (what to fix)."""
    page.set_viewport_size({"width": width, "height": 900})
    try:
        return page.evaluate(_STICKING_OUT)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


# --- mail ------------------------------------------------------------------------------------


def mails_to(smtp_server, address: str) -> list[EmailMessage]:
    """Every message the SMTP server accepted for `address`, oldest first."""
    return [m for m in smtp_server.handler.parsed()
            if m["To"].addresses[0].addr_spec.lower() == address.lower()]


@dataclass(frozen=True)
class CalendarPart:
    method: str
    sequence: int
    uid: str


def calendar_part(message: EmailMessage) -> CalendarPart | None:
    """The METHOD, SEQUENCE and UID of the message's text/calendar part (None if it has none)."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            text = re.sub(r"\r?\n[ \t]", "", part.get_payload(decode=True).decode("utf-8"))
            method = re.search(r"^METHOD:(\S+)", text, re.M).group(1)
            assert part.get_param("method") == method  # the MIME header agrees with the body
            return CalendarPart(method, int(re.search(r"^SEQUENCE:(\d+)", text, re.M).group(1)),
                                re.search(r"^UID:(\S+)", text, re.M).group(1))
    return None


# --- a world with something on every page ------------------------------------------------------


@dataclass
class World:
    """Ids and tokens of what `seed_world` made, for building the pages' addresses."""

    open_gathering: int = 0
    open_slug: str = ""
    draft: int = 0
    rescheduled: int = 0
    postponed: int = 0
    postponed_slug: str = ""
    cancelled_slug: str = ""
    past_slug: str = ""
    confirmed: int = 0
    waiting: int = 0
    cancelled_registration: int = 0
    confirmed_token: str = ""
    waiting_token: str = ""
    cancelled_token: str = ""
    reconfirm_token: str = ""
    scan: str = ""
    draft_announcement: int = 0
    sent_announcement: int = 0
    confirm_token: str = ""
    unsubscribe_token: str = ""
    extra: dict = field(default_factory=dict)


LONG_NAME = "Åse Ærlig-Østby Kristoffersen-Haugland"
LONG_ORGANISATION = "Vestland fylkeskommune, seksjon for samfunnstryggleik og beredskap"


def at_half_past_eight(days: int) -> datetime:
    """08.30 Oslo time, `days` days from today (a fixed clock time: forms show it as typed)."""
    day = (utcnow() + timedelta(days=days)).astimezone(OSLO).date()
    return datetime.combine(day, time(8, 30), tzinfo=OSLO).astimezone(UTC)


def _gathering(title: str, *, days: int, capacity: int | None = None, status=GatheringStatus.PUBLISHED,
               now=None, **details):
    now = now or utcnow()
    starts_at = at_half_past_eight(days)
    return gatherings.create(
        title=title, format="Frokostmøte", starts_at=starts_at, ends_at=starts_at + timedelta(hours=2),
        venue_name="Ole Bull Scene", venue_address="Øvre Ole Bulls plass 3, 5012 Bergen",
        host="Bergen kommune", theme="Når strømmen går", status=status, capacity=capacity,
        description="Hvordan holder vi varmen og kontakten når strømmen er borte i flere døgn?\n\n"
                    "Innledere fra kommunen, universitetet og næringslivet.",
        now=now, **details)


def _register(gathering, n, **overrides):
    [outcome] = rsvp.register(gathering, registration_request(n, **overrides), now=utcnow())
    return outcome.registration


def seed_world(app, smtp_server) -> World:
    """Gatherings in every state, registrations in every status, announcements, subscribers,
    calendar replies, delivered and failed mail; an administrator to log in as (ADMIN_EMAIL)."""
    from tests.imap_helpers import AUTHSERV_ID, outlook_reply

    world = World()
    with app.app_context():
        now = utcnow()
        admin = organisers.create(ADMIN_EMAIL, ORGANISER_PASSWORD, name="Anne Admin",
                                  role=OrganiserRole.ADMINISTRATOR, now=now)
        enrol_second_factor(admin)
        kari = organisers.create("kari@uib.no", ORGANISER_PASSWORD, name="Kari Arrangør", now=now)
        world.extra["kari"] = kari.id
        # An administrator who has not logged in yet: a second factor is set up first.
        world.extra["new_admin"] = organisers.create(
            "ny.leder@bergen.kommune.no", ORGANISER_PASSWORD, name="Ny Leder",
            role=OrganiserRole.ADMINISTRATOR, now=now).email

        full = _gathering("Frokostmøte: beredskap i kalde vintre", days=20, capacity=3)
        first = _register(full, 1, person=person(1, name=LONG_NAME,
                                                  email="ase.aerlig-ostby.kristoffersen@bergen.kommune.no"),
                          organisation_name=LONG_ORGANISATION, sector=Sector.PUBLIC,
                          needs="Rullestol", comment="Kommer litt seint.")
        _register(full, 2, sector=Sector.PRIVATE, organisation_name="Bergen Næringsråd")
        third = _register(full, 3, sector=Sector.VOLUNTEER, organisation_name="Bergen Røde Kors")
        world.extra["organisation"] = third.organisation_id
        waiting = _register(full, 4)
        leaving = _register(full, 5)
        rsvp.cancel(leaving, now=now)
        checkin.check_in(first, now=now, by=admin)
        world.open_gathering, world.open_slug = full.id, full.slug
        for minutes, title, speakers in ((0, "Frokost", ""),
                                         (30, "Kalde vintre i Bergen", "Kari Nordmann, Ola Nordmann")):
            world.extra["programme_item"] = programme.add_item(full, programme.ItemDetails(
                starts_at=full.starts_at + timedelta(minutes=minutes), ends_at=None, title=title,
                speakers=speakers, organisation="Bergen kommune" if speakers else ""),
                now=now, by=admin).id
        world.confirmed, world.waiting, world.cancelled_registration = first.id, waiting.id, leaving.id
        world.confirmed_token, world.waiting_token, world.cancelled_token = (
            first.token, waiting.token, leaving.token)

        world.draft = _gathering("Utkast: øvelse i Bergenhus", days=60,
                                 status=GatheringStatus.DRAFT).id

        moved = _gathering("Seminar om flom og skred", days=30)
        asked = [_register(moved, n) for n in (6, 7)]
        lifecycle.postpone(moved, message="Innlederen er syk.", now=now, by=admin)
        new_start = at_half_past_eight(45)
        lifecycle.reschedule(moved, starts_at=new_start, ends_at=new_start + timedelta(hours=3),
                             venue_name="Universitetsaulaen", venue_address="Muséplass 3, Bergen",
                             reconfirm_deadline=now + timedelta(days=35), message="Ny dato er klar.",
                             now=now, by=admin)
        lifecycle.reconfirm(asked[0], coming=True, now=now)
        world.rescheduled, world.reconfirm_token = moved.id, asked[1].token

        postponed = _gathering("Webinar: digital sårbarhet", days=25)
        _register(postponed, 8)
        lifecycle.postpone(postponed, message="Vi finner en ny dato i vår.", now=now, by=admin)
        world.postponed, world.postponed_slug = postponed.id, postponed.slug

        cancelled = _gathering("Konferanse om krisekommunikasjon", days=15)
        _register(cancelled, 9)
        lifecycle.cancel(cancelled, message="For få påmeldte.", now=now, by=admin)
        world.cancelled_slug = cancelled.slug

        past = _gathering("Workshop: beredskapsplaner for små bedrifter", days=-30,
                          now=now - timedelta(days=60))
        gatherings.add_link(past, label="Opptak av samlingen", url="https://video.example.no/opptak-123",
                            now=now, by=admin)
        world.past_slug = past.slug
        # Checked in at the past gathering, with the certificate downloaded (certificates.py).
        [came] = rsvp.register(past, registration_request(11, person=person(11, name=LONG_NAME)),
                               now=now - timedelta(days=45))
        checkin.check_in(came.registration, now=now - timedelta(days=30), by=admin)
        world.extra["attended_token"] = came.registration.token
        world.extra["certificate"] = certificates.issue(came.registration, now=now).code
        # Yesterday's gathering: its survey open for one checked-in person, answered by another.
        recent = _gathering("Frokostmøte om flom og ras", days=-1, now=now - timedelta(days=60))
        surveyed = []
        for n in (12, 13):
            [outcome] = rsvp.register(recent, registration_request(n), now=now - timedelta(days=10))
            checkin.check_in(outcome.registration, now=recent.starts_at, by=admin)
            surveyed.append(outcome.registration)
        feedback.send_for(recent, now=now)
        feedback.answer(surveyed[1], rating=4, useful="Øvelsen med kommunen", change="",
                        wishes="Mer om ras", now=now)
        world.extra["survey_token"] = surveyed[0].token
        world.extra["survey_answered_token"] = surveyed[1].token
        world.extra["recent_gathering"] = recent.id
        # A hybrid gathering (participation.py): one in the room, one online with the link.
        hybrid = _gathering("Hybrid seminar: samvirke i kriser", days=22, capacity=2,
                            mode=GatheringMode.HYBRID, online_capacity=1,
                            meeting_url="https://meet.example.no/j/4242",
                            meeting_details="Møte-ID: 4242")
        _register(hybrid, 14, person=person(14, mode="in_person"))
        world.extra["hybrid_token"] = _register(hybrid, 15, person=person(15, mode="online")).token
        world.extra["hybrid_gathering"], world.extra["hybrid_slug"] = hybrid.id, hybrid.slug

        draft_announcement = announcements.create(
            gathering=full, audience=Audience.WAITING, subject="Venteliste: vi prøver å finne flere plasser",
            body="Vi ser etter et større lokale, og sender beskjed så snart vi vet mer.", by=admin, now=now)
        sent = announcements.create(
            gathering=full, audience=Audience.CONFIRMED, subject="Praktisk informasjon før frokostmøtet",
            body="Dørene åpner kl. 08.00.\n\nVelkommen!", by=admin, now=now)
        announcements.send(sent, by=admin, now=now)
        world.draft_announcement, world.sent_announcement = draft_announcement.id, sent.id

        staying = mailing_list.sign_up("abonnent@example.no", "Siri Abonnent", now=now)
        mailing_list.confirm(staying, now=now)
        pending = mailing_list.sign_up("venter@example.no", now=now)
        world.confirm_token, world.unsubscribe_token = pending.confirm_token, staying.unsubscribe_token

        replies.receive(replies.read_message(outlook_reply(
            uid=full.ical_uid, address="deltaker2@example.no", partstat="DECLINED",
            auth=[FAILED_AUTH])), now=now)
        replies.receive(replies.read_message(outlook_reply(
            uid=full.ical_uid, address=third.email, partstat="TENTATIVE"),
            authserv_id=AUTHSERV_ID), now=now)
        world.scan = checkin.sign(first.id)
        # An organiser's API key, used once: the administrator sees it on the keys page too.
        from klynge_rsvp import api_tokens

        key, _token = api_tokens.create(kari, name="Nettsiden", scopes=list(api_tokens.SCOPES),
                                        lifetime_days=90, now=now)
        key.last_used_at = now
        world.extra["api_token"] = key.id
        db.session.commit()

    deliver(app)
    # One mail the server refuses for good, so the mail log shows a failure too.
    with app.app_context():
        _register(db.session.get(type(full), world.open_gathering), 10)
        db.session.commit()
    smtp_server.handler.reply = "554 5.7.1 Mottakeren finnes ikke"
    try:
        deliver(app)
    finally:
        smtp_server.handler.reply = None
    return world
