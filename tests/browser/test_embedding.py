"""Issue 17 in Debian's Chromium: the registration form framed by a page of another origin.

The host page is served by a real HTTP server on 127.0.0.2 (the listed site) and the app by
the live server on 127.0.0.1, so the frame is cross-site as on the network's own site. A page
on 127.0.0.3 (not listed) stands for everyone else."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import urlopen

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, Registration
from tests.browser.conftest import axe_violations
from tests.browser.helpers import deliver
from tests.mail_checks import check_raw

pytestmark = pytest.mark.browser

TITLE = "Frokostmøte: beredskap i kalde vintre"


class HostSite:
    """A real web server on another loopback address, serving the pages a test gives it."""

    def __init__(self, address: str):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "").encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.origin = f"http://{address}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def host_page(body: str) -> str:
    return ('<!doctype html><html lang="nb"><head><meta charset="utf-8"><title>Beredskapsklyngen'
            f'</title></head><body><h1>Nettverkets egen side</h1>{body}</body></html>')


@pytest.fixture
def host():
    site = HostSite("127.0.0.2")
    yield site
    site.close()


@pytest.fixture
def stranger():
    site = HostSite("127.0.0.3")
    yield site
    site.close()


@pytest.fixture
def live_config(live_config, host):
    """The app lists the host site (and only it) as one that may frame the form."""
    live_config["KLYNGE_EMBED_ORIGINS"] = host.origin
    return live_config


@pytest.fixture
def slug(app):
    from klynge_rsvp import gatherings
    from klynge_rsvp.models import GatheringStatus

    with app.app_context():
        now = utcnow()
        gathering = gatherings.create(
            title=TITLE, format="Frokostmøte", starts_at=now + timedelta(days=20),
            ends_at=now + timedelta(days=20, hours=2), venue_name="Ole Bull Scene",
            venue_address="Øvre Ole Bulls plass 3, 5012 Bergen", host="Bergen kommune",
            description="Om beredskap.", status=GatheringStatus.PUBLISHED, now=now,
            slug="kalde-vintre", capacity=10)
        db.session.commit()
        return gathering.slug


def snippet(app, slug: str) -> str:
    """The code the organisers' page offers, as an organiser would paste it."""
    from klynge_rsvp.public.embed import embed_snippet

    with app.test_request_context():
        gathering = db.session.scalar(sa.select(Gathering).where(Gathering.slug == slug))
        return embed_snippet(gathering)


def frame_of(page: Page):
    return page.locator("iframe").first.element_handle().content_frame()


def registered(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Registration.email)))


def test_a_registration_in_the_frame_on_the_listed_site(live_url, app, page, host, slug,
                                                        smtp_server, screenshot):
    host.pages["/"] = host_page(snippet(app, slug))
    page.goto(f"{host.origin}/")
    form = page.frame_locator("iframe[data-klynge-embed]")
    expect(form.get_by_role("heading", level=1)).to_have_text(TITLE)
    frame = frame_of(page)
    assert frame.url == f"{live_url}/samlinger/{slug}/innebygd"
    assert frame.evaluate("document.title") == f"Påmelding: {TITLE} – Beredskapsklyngen"

    # The script fits the frame to the form (the snippet gives it 1400 px to start with).
    body = frame.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
    expect(page.locator("iframe")).to_have_attribute("style", re.compile(rf"height: {body}px"))

    # A mistake: the summary shows in the frame, with "Feil:" in the frame's title.
    form.locator("#name").fill("Kari Nordmann")
    form.locator("#email").fill("ikke-en-adresse")
    form.get_by_role("button", name="Meld meg på").click()
    summary = form.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Påmeldingen ble ikke sendt")
    assert frame_of(page).evaluate("document.title").startswith("Feil: ")
    # The summary has the focus (forms.js, as the page loads: waited for), as on the gathering's
    # own page.
    expect(form.locator("#error-summary")).to_be_focused()
    assert frame_of(page).evaluate("document.activeElement.id") == "error-summary"
    assert registered(app) == []

    form.locator("#email").fill("kari@example.no")
    form.locator("#organisation").fill("Bergen kommune")
    form.get_by_label("Offentlig").check()
    form.get_by_label("Jeg samtykker").check()
    form.get_by_role("button", name="Meld meg på").click()
    expect(form.get_by_role("heading", name="Takk for påmeldingen")).to_be_visible()
    # The script focuses the heading as the receipt loads: wait for it (a busy machine ran the
    # check below before the script had run).
    expect(form.get_by_role("heading", name="Takk for påmeldingen")).to_be_focused()
    receipt_heading = "document.activeElement.tagName + ' ' + document.activeElement.textContent"
    assert frame_of(page).evaluate(receipt_heading) == "H1 Takk for påmeldingen"
    assert page.locator("iframe").evaluate("f => f.getBoundingClientRect().top") > -1  # in view
    expect(form.locator(".outcomes")).to_contain_text(
        "Kari Nordmann (kari@example.no): påmeldt, og har plass.")
    assert page.url == f"{host.origin}/"  # the host page stayed; the receipt is in the frame
    assert registered(app) == ["kari@example.no"]
    assert page.context.cookies() == []  # none was needed, none was set
    screenshot(page, "embedded-receipt")

    deliver(app)
    raws = [e.original_content for e in smtp_server.handler.messages]
    assert len(raws) == 1
    assert check_raw(raws[0]) == []
    mail = message_from_bytes(raws[0], policy=policy.default)
    assert mail["To"].addresses[0].addr_spec == "kari@example.no"
    assert TITLE in mail["Subject"]


