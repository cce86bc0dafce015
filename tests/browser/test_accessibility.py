"""Every page, public and organiser, in Bokmål, Nynorsk and English: no WCAG 2.0/2.1 A or AA
violation found by axe-core, the page's language declared, nothing sticking out sideways at 320 px
(nor at 375 and 1280 px, where the screenshots are taken), and error states as accessible as the
forms themselves."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import Page, expect
from werkzeug.exceptions import NotFound

from tests.browser.helpers import (
    ADMIN_EMAIL,
    LANGUAGE_NAMES,
    LANGUAGES,
    ORGANISER_PASSWORD,
    has_catalogue,
    install_axe,
    log_in,
    seed_world,
    sticking_out,
    violations,
)

pytestmark = pytest.mark.browser

# GET pages that are not pages: files, JSON, redirects, the email's own HTML (in a frame).
NOT_PAGES = {"static", "health.healthz", "feeds.calendar", "choose_language", "public.gathering_ics",
             "manage.calendar", "manage.export", "admin.export_csv", "admin.export_xlsx",
             "admin.figures_csv", "admin.feedback_csv",
             "admin.announcement_progress", "admin.announcement_preview_html",
             # Redirects to and from an OpenID Connect provider (test_oidc_sign_in.py runs axe
             # on the login page with its buttons).
             "auth.sign_in_start", "auth.sign_in_callback",
             # JSON from the public API (test_api.py checks it against its OpenAPI document).
             "api.gathering", "api.gathering_list", "api.openapi_description",
             # JSON for org-lookup.js (tests/browser/test_org_lookup.py runs axe on the form).
             "public.org_lookup",
             # JSON from the organiser API (test_api_tokens.py checks it the same way).
             "organiser_api.gathering_list", "organiser_api.gathering",
             "organiser_api.registrations"}


@dataclass(frozen=True)
class Visit:
    name: str
    path: str
    status: int = 200
    # A variant of a page checked in another state (waiting list, cancelled, …): in Bokmål only.
    # Colours and structure do not change with the language, so one state a page suffices there.
    variant: bool = False


def public_pages(w) -> list[Visit]:
    return [
        Visit("upcoming", "/"), Visit("archive", "/arkiv"), Visit("privacy", "/personvern"),
        Visit("accessibility-statement", "/tilgjengelighet"),
        Visit("gathering-full", f"/samlinger/{w.open_slug}"),
        Visit("gathering-postponed", f"/samlinger/{w.postponed_slug}", variant=True),
        Visit("gathering-cancelled", f"/samlinger/{w.cancelled_slug}", variant=True),
        Visit("gathering-past", f"/samlinger/{w.past_slug}", variant=True),
        Visit("receipt", f"/samlinger/{w.open_slug}/kvittering"),
        Visit("newsletter", "/nyhetsbrev"), Visit("newsletter-check-inbox", "/nyhetsbrev/sjekk-innboksen"),
        Visit("newsletter-confirm", f"/nyhetsbrev/bekreft/{w.confirm_token}"),
        Visit("newsletter-unsubscribe", f"/nyhetsbrev/avmelding/{w.unsubscribe_token}"),
        Visit("newsletter-unknown-link", "/nyhetsbrev/bekreft/ukjent", 404),
        Visit("manage-confirmed", f"/pamelding/{w.confirmed_token}"),
        Visit("manage-waiting", f"/pamelding/{w.waiting_token}", variant=True),
        Visit("manage-cancelled", f"/pamelding/{w.cancelled_token}", variant=True),
        Visit("manage-reconfirm", f"/pamelding/{w.reconfirm_token}/ny-dato"),
        Visit("manage-erase", f"/pamelding/{w.confirmed_token}/slett"),
        Visit("manage-not-me", f"/pamelding/{w.confirmed_token}/ikke-meg"),
        Visit("manage-cancel", f"/pamelding/{w.confirmed_token}/avmelding"),
        Visit("manage-edit", f"/pamelding/{w.confirmed_token}/endre"),
        Visit("manage-unknown-link", "/pamelding/ukjent", 404),
        Visit("manage-attended", f"/pamelding/{w.extra['attended_token']}", variant=True),
        Visit("certificate-unavailable", f"/pamelding/{w.confirmed_token}/deltakerbevis.pdf", 403),
        Visit("certificate-valid", f"/bevis/{w.extra['certificate']}"),
        Visit("certificate-unknown", "/bevis/ukjent", 404, variant=True),
        Visit("feedback-survey", f"/tilbakemelding/{w.extra['survey_token']}"),
        Visit("feedback-answered", f"/tilbakemelding/{w.extra['survey_answered_token']}", 409,
              variant=True),
        Visit("gathering-hybrid", f"/samlinger/{w.extra['hybrid_slug']}", variant=True),
        Visit("manage-online", f"/pamelding/{w.extra['hybrid_token']}", variant=True),
        Visit("not-found", "/finnes-ikke", 404),
        Visit("login", "/arrangor/innlogging"),
        # The registration form for a frame on the network's site (issue 17; in a frame, in
        # tests/browser/test_embedding.py).
        Visit("embedded-form", f"/samlinger/{w.open_slug}/innebygd"),
    ]


def organiser_pages(w) -> list[Visit]:
    g, a = f"/arrangor/samlinger/{w.open_gathering}", "/arrangor"
    return [
        Visit("admin-dashboard", f"{a}/"), Visit("admin-gatherings", f"{a}/samlinger"),
        Visit("admin-gathering", g), Visit("admin-gathering-draft", f"{a}/samlinger/{w.draft}", variant=True),
        Visit("admin-gathering-rescheduled", f"{a}/samlinger/{w.rescheduled}", variant=True),
        Visit("admin-gathering-postponed", f"{a}/samlinger/{w.postponed}", variant=True),
        Visit("admin-gathering-new", f"{a}/samlinger/ny"),
        Visit("admin-gathering-edit", f"{g}/endre"),
        Visit("admin-gathering-edit-draft", f"{a}/samlinger/{w.draft}/endre", variant=True),
        Visit("admin-gathering-preview", f"{a}/samlinger/{w.draft}/forhandsvisning"),
        Visit("admin-programme", f"{g}/program"),
        Visit("admin-feedback", f"{a}/samlinger/{w.extra['recent_gathering']}/tilbakemeldinger"),
        Visit("admin-programme-item-edit", f"{g}/program/{w.extra['programme_item']}/endre"),
        Visit("admin-registrations", f"{g}/pameldinger"),
        Visit("admin-registration-new", f"{g}/pameldinger/ny"),
        Visit("admin-registration", f"{a}/pameldinger/{w.confirmed}"),
        Visit("admin-registration-waiting", f"{a}/pameldinger/{w.waiting}", variant=True),
        Visit("admin-registration-cancel", f"{a}/pameldinger/{w.confirmed}/avmelding"),
        Visit("admin-registration-edit", f"{a}/pameldinger/{w.confirmed}/endre"),
        Visit("admin-registration-promote", f"{a}/pameldinger/{w.waiting}/plass"),
        Visit("admin-checkin", f"{g}/innsjekk"), Visit("admin-checkin-scan", f"{a}/innsjekk/{w.scan}"),
        Visit("admin-attendance", f"{g}/deltakerliste"), Visit("admin-badges", f"{g}/navneskilt"),
        Visit("admin-move", f"{g}/flytt"), Visit("admin-postpone", f"{g}/utsett"),
        Visit("admin-cancel", f"{g}/avlys"),
        Visit("admin-reschedule", f"{a}/samlinger/{w.postponed}/ny-dato"),
        Visit("admin-reconfirmations", f"{a}/samlinger/{w.rescheduled}/svar-pa-ny-dato"),
        Visit("admin-announcements", f"{a}/kunngjoringer"),
        Visit("admin-announcement-new", f"{a}/kunngjoringer/ny"),
        Visit("admin-announcement-draft", f"{a}/kunngjoringer/{w.draft_announcement}"),
        Visit("admin-announcement-edit", f"{a}/kunngjoringer/{w.draft_announcement}/endre"),
        Visit("admin-announcement-sent", f"{a}/kunngjoringer/{w.sent_announcement}"),
        Visit("admin-subscribers", f"{a}/abonnenter"), Visit("admin-mail-log", f"{a}/e-postlogg"),
        Visit("admin-organisations", f"{a}/virksomheter"),
        Visit("admin-figures", f"{a}/tall"),
        Visit("admin-organisation", f"{a}/virksomheter/{w.extra['organisation']}"),
        Visit("admin-mail-log-failed", f"{a}/e-postlogg?status=failed", variant=True),
        Visit("admin-audit-log", f"{a}/revisjonslogg"), Visit("admin-organisers", f"{a}/arrangorer"),
        Visit("admin-organiser-new", f"{a}/arrangorer/ny"),
        Visit("admin-calendar-replies", f"{a}/kalendersvar/"),
        Visit("admin-gathering-hybrid", f"{a}/samlinger/{w.extra['hybrid_gathering']}", variant=True),
        Visit("admin-registrations-hybrid",
              f"{a}/samlinger/{w.extra['hybrid_gathering']}/pameldinger", variant=True),
        Visit("admin-registration-new-hybrid",
              f"{a}/samlinger/{w.extra['hybrid_gathering']}/pameldinger/ny", variant=True),
        Visit("admin-account", f"{a}/konto"), Visit("admin-change-password", f"{a}/konto/passord"),
        Visit("admin-organiser-password", f"{a}/arrangorer/{w.extra['kari']}/passord"),
        Visit("admin-api-tokens", f"{a}/api-nokler"), Visit("admin-api-token-new", f"{a}/api-nokler/ny"),
        Visit("admin-api-token-revoke", f"{a}/api-nokler/{w.extra['api_token']}/tilbakekall"),
        Visit("admin-webhooks", f"{a}/webhooker"), Visit("admin-webhook-new", f"{a}/webhooker/ny"),
        Visit("admin-webhook", f"{a}/webhooker/{w.extra['webhook']}"),
        Visit("admin-webhook-edit", f"{a}/webhooker/{w.extra['webhook']}/endre"),
        Visit("admin-webhook-delete", f"{a}/webhooker/{w.extra['webhook']}/slett"),
        Visit("admin-seat-rules", f"{g}/plassregler"),
        Visit("admin-questions", f"{g}/sporsmal"),
        Visit("admin-question-edit", f"{g}/sporsmal/{w.extra['question']}/endre"),
    ]


def seed_webhook(app) -> int:
    """A webhook endpoint with a delivery that was given up (the log's fullest state); its id."""
    from klynge_rsvp.clock import utcnow
    from klynge_rsvp.extensions import db
    from klynge_rsvp.models import WebhookDelivery, WebhookEndpoint

    with app.app_context():
        now = utcnow()
        endpoint = WebhookEndpoint(url="https://crm.example.no/klynge/hendelser", description="CRM",
                                   events=["gathering.changed"], secret="whsec_test",
                                   created_at=now, active=True)
        db.session.add(WebhookDelivery(
            endpoint=endpoint, event_type="gathering.changed",
            event_id="0b6f3c1e-9a55-4f0e-8d3e-2f1a6b7c8d9e", payload="{}", created_at=now,
            next_attempt_at=now, attempts=6, last_status_code=500, last_error_kind="http_status",
            last_error="HTTP 500 Internal Server Error", last_attempt_at=now, given_up_at=now))
        db.session.commit()
        return endpoint.id


# Pages reached only in the middle of logging in, checked by second_factor_states.
SECOND_FACTOR_PAGES = {"/arrangor/innlogging/kode": "auth.login_code",
                       "/arrangor/konto/tofaktor": "auth.two_factor_setup"}


def other_simple_pages(app, listed: list[Visit]) -> list[Visit]:
    """GET pages without arguments that the lists above do not name (a page added later is
    checked without anyone remembering to add it here)."""
    known = {v.path.split("?")[0] for v in listed} | set(SECOND_FACTOR_PAGES)
    return [Visit("page" + rule.rule.replace("/", "-").rstrip("-"), rule.rule)
            for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.arguments and rule.endpoint not in NOT_PAGES
            and rule.rule not in known and not rule.endpoint.startswith("mailbox.")]


def endpoint_of(app, path: str) -> str | None:
    try:
        return app.url_map.bind("localhost").match(path.split("?")[0], method="GET")[0]
    except NotFound:
        return None


# Pages also photographed in Nynorsk and English (every page is photographed in Bokmål, and
# checked for sideways overflow in every language).
SHOWCASE = {"gathering-full", "receipt", "manage-confirmed", "admin-dashboard", "admin-gathering",
            "admin-registrations", "admin-checkin", "error-admin-gathering-new"}


class Walk:
    """Visits pages in one language and gathers every problem, so one run reports them all."""

    def __init__(self, base_url: str, screenshot, language: str):
        self.base_url, self.screenshot, self.language = base_url, screenshot, language
        self.problems: dict[str, list[str]] = {}

    def check(self, page: Page, name: str) -> None:
        """axe-core, the declared page language, and nothing sticking out sideways."""
        key = f"{self.language} {name}"
        found = violations(page)
        declared = page.evaluate("document.documentElement.lang")
        if has_catalogue(self.language) and declared.split("-")[0] != self.language:
            found.append(f"html lang is {declared!r}, the page is in {self.language!r}")
        try:
            if self.language == "nb" or (name in SHOWCASE and has_catalogue(self.language)):
                self.screenshot(page, f"{self.language}-{name}")  # checks 375 and 1280 px
            assert not too_wide(page), f"{name} at 320px is too wide"
        except AssertionError as error:
            width = int(re.search(r" at (\d+)px", str(error)).group(1))
            found.append(f"{str(error).splitlines()[0]}: {', '.join(sticking_out(page, width))}")
        if found:
            self.problems[key] = found

    def visit(self, page: Page, target: Visit) -> None:
        narrow(page)
        response = page.goto(self.base_url + target.path)
        assert response.status == target.status, (self.language, target.path, response.status)
        self.check(page, target.name)

    def submit(self, page: Page, path: str, name: str, button: str, status: int, fill=None) -> None:
        """Send a form (filled by `fill`, else empty) and check the answer's page."""
        narrow(page)
        page.goto(self.base_url + path)
        # The server's answer is under test, not the browser's own checks of `required` fields.
        page.evaluate("document.querySelectorAll('form').forEach(f => { f.noValidate = true; })")
        if fill:
            fill(page)
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.locator(button).first.click()
        assert posted.value.status == status, (self.language, name, posted.value.status)
        page.wait_for_load_state()
        self.check(page, name)


def narrow(page: Page) -> None:
    """Pages are checked at 320 px, the width WCAG 1.4.10 (reflow) asks for and what 1280 px
    zoomed to 400 % is: tables scroll there, and a keyboard must be able to scroll them."""
    if page.viewport_size["width"] != 320:
        page.set_viewport_size({"width": 320, "height": 900})


def too_wide(page: Page) -> bool:
    """Whether the page scrolls sideways at 320 px."""
    narrow(page)
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


# The organisers' changes up to the preview (form fields by name: the same in every language).
def preview_move(page: Page) -> None:
    page.locator("[name=start_time]").fill("10:15")
    page.locator("[name=end_time]").fill("12:00")
    page.locator("[name=message]").fill("Vi starter litt seinere.")


def preview_postpone(page: Page) -> None:
    page.locator("[name=message]").fill("Innlederen er syk. Vi kommer tilbake med ny dato.")


def preview_reschedule(page: Page) -> None:
    in_days = "days => new Date(Date.now() + days * 864e5).toISOString().slice(0, 10)"
    page.locator("[name=start_date]").fill(page.evaluate(in_days, 50))
    page.locator("[name=start_time]").fill("09:00")
    page.locator("[name=end_time]").fill("11:00")
    page.locator("[name=deadline_date]").fill(page.evaluate(in_days, 40))


def error_states(walk: Walk, visitor: Page, admin: Page, world) -> None:
    """Forms sent empty or wrong, and the previews behind the organisers' changes."""
    g, submit = f"/arrangor/samlinger/{world.open_gathering}", "main [name=submit]"
    walk.submit(admin, "/arrangor/samlinger/ny", "error-admin-gathering-new", submit, 422,
                fill=lambda p: p.locator("[name=reminder_days_before]").fill(""))
    walk.submit(admin, f"{g}/flytt", "admin-move-preview", "[name=preview]", 200, fill=preview_move)
    walk.submit(visitor, f"/samlinger/{world.open_slug}", "error-registration", submit, 422)
    if walk.language != "nb":
        return  # the same templates again: one form and one preview show the language is right
    walk.submit(visitor, "/nyhetsbrev", "error-newsletter", submit, 422)
    walk.submit(visitor, f"/samlinger/{world.open_slug}/innebygd", "error-embedded-registration",
                submit, 422)
    walk.submit(visitor, f"/pamelding/{world.confirmed_token}/slett", "error-erase", submit, 422)
    walk.submit(visitor, "/arrangor/innlogging", "error-login", submit, 422,
                fill=lambda p: (p.locator("[name=email]").fill(ADMIN_EMAIL),
                                p.locator("[name=password]").fill("feil passord")))
    walk.submit(admin, f"{g}/pameldinger/ny", "error-admin-registration-new", submit, 422)
    walk.submit(admin, "/arrangor/kunngjoringer/ny", "error-admin-announcement-new", submit, 422)
    walk.submit(admin, "/arrangor/arrangorer/ny", "error-admin-organiser-new", submit, 422)
    walk.submit(admin, "/arrangor/webhooker/ny", "error-admin-webhook-new", submit, 422)
    walk.submit(admin, f"/arrangor/webhooker/{world.extra['webhook']}", "admin-webhook-secret",
                "form[action$='/hemmelighet'] button", 200)
    walk.submit(admin, f"{g}/flytt", "error-admin-move", "[name=preview]", 422,
                fill=lambda p: p.locator("[name=start_date]").fill(""))
    walk.submit(admin, f"{g}/utsett", "admin-postpone-preview", "[name=preview]", 200, fill=preview_postpone)
    walk.submit(admin, f"{g}/avlys", "admin-cancel-preview", "[name=preview]", 200, fill=preview_postpone)
    walk.submit(admin, f"/arrangor/samlinger/{world.postponed}/ny-dato", "admin-reschedule-preview",
                "[name=preview]", 200, fill=preview_reschedule)
    walk.submit(admin, "/arrangor/konto/passord", "error-admin-change-password", submit, 422,
                fill=lambda p: p.locator("[name=current]").fill("feil passord"))
    walk.submit(admin, f"/arrangor/arrangorer/{world.extra['kari']}/passord",
                "error-admin-organiser-password", submit, 422,
                fill=lambda p: (p.locator("[name=password]").fill("beredskap2026"),
                                p.locator("[name=password_again]").fill("beredskap2026")))
    walk.submit(admin, "/arrangor/api-nokler/ny", "error-admin-api-token-new", submit, 422)
    walk.submit(admin, "/arrangor/api-nokler/ny", "admin-api-token-created", submit, 200,
                fill=lambda p: (p.locator("[name=name]").fill("Regnearket"),
                                p.locator("[name=gatherings]").check()))
    walk.submit(admin, f"{g}/sporsmal", "error-admin-question-add", submit, 422)
    walk.submit(admin, f"{g}/sporsmal", "admin-question-remove-confirm",
                f"form[action$='/sporsmal/{world.extra['question']}/fjern'] button", 409)


def second_factor_states(walk: Walk, visitor: Page, newcomer: Page, kari: Page, world) -> None:
    """The pages between the password and the login: the code step (an administrator with a
    second factor), setting one up before the first login (an administrator without), setting
    one up when logged in (an organiser) and the recovery codes shown once."""
    submit = "main [name=submit]"
    log_in_as(visitor, walk.base_url, ADMIN_EMAIL)
    expect(visitor).to_have_url(re.compile("/arrangor/innlogging/kode"))
    walk.check(visitor, "login-code")
    switch_language(newcomer, walk.language)
    log_in_as(newcomer, walk.base_url, world.extra["new_admin"])
    expect(newcomer).to_have_url(re.compile("/arrangor/konto/tofaktor$"))
    walk.check(newcomer, "two-factor-first-setup")
    if walk.language != "nb":
        return
    walk.submit(visitor, "/arrangor/innlogging/kode", "error-login-code", submit, 422,
                fill=lambda p: p.locator("[name=code]").fill("000000"))
    walk.submit(newcomer, "/arrangor/konto/tofaktor", "error-two-factor-first-setup", submit, 422,
                fill=lambda p: p.locator("[name=code]").fill("000000"))
    # An organiser sets it up from their account page, and sees the recovery codes once.
    walk.visit(kari, Visit("admin-account-without-second-factor", "/arrangor/konto"))
    walk.visit(kari, Visit("two-factor-setup", "/arrangor/konto/tofaktor"))
    secret = kari.locator("#totp-secret").inner_text().replace(" ", "")
    kari.locator("[name=code]").fill(pyotp.TOTP(secret).now())
    kari.locator(submit).click()
    expect(kari.locator("#recovery-codes li")).to_have_count(10)
    walk.check(kari, "recovery-codes")


def log_in_as(page: Page, base_url: str, email: str) -> None:
    """The password step only."""
    page.goto(f"{base_url}/arrangor/innlogging")
    page.locator("[name=email]").fill(email)
    page.locator("[name=password]").fill(ORGANISER_PASSWORD)
    page.locator("main [name=submit]").click()
    page.wait_for_load_state()


def switch_language(page: Page, language: str) -> None:
    """Choose the language with the switcher in the page's header, as a visitor would."""
    name = LANGUAGE_NAMES[language]
    switcher = page.get_by_role("list").filter(has=page.get_by_text(name, exact=True)).first
    link = switcher.get_by_role("link", name=name, exact=True)
    if link.count():  # the current language is shown, not linked
        path = page.evaluate("location.pathname")
        link.click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))  # back where we were
    assert {c["name"]: c["value"] for c in page.context.cookies()}.get("sprak", "nb") == language


