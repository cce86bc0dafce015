"""Redirect targets read from the request (`tilbake`, `next`) lead only to a path on this site.

Each known trick for escaping a "starts with one slash" check is tried on the helper and through
every route that reads a target: the language switch (no login needed), the login form and the
mail log's resend button. Every answer must be a redirect that a browser follows to this site,
never another host and never a 500.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klynge_rsvp.extensions import db
from klynge_rsvp.mail import outbox
from klynge_rsvp.redirects import same_site_path
from tests.conftest import NOW, ORGANISER_PASSWORD
from tests.pages import csrf_token

SITE = "https://rsvp.test"
EVIL = "evil.example"

# Each of these, read by a browser (or by a proxy that decodes or normalises the address),
# leads off the site or is no address at all: each must give the default.
BYPASSES = [
    f"//{EVIL}", f"///{EVIL}", f"////{EVIL}", f"https://{EVIL}", f"http://{EVIL}/", f"https:{EVIL}",
    f"https:/{EVIL}", f"HTTPS://{EVIL}", f"//{EVIL}@rsvp.test", f"https://rsvp.test@{EVIL}",
    # backslashes: browsers read them as slashes
    f"/\\{EVIL}", f"\\/{EVIL}", f"\\\\{EVIL}", f"\\/\\/{EVIL}", f"/\\/{EVIL}", f"/\\\\{EVIL}",
    # tabs, line breaks and spaces, which browsers drop (and a line break would split the header)
    f"/\t/{EVIL}", f"/%09/{EVIL}", f"\t//{EVIL}", f" //{EVIL}", f"/\n/{EVIL}", f"/\r\n/{EVIL}",
    f"/%0a/{EVIL}", f"/%0d%0a/{EVIL}", f"/%0D%0A/{EVIL}", f"/\r/{EVIL}", f"\x00//{EVIL}",
    f"/\x00/{EVIL}", f"/%00/{EVIL}", f"/\x0b/{EVIL}", f"/ /{EVIL}\n", f"\n//{EVIL}", f"/\u3000/{EVIL}",
    f"/\xa0/{EVIL}",
    # encoded and double-encoded slashes and backslashes
    f"%2f%2f{EVIL}", f"%2F%2F{EVIL}", f"/%2f{EVIL}", f"/%2F/{EVIL}", f"/%252f/{EVIL}",
    f"/%252F%252F{EVIL}", f"/%5c{EVIL}", f"/%5C%5C{EVIL}", f"/%255c{EVIL}", f"%5c%5c{EVIL}",
    f"/%25252f{EVIL}", f"/%09/%09/{EVIL}", f"/%2509/{EVIL}",
    # Unicode slashes: full-width solidus and reverse solidus, division and fraction slashes
    f"/\uff0f{EVIL}", f"\uff0f\uff0f{EVIL}", f"/\uff3c{EVIL}", f"/\u2215{EVIL}", f"/\u2044{EVIL}",
    f"/\u29f8{EVIL}", f"/%EF%BC%8F{EVIL}", f"/%E2%88%95{EVIL}", f"/\ufe68{EVIL}",
    # bidi controls and invisible characters
    f"/\u202e/{EVIL}", f"\u202e//{EVIL}", f"/\u200b/{EVIL}", f"/%E2%80%AE/{EVIL}", f"\ufeff//{EVIL}",
    # schemes
    "javascript:alert(1)", "JavaScript:alert(1)", "java\tscript:alert(1)", " javascript:alert(1)",
    "javascript://%0aalert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    f"mailto:x@{EVIL}",
    # not a path at all
    EVIL, f"{EVIL}/", "", " ", "\t", "?x=1", "#top", "." , "..", "/" + "a" * 3000,
]

# Paths on this site, and what the helper makes of them (ASCII only, the rest escaped).
KEPT = {
    "/": "/",
    "/arkiv": "/arkiv",
    "/samlinger/frokost-2026?x=1&y=2": "/samlinger/frokost-2026?x=1&y=2",
    "/arrangor/e-postlogg?status=failed": "/arrangor/e-postlogg?status=failed",
    "/samlinger/møte": "/samlinger/m%C3%B8te",
    "/samlinger/m%C3%B8te": "/samlinger/m%C3%B8te",
    "/arrangor/innsjekk?q=%C3%B8l": "/arrangor/innsjekk?q=%C3%B8l",
    "/arrangor/innsjekk?q=Kari+Nordmann": "/arrangor/innsjekk?q=Kari+Nordmann",
    "/arrangor/innsjekk?q=Kari%20Nordmann": "/arrangor/innsjekk?q=Kari%20Nordmann",
    "/personvern#informasjonskapsler": "/personvern#informasjonskapsler",
    "/arkiv?q=%2F%2Fnot-a-host": "/arkiv?q=%2F%2Fnot-a-host",
    " /arkiv\n": "/arkiv",  # what a browser would read too
}


def where_a_browser_goes(location: str, page: str = f"{SITE}/samlinger/x") -> str:
    """The host a browser ends on when it follows `location` from `page` (as WHATWG reads it)."""
    read = re.sub(r"[\t\n\r]", "", location).strip("".join(map(chr, range(0x21)))).replace("\\", "/")
    return urlsplit(urljoin(page, read)).netloc


def assert_on_site(location: str) -> None:
    assert location.isascii() and location.isprintable() and " " not in location, location
    assert where_a_browser_goes(location) == "rsvp.test", location
    for layer in (location, unquote(location), unquote(unquote(location))):
        assert layer.startswith("/") and not re.match(r"[/\\]{2}", layer.replace("\t", "")), location


@pytest.mark.parametrize("target", BYPASSES)
def test_a_target_leading_elsewhere_gives_the_default(target):
    assert same_site_path(target, "/standard") == "/standard"


@pytest.mark.parametrize(("target", "expected"), KEPT.items())
def test_a_path_on_this_site_is_kept(target, expected):
    assert same_site_path(target, "/standard") == expected


def test_no_target_gives_the_default():
    assert same_site_path(None, "/standard") == "/standard"
    assert same_site_path(["/x"], "/standard") == "/standard"


# Pieces tricks are made of, joined at random.
PIECES = [*"/\\%:.?#@ \t\n\r\x00", "%2f", "%5c", "%09", "%0a", "%25", "\uff0f", "\u202e", "\u2215",
          "https:", "javascript:", EVIL, "arkiv"]
tricky_targets = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), tricky_targets))
def test_whatever_the_target_the_answer_stays_on_the_site(target):
    result = same_site_path(target, "/")
    assert_on_site(result)


# --- through the routes ----------------------------------------------------------------------


@pytest.mark.parametrize("target", BYPASSES)
def test_language_switch_never_leaves_the_site(client, target):
    response = client.get("/sprak/en", query_string={"tilbake": target})
    if "\x00" in target:  # refused before anything reads it (see test_no_500)
        assert response.status_code == 400
        return
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("raw_query", [
    f"tilbake=/%09/{EVIL}", f"tilbake=/%0a/{EVIL}", f"tilbake=/%0d%0a/{EVIL}", f"tilbake=%2f%2f{EVIL}",
    f"tilbake=/%5c{EVIL}", f"tilbake=/%252f{EVIL}", f"tilbake=/%EF%BC%8F{EVIL}",
    f"tilbake=%2F%09%2F{EVIL}", f"tilbake=/%E2%80%AE/{EVIL}", "tilbake=%ff%fe", "tilbake=/%C0%AF",
    f"tilbake=/&tilbake=//{EVIL}",
])
def test_language_switch_with_the_target_as_an_attacker_writes_it(client, raw_query):
    response = client.get(f"/sprak/en?{raw_query}")
    assert response.status_code == 303
    assert_on_site(response.headers["Location"])


def test_language_switch_goes_back_to_the_page(client):
    response = client.get("/sprak/nn", query_string={"tilbake": "/samlinger/møte?a=1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/samlinger/m%C3%B8te?a=1"
    assert "sprak=nn" in response.headers["Set-Cookie"]


@pytest.fixture
def many_logins(app_config):
    app_config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    return app_config


def _log_in_with_next(client, email: str, target: str):
    page = client.get("/arrangor/innlogging")
    return client.post("/arrangor/innlogging", query_string={"next": target},
                       data={"csrf_token": csrf_token(page.text), "email": email,
                             "password": ORGANISER_PASSWORD})


def test_login_next_never_leaves_the_site(many_logins, app, make_organiser):
    email = make_organiser()
    for target in (target for target in BYPASSES if "\x00" not in target):  # those are a 400
        client = app.test_client()
        response = _log_in_with_next(client, email, target)
        assert response.status_code == 302, (target, response.status_code)
        assert response.headers["Location"] == "/arrangor/", target
    client = app.test_client()
    response = client.post("/arrangor/innlogging?next=/%09/evil.example",
                           data={"csrf_token": csrf_token(client.get("/arrangor/innlogging").text),
                                 "email": email, "password": ORGANISER_PASSWORD})
    assert response.headers["Location"] == "/arrangor/"


def test_login_next_leads_back_to_the_organiser_page(many_logins, app, make_organiser):
    email = make_organiser()
    response = _log_in_with_next(app.test_client(), email, "/arrangor/e-postlogg?status=failed")
    assert response.headers["Location"] == "/arrangor/e-postlogg?status=failed"


def test_mail_log_resend_goes_back_only_within_the_site(app, organiser_client):
    with app.app_context():
        mail = outbox.ComposedMail(kind="confirmation", recipient="p@example.no", subject="x",
                                   message=b"Subject: x\r\n\r\nx")
        message = outbox.enqueue(mail, key="redirects:1", now=NOW)
        db.session.commit()
        message_id = message.id
    token = csrf_token(organiser_client.get("/arrangor/e-postlogg").text)
    for target in BYPASSES:
        response = organiser_client.post(f"/arrangor/e-postlogg/{message_id}/send-igjen",
                                         data={"csrf_token": token, "next": target})
        assert response.status_code == 303, target
        assert response.headers["Location"] == "/arrangor/e-postlogg?status=failed", target
    response = organiser_client.post(f"/arrangor/e-postlogg/{message_id}/send-igjen",
                                     data={"csrf_token": token, "next": "/arrangor/e-postlogg?side=2"})
    assert response.headers["Location"] == "/arrangor/e-postlogg?side=2"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=tricky_targets)
def test_language_switch_answers_every_target_with_a_redirect_on_site(client, target):
    response = client.get("/sprak/en", query_string={"tilbake": target})
    if "\x00" in target:
        assert response.status_code == 400
        return
    assert response.status_code == 303
    assert_on_site(response.headers["Location"])
