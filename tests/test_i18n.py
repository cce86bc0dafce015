"""Choosing the language: the visitor's choice, then the browser's, then Bokmål."""

import pytest
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from klynge_rsvp.i18n import language_from


def accept(header: str) -> LanguageAccept:
    return parse_accept_header(header, LanguageAccept)


@pytest.mark.parametrize(("header", "cookie", "expected"), [
    ("no", None, "nb"),                       # "no" means Bokmål
    ("nb-NO,nb;q=0.9", None, "nb"),
    ("nn-NO", None, "nn"),
    ("en-GB,en;q=0.8", None, "en"),
    ("de-DE,de;q=0.9", None, "nb"),           # unknown: Bokmål
    ("de-DE,en;q=0.5,nn;q=0.7", None, "nn"),  # the best one we have, by quality
    ("", None, "nb"),
    ("en", "nn", "nn"),                       # the visitor's own choice wins
    ("en", "klingon", "en"),                  # a cookie we do not know is ignored
])
def test_language_from(header, cookie, expected):
    assert language_from(accept(header), cookie) == expected


def test_switcher_remembers_and_goes_back_within_the_site(client):
    response = client.get("/sprak/nn?tilbake=/arkiv")
    assert response.status_code == 303
    assert response.headers["Location"] == "/arkiv"
    assert "sprak=nn" in response.headers["Set-Cookie"]
    evil = client.get("/sprak/en?tilbake=//evil.example/")
    assert evil.headers["Location"] == "/"
    unknown = client.get("/sprak/xx?tilbake=/")
    assert "Set-Cookie" not in unknown.headers