def test_the_language_switch_works_in_the_frame_without_a_cookie(live_url, app, page, host, slug):
    host.pages["/"] = host_page(snippet(app, slug))
    page.goto(f"{host.origin}/")
    form = page.frame_locator("iframe")
    form.get_by_role("link", name="English").click()
    expect(form.get_by_role("heading", name="Registration", exact=True)).to_be_visible()
    assert frame_of(page).evaluate("document.documentElement.lang") == "en"
    assert page.context.cookies() == []


def test_the_form_in_the_frame_is_accessible(live_url, app, page, host, slug):
    host.pages["/"] = host_page(snippet(app, slug))
    page.goto(f"{host.origin}/")
    form = page.frame_locator("iframe")
    expect(form.get_by_role("heading", level=1)).to_have_text(TITLE)
    # The frame's own page, checked as a page of its own (axe does not reach across origins).
    framed = page.context.new_page()
    framed.goto(f"{live_url}/samlinger/{slug}/innebygd")
    assert axe_violations(framed) == []
    framed.get_by_role("button", name="Meld meg på").click()
    expect(framed.locator("[data-error-summary]")).to_be_visible()
    assert axe_violations(framed) == []


def refused(frame) -> bool:
    """Whether Chromium refused to show the framed page (it shows its own error page)."""
    if frame.url.startswith("chrome-error://"):
        return True
    try:
        return frame.evaluate("!document.querySelector('main, h1, form')")
    except Exception:  # an error page we may not look into counts as refused
        return True


def test_a_site_not_listed_cannot_frame_the_form(live_url, app, page, host, stranger, slug):
    stranger.pages["/"] = host_page(snippet(app, slug))
    with page.expect_response(re.compile(r"/innebygd$")) as answer:
        page.goto(f"{stranger.origin}/")
    assert answer.value.status == 200  # the server answers; Chromium does not show it
    page.wait_for_timeout(300)
    assert refused(frame_of(page))
    # The same frame on the listed site shows the form: the check above can see a form.
    host.pages["/"] = host_page(snippet(app, slug))
    page.goto(f"{host.origin}/")
    expect(page.frame_locator("iframe").get_by_role("heading", level=1)).to_have_text(TITLE)
    assert not refused(frame_of(page))


@pytest.mark.parametrize("path", ["/", "/samlinger/kalde-vintre", "/arrangor/innlogging",
                                  "/samlinger/kalde-vintre/kvittering"])
def test_every_other_page_is_refused_in_a_frame_even_on_the_listed_site(live_url, app, page, host,
                                                                       slug, path):
    host.pages["/"] = host_page(f'<iframe src="{live_url}{path}" title="Ramme"></iframe>')
    with page.expect_response(lambda r: r.url.startswith(live_url)) as answer:
        page.goto(f"{host.origin}/")
    assert answer.value.headers["x-frame-options"] == "DENY"
    page.wait_for_timeout(300)
    assert refused(frame_of(page))


def test_a_forged_post_from_a_foreign_page_changes_nothing(live_url, app, page, stranger, slug):
    # The forger even has a valid token: it is in the form anyone can fetch.
    with urlopen(f"{live_url}/samlinger/{slug}/innebygd") as response:  # noqa: S310 (our own test server)
        token = re.search(r'name="embed_token" type="hidden" value="([^"]+)"',
                          response.read().decode()).group(1)
    fields = {"embed_token": token, "name": "Ola Forfalsket", "email": "ola@example.no",
              "organisation": "Bergen kommune", "sector": "offentlig", "consent": "y"}
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    stranger.pages["/"] = host_page(
        f'<form method="post" action="{live_url}/samlinger/{slug}/innebygd">{inputs}'
        '<button>Send</button></form>')
    page.goto(f"{stranger.origin}/")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Send").click()
    assert answer.value.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("Skjemaet kunne ikke sendes")
    expect(page.locator("main")).to_contain_text("Påmeldingen kom ikke fra skjemaet vårt")
    assert registered(app) == []