def register_in_the_browser(page: Page, base_url: str, slug: str) -> None:
    page.goto(f"{base_url}/samlinger/{slug}")
    page.get_by_label("Navn", exact=False).first.fill("Per Venteliste")
    page.get_by_label("E-post").first.fill("per.venteliste@example.no")
    page.get_by_label("Virksomhet eller organisasjon").fill("Bergen kommune")
    page.get_by_label("Offentlig").check()
    page.get_by_label("Jeg samtykker").check()
    # The gathering is full: its button offers the waiting list.
    page.get_by_role("button", name="Sett meg på ventelisten").click()
    expect(page).to_have_url(re.compile("/kvittering$"))


@pytest.fixture
def live_config(live_config):
    """A site that may frame the registration form, so that its page exists (issue 17)."""
    live_config["KLYNGE_EMBED_ORIGINS"] = "https://beredskapsklynge.no"
    return live_config


def add_questions(app, world) -> None:
    """The organisers' own questions (issue 16) on the open gathering, one of them required and
    answered by the confirmed registrant: the form, the lists and the confirmation show them."""
    from klynge_rsvp import questions
    from klynge_rsvp.clock import utcnow
    from klynge_rsvp.extensions import db
    from klynge_rsvp.models import Gathering, QuestionKind, Registration

    with app.app_context():
        gathering, now = db.session.get(Gathering, world.open_gathering), utcnow()
        workshop = questions.add(gathering, questions.QuestionDetails(
            kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?", help_text="Velg én.",
            required=True, choices=[(None, "Flom"), (None, "Skred")]), now=now, by=None)
        questions.add(gathering, questions.QuestionDetails(
            kind=QuestionKind.SEVERAL_CHOICES, label="Hvilke måltider?",
            choices=[(None, "Lunsj"), (None, "Middag")]), now=now, by=None)
        questions.save_answers(db.session.get(Registration, world.confirmed),
                               {workshop.id: [workshop.choices[0].id]}, now=now)
        world.extra["question"] = workshop.id
        db.session.commit()


