"""Helpers for driving pages through the test client, CSRF included."""

import re
from html import unescape

_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token in a page's form."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_data(**fields) -> dict:
    """A valid registration form, with `fields` overriding."""
    data = {
        "name": "Kari Nordmann",
        "email": "kari@example.no",
        "job_title": "Beredskapsrådgiver",
        "organisation": "Bergen kommune",
        "sector": "offentlig",
        "org_number": "",
        "needs": "",
        "comment": "",
        "consent": "y",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def post_form(client, url: str, **fields):
    """GET the page at `url`, then POST its form with the token and `fields`."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={"csrf_token": csrf_token(page.text), **form_data(**fields)})


def text(html: str) -> str:
    """The visible text of a page, white space folded (for asserting on wording)."""
    without_tags = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S))
    return re.sub(r"\s+", " ", unescape(without_tags)).strip()
