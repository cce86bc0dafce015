"""The language switcher on every page, the page language it leads to, and the accessibility
statement."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from tests.pages import text


class _Switcher(HTMLParser):
    """The items of the language switcher: (tag, attributes, text) for each language."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # > 0 while inside the switcher's <nav>
        self.label = None
        self.items: list[tuple[str, dict, str]] = []
        self._open: tuple[str, dict] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "nav" and "language-switcher" in (attributes.get("class") or "").split():
            self.depth, self.label = 1, attributes.get("aria-label")
        elif self.depth and tag == "nav":
            self.depth += 1
        elif self.depth and tag in ("a", "span"):
            self._open, self._text = (tag, attributes), []

    def handle_endtag(self, tag):
        if self.depth and tag == "nav":
            self.depth -= 1
        elif self._open and tag == self._open[0]:
            self.items.append((*self._open, "".join(self._text).strip()))
            self._open = None

    def handle_data(self, data):
        if self._open:
            self._text.append(data)


def switcher(html: str) -> _Switcher:
    parser = _Switcher()
    parser.feed(html)
    return parser


def page_language(html: str) -> str:
    match = re.search(r"<html lang=\"([^\"]+)\">", html)
    assert match, "no <html lang>"
    return match.group(1)


@pytest.fixture
def upcoming(app, make_gathering):
    with app.app_context():
        slug = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=20)).slug
        db.session.commit()
        return slug


def test_switcher_lists_the_three_languages_and_marks_the_current_one(client):
    found = switcher(client.get("/arkiv").text)
    assert found.label == "Språk"
    assert [(tag, attrs.get("lang"), name) for tag, attrs, name in found.items] == [
        ("span", "nb", "Bokmål"), ("a", "nn", "Nynorsk"), ("a", "en", "English")]
    current = found.items[0][1]
    assert current["aria-current"] == "true" and "href" not in current
    for _tag, attrs, _name in found.items[1:]:
        assert attrs["hreflang"] == attrs["lang"]
        assert "aria-current" not in attrs
        address = urlsplit(attrs["href"])
        assert address.path == f"/sprak/{attrs['lang']}"
        assert parse_qs(address.query)["tilbake"] == ["/arkiv"]


def test_switcher_sets_the_cookie_and_the_next_page_is_in_that_language(client):
    assert page_language(client.get("/arkiv").text) == "nb"
    link = dict((attrs["lang"], attrs["href"]) for tag, attrs, _ in switcher(
        client.get("/arkiv").text).items if tag == "a")["nn"]
    response = client.get(link)
    assert response.status_code == 303
    assert response.headers["Location"] == "/arkiv"
    assert "sprak=nn" in response.headers["Set-Cookie"]

    page = client.get(response.headers["Location"]).text
    assert page_language(page) == "nn"
    current = [(tag, attrs.get("lang")) for tag, attrs, _ in switcher(page).items
               if attrs.get("aria-current") == "true"]
    assert current == [("span", "nn")]
    # Remembered on the next page too, whatever the browser says.
    assert page_language(client.get("/", headers={"Accept-Language": "en"}).text) == "nn"


def test_switcher_keeps_the_query_string_of_the_page(client):
    found = switcher(client.get("/arkiv?side=2").text)
    hrefs = [attrs["href"] for tag, attrs, _ in found.items if tag == "a"]
    assert all(parse_qs(urlsplit(h).query)["tilbake"] == ["/arkiv?side=2"] for h in hrefs)


@pytest.mark.parametrize(("header", "expected"), [
    ("no", "nb"), ("nb-NO,nb;q=0.9", "nb"), ("nn-NO,nn;q=0.9", "nn"), ("en-GB,en;q=0.8", "en"),
    ("de-DE", "nb"),
])
def test_page_language_follows_accept_language(client, header, expected):
    page = client.get("/", headers={"Accept-Language": header}).text
    assert page_language(page) == expected
    current = [attrs["lang"] for _tag, attrs, _ in switcher(page).items
               if attrs.get("aria-current") == "true"]
    assert current == [expected]


def test_switcher_is_on_gathering_manage_error_and_organiser_pages(client, upcoming, organiser_client):
    for url, status in [(f"/samlinger/{upcoming}", 200), ("/personvern", 200),
                        ("/nyhetsbrev", 200), ("/pamelding/ukjent", 404), ("/finnes-ikke", 404),
                        ("/arrangor/innlogging", 200)]:
        response = client.get(url)
        assert response.status_code == status, url
        items = switcher(response.text).items
        assert len(items) == 3, url
        hrefs = [attrs["href"] for tag, attrs, _ in items if tag == "a"]
        assert all(parse_qs(urlsplit(h).query)["tilbake"] == [url] for h in hrefs), url
    organiser_page = organiser_client.get("/arrangor/")
    assert organiser_page.status_code == 200
    assert len(switcher(organiser_page.text).items) == 3


def test_accessibility_statement(client, app):
    response = client.get("/tilgjengelighet")
    assert response.status_code == 200
    body = text(response.text)
    assert "Tilgjengelighetserklæring" in body
    assert "axe-core" in body and "bare tastatur" in body and "320 til 1280 piksler" in body
    assert f"Arrangørene av {app.config['KLYNGE_NETWORK_NAME']} eier erklæringen" in body
    assert 'href="mailto:klynge@rsvp.test"' in response.text  # MAIL_DEFAULT_SENDER, address only
    assert page_language(client.get("/tilgjengelighet", headers={"Accept-Language": "en"}).text) == "en"


def test_footer_links_to_the_accessibility_statement(client):
    page = client.get("/").text
    assert re.search(r'<a href="/tilgjengelighet">Tilgjengelighet</a>', page)
    statement = client.get("/tilgjengelighet").text
    assert '<a href="/tilgjengelighet" aria-current="page">Tilgjengelighet</a>' in statement


def test_calendar_feed_varies_by_language(client):
    response = client.get("/kalender.ics")
    assert response.status_code == 200
    assert {"accept-language", "cookie"} <= {v.strip().lower() for v in response.headers["Vary"].split(",")}