# The walk is the suite's longest test (every page in three languages), and what axe reads is the
# same HTML on either database: it runs once, on SQLite (the journeys in tests/browser/ run on
# both).
@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                    reason="the pages are the same HTML on PostgreSQL; the walk runs on SQLite")
def test_every_page_in_every_language_is_accessible(live_url, app, browser, browser_context_args,
                                                    smtp_server, screenshot):
    world = seed_world(app, smtp_server)
    world.extra["webhook"] = seed_webhook(app)
    public = browser.new_context(**browser_context_args)
    organiser = browser.new_context(**browser_context_args)
    newcomers = browser.new_context(**browser_context_args)
    colleague = browser.new_context(**browser_context_args)
    try:
        for context in (public, organiser, newcomers, colleague):
            install_axe(context)
        visitor, admin = public.new_page(), organiser.new_page()
        newcomer, kari = newcomers.new_page(), colleague.new_page()
        # The receipt belongs to the browser that registered: register once, in Bokmål.
        register_in_the_browser(visitor, live_url, world.open_slug)
        add_questions(app, world)
        log_in(admin, live_url, ADMIN_EMAIL, app=app)
        log_in(kari, live_url, "kari@uib.no")
        newcomer.goto(live_url)

        pages, admin_pages = public_pages(world), organiser_pages(world)
        pages += other_simple_pages(app, pages + admin_pages)
        problems: dict[str, list[str]] = {}
        for language in LANGUAGES:
            switch_language(visitor, language)
            switch_language(admin, language)
            walk = Walk(live_url, screenshot, language)
            for target in pages:
                if language == "nb" or not target.variant:
                    walk.visit(visitor, target)
            for target in admin_pages:
                if language == "nb" or not target.variant:
                    walk.visit(admin, target)
            error_states(walk, visitor, admin, world)
            second_factor_states(walk, visitor, newcomer, kari, world)
            problems.update(walk.problems)

        visited = {endpoint_of(app, v.path) for v in pages + admin_pages}
        visited |= set(SECOND_FACTOR_PAGES.values())
        every_page = {rule.endpoint for rule in app.url_map.iter_rules()
                      if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
                      and not rule.endpoint.startswith("mailbox.")}
        assert every_page - visited == set(), "pages this test does not visit"
        assert problems == {}, "\n".join(f"{key}: {problem}" for key, found in problems.items()
                                         for problem in found)
    finally:
        for context in (public, organiser, newcomers, colleague):
            context.close()
