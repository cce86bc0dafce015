"""Issue 17: the registration form in a frame on the network's own site. The setting and its
check at start-up; which pages may be framed and by whom (the headers); the signed form token and
the origin check that stand in for the session's CSRF token; no cookie; the language in the
address; the limits; the snippet on the organisers' page. In Chromium: tests/browser/test_embedding.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from klynge_rsvp import create_app, embedding
from klynge_rsvp.clock import utcnow
from klynge_rsvp.config import SettingError, embed_origins
from klynge_rsvp.extensions import db
from klynge_rsvp.models import OutboxMessage, Registration
from tests.pages import form_data, text

SITE = "https://beredskapsklynge.no"
OWN = "https://rsvp.test"  # KLYNGE_BASE_URL in the tests' settings
# Tests of an app with KLYNGE_EMBED_ORIGINS empty (the default).
UNLISTED = {"test_without_listed_sites_there_is_no_framed_form", "test_no_snippet_without_listed_sites"}
_TOKEN = re.compile(r'<input[^>]*name="embed_token"[^>]*value="([^"]+)"')


@pytest.fixture
def app_config(app_config, request):
    """Two listed sites, except for the tests named in UNLISTED."""
    if request.node.originalname not in UNLISTED:
        app_config["KLYNGE_EMBED_ORIGINS"] = f"{SITE}, http://127.0.0.2:8080"
    return app_config


@pytest.fixture
def slug(app, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(now=now, starts_at=now + timedelta(days=20), capacity=10)
        db.session.commit()
        return gathering.slug


def token_of(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no form token on the page"
    return match.group(1)


def post(client, slug, *, origin=OWN, token=None, site="same-origin", query="", **fields):
    """GET the framed form, then POST it as a browser in the frame would (Origin: our own)."""
    page = client.get(f"/samlinger/{slug}/innebygd{query}")
    assert page.status_code == 200
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    data = {"embed_token": token_of(page.text) if token is None else token, **form_data(**fields)}
    return client.post(f"/samlinger/{slug}/innebygd{query}", data=data, headers=headers,
                       base_url=OWN)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(Registration)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)))


def frame_ancestors(response) -> str:
    policy = dict(part.strip().split(" ", 1) for part in
                  response.headers["Content-Security-Policy"].split(";"))
    return policy["frame-ancestors"]


# --- the setting --------------------------------------------------------------------------------


def test_origins_are_read_with_spaces_or_commas_and_written_as_browsers_do():
    assert embed_origins("") == ()
    assert embed_origins(" https://Beredskapsklynge.NO/ ,http://127.0.0.2:8080  https://bølle.no:443") \
        == ("https://beredskapsklynge.no", "http://127.0.0.2:8080", "https://xn--blle-gra.no")


@pytest.mark.parametrize("value", [
    "beredskapsklynge.no", "ftp://beredskapsklynge.no", "https://beredskapsklynge.no/pamelding",
    "https://beredskapsklynge.no:99999", "https://*.beredskapsklynge.no",
    "https://bruker@beredskapsklynge.no", "https://beredskapsklynge.no?x=1", "https://",
    "https://beredskapsklynge.no, *",
])
def test_a_value_that_is_not_an_origin_stops_the_start(app_config, value):
    with pytest.raises(SettingError, match=r"KLYNGE_EMBED_ORIGINS: .* is not an origin"):
        create_app({**app_config, "KLYNGE_EMBED_ORIGINS": value})


def test_the_setting_is_read_from_the_environment(app_config, monkeypatch):
    monkeypatch.setenv("KLYNGE_EMBED_ORIGINS", "https://beredskapsklynge.no/pamelding")
    config = {key: value for key, value in app_config.items() if key != "KLYNGE_EMBED_ORIGINS"}
    with pytest.raises(SettingError, match="scheme://host"):
        create_app(config)


# --- without the setting: no page -------------------------------------------------------------


def test_without_listed_sites_there_is_no_framed_form(app, client, make_gathering):
    with app.app_context():
        slug = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=9)).slug
        db.session.commit()
    assert client.get(f"/samlinger/{slug}/innebygd").status_code == 404
    response = client.post(f"/samlinger/{slug}/innebygd", data=form_data(),
                           headers={"Origin": OWN}, base_url=OWN)
    assert response.status_code == 404
    assert counts(app) == (0, 0)
    assert client.get(f"/samlinger/{slug}").headers["X-Frame-Options"] == "DENY"


# --- headers: only the framed form may be framed, and only by the listed sites ----------------


def test_only_the_framed_form_may_be_framed_by_the_listed_sites(app, client, slug, make_organiser):
    page = client.get(f"/samlinger/{slug}/innebygd")
    assert page.status_code == 200
    assert frame_ancestors(page) == f"{SITE} http://127.0.0.2:8080"
    assert "X-Frame-Options" not in page.headers
    assert page.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in page.headers
    assert "<header class=\"site-header\"" not in page.text and "site-footer" not in page.text
    assert re.search(r"<title>Påmelding: Frokostmøte om beredskap – Beredskapsklyngen</title>", page.text)
    for path in ("/", f"/samlinger/{slug}", "/arrangor/innlogging", "/personvern",
                 f"/samlinger/{slug}/kvittering"):
        response = client.get(path)
        assert frame_ancestors(response) == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_a_gathering_that_is_not_public_has_no_framed_form(app, client, make_gathering):
    from klynge_rsvp.models import GatheringStatus

    with app.app_context():
        draft = make_gathering(status=GatheringStatus.DRAFT).slug
        db.session.commit()
    assert client.get(f"/samlinger/{draft}/innebygd").status_code == 404
    assert client.get("/samlinger/finnes-ikke/innebygd").status_code == 404


# --- a registration in the frame ----------------------------------------------------------------


def test_a_registration_from_the_frame_shows_the_receipt_and_queues_the_mail(app, client, slug):
    response = post(client, slug, email="kari@example.no")
    assert response.status_code == 200
    assert "Takk for påmeldingen" in text(response.text)
    assert "Kari Nordmann (kari@example.no): påmeldt, og har plass." in text(response.text)
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in response.headers
    assert frame_ancestors(response) == f"{SITE} http://127.0.0.2:8080"
    assert counts(app) == (1, 1)


def test_an_address_registered_before_reads_as_a_newcomers_would(app, client, slug):
    assert post(client, slug).status_code == 200
    again = post(client, slug)  # no session says this browser registered it: decision 0018
    assert again.status_code == 200
    assert "var allerede påmeldt" not in text(again.text)
    assert "Kari Nordmann (kari@example.no): påmeldt, og har plass." in text(again.text)
    assert counts(app)[0] == 1


def test_a_post_from_a_listed_site_is_taken(app, client, slug):
    assert post(client, slug, origin=SITE, site="cross-site").status_code == 200
    assert counts(app)[0] == 1


def test_without_origin_a_same_origin_fetch_is_taken(app, client, slug):
    assert post(client, slug, origin=None, site="same-origin").status_code == 200
    assert counts(app)[0] == 1


def test_a_browser_without_origin_headers_is_judged_by_the_token(app, client, slug):
    assert post(client, slug, origin=None, site=None).status_code == 200
    assert counts(app)[0] == 1


def test_a_mistake_shows_the_summary_in_the_frame_and_keeps_what_was_typed(app, client, slug):
    response = post(client, slug, email="ikke-en-adresse", consent=None)
    assert response.status_code == 422
    assert 'data-error-summary' in response.text
    assert "<title>Feil: Påmelding:" in response.text
    assert 'value="ikke-en-adresse"' in response.text
    assert "X-Frame-Options" not in response.headers and "Set-Cookie" not in response.headers
    assert counts(app) == (0, 0)


# --- forged POSTs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("origin", "site"), [
    ("https://evil.example", "cross-site"),
    ("https://evil.example", None),
    ("null", "cross-site"),
    ("http://127.0.0.3:8080", "cross-site"),
    (None, "cross-site"),
    (None, "same-site"),
])
def test_a_post_from_a_foreign_page_changes_nothing(app, client, slug, origin, site):
    response = post(client, slug, origin=origin, site=site)
    assert response.status_code == 400
    assert "Påmeldingen kom ikke fra skjemaet vårt" in text(response.text)
    assert "Set-Cookie" not in response.headers
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("token", ["", "tull", "x" * 600], ids=["missing", "garbage", "huge"])
def test_a_post_without_a_valid_token_changes_nothing(app, client, slug, token):
    response = post(client, slug, token=token)
    assert response.status_code == 400
    assert "Skjemaet var utløpt av sikkerhetsgrunner" in text(response.text)
    assert 'value="Kari Nordmann"' in response.text  # what was typed comes back
    assert token_of(response.text)  # with a fresh token to send it with
    assert counts(app) == (0, 0)


def test_a_token_for_another_gathering_or_too_old_is_refused(app, client, slug, make_gathering):
    secret = app.config["SECRET_KEY"]
    with app.app_context():
        gathering_id = db.session.scalar(sa.select(Registration.gathering_id)) or 0
        from klynge_rsvp.models import Gathering

        this = db.session.scalar(sa.select(Gathering.id).where(Gathering.slug == slug))
        other = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=9)).id
        db.session.commit()
    assert gathering_id == 0
    assert post(client, slug, token=embedding.new_token(secret, other)).status_code == 400
    assert post(client, slug, token=embedding.new_token("another-secret-key", this)).status_code == 400

    def made_ago(seconds: int) -> str:
        class Signer(TimestampSigner):
            def get_timestamp(self):
                return int(utcnow().timestamp()) - seconds

        serializer = URLSafeTimedSerializer(secret, salt=embedding._SALT, signer=Signer)
        return serializer.dumps({"g": this, "n": "abc"})

    assert post(client, slug, token=made_ago(embedding.TOKEN_SECONDS + 5)).status_code == 400
    assert counts(app) == (0, 0)
    assert post(client, slug, token=made_ago(embedding.TOKEN_SECONDS - 60)).status_code == 200


def test_the_token_is_checked_against_the_time_it_was_made():
    now = utcnow()
    token = embedding.new_token("s" * 32, 7)
    assert embedding.token_is_valid("s" * 32, token, 7, now=now)
    assert not embedding.token_is_valid("s" * 32, token, 8, now=now)
    assert not embedding.token_is_valid("s" * 32, token, 7,
                                        now=now + timedelta(seconds=embedding.TOKEN_SECONDS + 2))
    assert embedding.new_token("s" * 32, 7) != token  # a nonce of its own


def test_the_session_token_is_still_required_on_every_other_form(app, client, slug):
    response = client.post(f"/samlinger/{slug}", data=form_data(), headers={"Origin": OWN},
                           base_url=OWN)
    assert response.status_code == 400
    assert counts(app) == (0, 0)


# --- the language, the limits, the closed form -------------------------------------------------


def test_the_language_is_chosen_in_the_address_and_kept_through_the_post(app, client, slug):
    page = client.get(f"/samlinger/{slug}/innebygd?sprak=en")
    assert '<html lang="en"' in page.text and "Set-Cookie" not in page.headers
    assert "<title>Registration: Frokostmøte om beredskap" in page.text
    assert "(opens in a new tab)" in page.text
    assert f'action="/samlinger/{slug}/innebygd?sprak=en"' in page.text
    assert f'href="/samlinger/{slug}/innebygd?sprak=nn"' in page.text
    response = post(client, slug, query="?sprak=en")
    assert '<html lang="en"' in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(Registration.language)) == "en"


def test_the_limits_are_the_forms_own(app, client, slug):
    app.config["REGISTRATION_ADDRESS_RATE_LIMIT"] = "1 per hour"
    assert post(client, slug).status_code == 200
    stopped = post(client, slug)
    assert stopped.status_code == 429
    assert "data-error-summary" in stopped.text
    assert "X-Frame-Options" not in stopped.headers
    assert counts(app)[0] == 1


def test_links_that_leave_the_frame_open_a_new_tab_and_say_so(client, slug):
    page = client.get(f"/samlinger/{slug}/innebygd").text
    for href in ("/personvern", f"/samlinger/{slug}"):
        link = re.search(rf'<a href="{re.escape(href)}"([^>]*)>(.*?)</a>', page, re.S)
        assert link, href
        assert 'target="_blank"' in link.group(1) and 'rel="noopener"' in link.group(1)
        assert "(åpnes i en ny fane)" in link.group(2)


# --- the snippet for organisers --------------------------------------------------------------


def test_the_organisers_page_offers_the_snippet(app, slug, organiser_client):
    from klynge_rsvp.models import Gathering

    with app.app_context():
        gathering_id = db.session.scalar(sa.select(Gathering.id).where(Gathering.slug == slug))
    page = organiser_client.get(f"/arrangor/samlinger/{gathering_id}")
    snippet = re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert snippet, "no snippet on the page"
    code = snippet.group(1)
    assert f'src="{OWN}/samlinger/{slug}/innebygd"' in code.replace("&#34;", '"').replace("&quot;", '"')
    assert "title=" in code and "width: 100%" in code
    assert "/static/js/embed.js" in code
    script = organiser_client.get("/static/js/embed.js")
    assert script.status_code == 200 and "klynge-embed-height" in script.text


def test_no_snippet_without_listed_sites(app, organiser_client, make_gathering):
    with app.app_context():
        gathering_id = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=9)).id
        db.session.commit()
    page = organiser_client.get(f"/arrangor/samlinger/{gathering_id}")
    assert page.status_code == 200 and "embed-code" not in page.text


def test_a_closed_form_says_so_in_the_frame_and_takes_nothing(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        slug = make_gathering(now=now - timedelta(days=3), starts_at=now + timedelta(days=5),
                              registration_deadline=now - timedelta(days=1)).slug
        db.session.commit()
    page = client.get(f"/samlinger/{slug}/innebygd")
    assert page.status_code == 200
    assert "Påmeldingen er stengt: fristen har gått ut." in text(page.text)
    assert 'name="embed_token"' not in page.text
    token = embedding.new_token(app.config["SECRET_KEY"], _gathering_id(app, slug))
    response = client.post(f"/samlinger/{slug}/innebygd", data={"embed_token": token, **form_data()},
                           headers={"Origin": OWN}, base_url=OWN)
    assert response.status_code == 422
    assert "data-error-summary" in response.text
    assert counts(app) == (0, 0)


def _gathering_id(app, slug: str) -> int:
    from klynge_rsvp.models import Gathering

    with app.app_context():
        return db.session.scalar(sa.select(Gathering.id).where(Gathering.slug == slug))


def test_the_framed_form_asks_what_the_gathering_asks_and_keeps_the_answers(app, client, slug):
    """The framed form is the gathering's own form: its questions (issue 16), each person's
    mode on a hybrid gathering, and the answers saved with the registration."""
    from klynge_rsvp import questions
    from klynge_rsvp.models import AttendanceMode, Gathering, GatheringMode, QuestionKind

    with app.app_context():
        gathering = db.session.scalar(sa.select(Gathering).where(Gathering.slug == slug))
        gathering.mode, gathering.online_capacity = GatheringMode.HYBRID, 5
        question = questions.add(gathering, questions.QuestionDetails(
            kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?", required=True,
            choices=[(None, "Flom"), (None, "Skred")]), now=utcnow(), by=None)
        db.session.commit()
        name, choice = questions.field_name(question), question.choices[1].id

    page = text(client.get(f"/samlinger/{slug}/innebygd").text)
    assert "Hvilken workshop?" in page and "Hvordan deltar du?" in page

    missing = post(client, slug)
    assert missing.status_code == 422
    assert "Velg om du deltar i salen eller digitalt." in text(missing.text)
    assert counts(app) == (0, 0)

    response = post(client, slug, mode="online", **{name: str(choice)})
    assert response.status_code == 200, text(response.text)
    with app.app_context():
        registration = db.session.scalar(sa.select(Registration))
        assert registration.mode == AttendanceMode.ONLINE
        assert questions.answers_of(registration) == [("Hvilken workshop?", "Skred")]
