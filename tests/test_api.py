"""The public JSON API (/api/v1): what it lists, how it pages, caches, opens to other origins
and refuses; every response the tests get is validated against the OpenAPI description the app
serves (openapi-core), so the description and the answers cannot drift apart."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from klynge_rsvp import rsvp
from klynge_rsvp.api.openapi import DOCUMENT
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, GatheringStatus

from .conftest import registration_request
from .test_query_counts import counting

API = "/api/v1"
SPEC = OpenAPI.from_dict(DOCUMENT, config=Config(
    extra_media_type_deserializers={"application/problem+json": json.loads}))
API_FIELDS = {"identifier", "status", "registration", "links", "maximumAttendeeCapacity",
              "remainingAttendeeCapacity"}


def checked(response):
    """`response`, after validating it (status, headers, body) against the OpenAPI document."""
    SPEC.validate_response(WerkzeugOpenAPIRequest(response.request),
                           WerkzeugOpenAPIResponse(response))
    return response


def get(client, path, **kwargs):
    return checked(client.get(API + path, **kwargs))


@pytest.fixture
def made(app, make_gathering):
    """Gatherings of every kind, by name: their slugs."""
    now = utcnow()
    with app.app_context():
        def make(name, days, **overrides):
            gathering = make_gathering(now=now, starts_at=now + timedelta(days=days),
                                       slug=f"{name}-{days}".replace("--", "-"), **overrides)
            db.session.commit()
            return gathering.slug

        slugs = {
            "soon": make("soon", 3, capacity=2,
                         registration_deadline=now + timedelta(days=2)),
            "later": make("later", 20),
            "cancelled": make("cancelled", 10, status=GatheringStatus.CANCELLED,
                              status_message="Avlyst."),
            "draft": make("draft", 5, status=GatheringStatus.DRAFT),
            "held": make("held", -10),
            "long-ago": make("long-ago", -40),
            "old-draft": make("old-draft", -20, status=GatheringStatus.DRAFT),
        }
    return slugs


def slugs_of(response):
    return [item["identifier"] for item in response.get_json()["items"]]


def test_the_served_description_is_the_one_the_tests_check(client):
    response = get(client, "/openapi.json")
    assert response.get_json() == DOCUMENT
    assert response.get_json()["openapi"].startswith("3.1")


def test_upcoming_and_past_list_public_gatherings_only_in_order(client, made):
    upcoming = get(client, "/gatherings")
    assert slugs_of(upcoming) == [made["soon"], made["cancelled"], made["later"]]
    assert upcoming.get_json()["total"] == 3
    past = get(client, "/gatherings?when=past")
    assert slugs_of(past) == [made["held"], made["long-ago"]]
    assert "draft" not in upcoming.text + past.text


def test_a_gathering_is_its_pages_json_ld_and_more(client, made):
    page = client.get(f"/samlinger/{made['soon']}")
    json_ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>',
                                   page.text, re.S).group(1))
    item = get(client, f"/gatherings/{made['soon']}").get_json()
    assert {key: value for key, value in item.items() if key not in API_FIELDS} == json_ld
    assert item["status"] == "published"
    assert item["maximumAttendeeCapacity"] == 2 and item["remainingAttendeeCapacity"] == 2
    assert item["registration"]["open"] is True and item["registration"]["full"] is False
    assert item["registration"]["deadline"].endswith("+00:00")
    assert item["links"] == {"self": f"https://rsvp.test/api/v1/gatherings/{made['soon']}",
                             "page": f"https://rsvp.test/samlinger/{made['soon']}",
                             "ics": f"https://rsvp.test/samlinger/{made['soon']}.ics"}
    listed = get(client, "/gatherings").get_json()["items"][0]
    assert listed == item


def test_a_programme_is_listed_as_sub_events(app, client, made):
    from klynge_rsvp import programme
    from klynge_rsvp.models import Gathering

    with app.app_context():
        gathering = db.session.scalar(sa.select(Gathering).where(Gathering.slug == made["later"]))
        start = gathering.starts_at
        programme.add_item(gathering, programme.ItemDetails(
            starts_at=start, ends_at=start + timedelta(minutes=15), title="Frokost"),
            now=utcnow(), by=None)
        programme.add_item(gathering, programme.ItemDetails(
            starts_at=start + timedelta(minutes=15), ends_at=None, title="Innledning",
            speakers="Kari Nordmann og Ola Nordmann", organisation="Bergen kommune"),
            now=utcnow(), by=None)
        db.session.commit()
    item = get(client, f"/gatherings/{made['later']}").get_json()  # valid by the document
    assert [event["name"] for event in item["subEvent"]] == ["Frokost", "Innledning"]
    assert item["subEvent"][1]["performer"] == [
        {"@type": "Person", "name": name,
         "affiliation": {"@type": "Organization", "name": "Bergen kommune"}}
        for name in ("Kari Nordmann", "Ola Nordmann")]
    listed = {entry["identifier"]: entry for entry in get(client, "/gatherings").get_json()["items"]}
    assert listed[made["later"]] == item


def test_seats_and_cancellation_show_and_no_one_is_named(app, client, made):
    with app.app_context():
        gathering = db.session.query(Gathering).filter_by(slug=made["soon"]).one()
        for n in (1, 2, 3):
            rsvp.register(gathering, registration_request(n), now=utcnow())
        db.session.commit()
    response = get(client, "/gatherings")
    soon, cancelled, later = response.get_json()["items"]
    assert soon["remainingAttendeeCapacity"] == 0 and soon["registration"]["full"] is True
    assert soon["registration"]["open"] is True  # to the waiting list
    assert cancelled["status"] == "cancelled"
    assert cancelled["eventStatus"] == "https://schema.org/EventCancelled"
    assert "maximumAttendeeCapacity" not in later and later["registration"]["full"] is False
    assert "Deltaker" not in response.text and "@example.no" not in response.text


def test_pages_with_totals_and_link_headers(app, client, make_gathering):
    now = utcnow()
    with app.app_context():
        for n in range(5):  # two on the same start: the id decides, so no page repeats one
            make_gathering(now=now, starts_at=now + timedelta(days=1 + n // 2), slug=f"g{n}")
        db.session.commit()
    seen = []
    for number in (1, 2, 3):
        response = get(client, f"/gatherings?per_page=2&page={number}")
        body = response.get_json()
        assert (body["page"], body["perPage"], body["total"], body["pages"]) == (number, 2, 5, 3)
        seen += slugs_of(response)
        link = response.headers["Link"]

        def page(n):
            return f"<https://rsvp.test/api/v1/gatherings?when=upcoming&page={n}&per_page=2>"
        assert f'{page(1)}; rel="first"' in link and f'{page(3)}; rel="last"' in link
        assert f'{page(number)}; rel="self"' in link
        assert (f'{page(number + 1)}; rel="next"' in link) == (number < 3)
        assert (f'{page(number - 1)}; rel="prev"' in link) == (number > 1)
    assert seen == [f"g{n}" for n in range(5)]
    beyond = get(client, "/gatherings?per_page=2&page=999999999").get_json()
    assert beyond["items"] == [] and beyond["total"] == 5
    assert "page=3&" in beyond["links"]["prev"]


def test_etag_gives_304_until_the_answer_changes(app, client, made):
    first = get(client, "/gatherings")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    etag = first.headers["ETag"]
    again = get(client, "/gatherings", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    head = client.head(API + "/gatherings")
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == etag
    # The same bytes in every language and for every origin: nothing to Vary on.
    for language in ("en", "nn"):
        assert get(client, "/gatherings", headers={
            "Accept-Language": language, "Origin": "https://example.org"}).headers["ETag"] == etag
    assert "Vary" not in first.headers
    detail = get(client, f"/gatherings/{made['soon']}")
    assert get(client, f"/gatherings/{made['soon']}",
               headers={"If-None-Match": detail.headers["ETag"]}).status_code == 304
    with app.app_context():
        gathering = db.session.query(Gathering).filter_by(slug=made["soon"]).one()
        rsvp.register(gathering, registration_request(1), now=utcnow())
        db.session.commit()
    changed = get(client, "/gatherings", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize("path", ["/gatherings", "/gatherings?page=0", "/gatherings/nowhere",
                                  "/openapi.json"])
def test_every_origin_may_read(client, made, path):
    response = get(client, path, headers={"Origin": "https://example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]


def test_a_preflight_is_answered(client, made):
    response = checked(client.options(
        f"{API}/gatherings/{made['soon']}",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "If-None-Match"}))
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]


def test_the_api_sets_no_cookie_not_even_for_a_signed_in_organiser(client, organiser_client,
                                                                   made):
    assert organiser_client.get("/arrangor/").status_code == 200  # the session is alive
    for someone in (client, organiser_client):
        for path in ("/gatherings", f"/gatherings/{made['soon']}", "/gatherings?page=x",
                     "/gatherings/nowhere", "/openapi.json"):
            response = get(someone, path)
            assert "Set-Cookie" not in response.headers, path
            assert "Cookie" not in response.headers.get("Vary", "") or response.status_code >= 400


def test_a_post_is_refused_without_touching_anything(client, made):
    response = client.post(f"{API}/gatherings", data={"title": "x"})
    assert response.status_code == 405


@pytest.mark.parametrize(("query", "names"), [
    ("when=soon", ["when"]),
    ("page=0", ["page"]),
    ("page=-1", ["page"]),
    ("page=%D9%A3", ["page"]),  # an Arabic-Indic three: int() would take it
    ("page=1000000000", ["page"]),
    ("page=1&page=2", ["page"]),
    ("per_page=101", ["per_page"]),
    ("per_page=abc&when=", ["when", "per_page"]),
    ("page=" + "9" * 5000, ["page"]),
])
def test_bad_parameters_get_a_problem(client, made, query, names):
    response = get(client, f"/gatherings?{query}", headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400 and body["detail"] == "The parameters of the request are not valid."
    assert [entry["name"] for entry in body["invalid-params"]] == names
    assert response.headers["Content-Language"] == "en"


def test_unknown_and_draft_gatherings_are_not_found(client, made):
    for slug in ("nowhere", made["draft"]):
        response = get(client, f"/gatherings/{slug}")
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
        assert response.get_json()["detail"] == "Det finnes ingen offentlig samling med denne " \
                                                "adressen."


def test_a_client_over_its_limit_gets_429(make_app, app_config):
    client = make_app({**app_config, "API_RATE_LIMIT": "3 per minute"}).test_client()
    for _ in range(3):
        assert get(client, "/gatherings").status_code == 200
    response = get(client, "/gatherings", headers={"Origin": "https://example.org"})
    assert response.status_code == 429 and response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    other = checked(client.get(API + "/gatherings", environ_base={"REMOTE_ADDR": "127.0.0.2"}))
    assert other.status_code == 200  # counted per client address


def test_query_count_does_not_grow_with_the_page(app, client, make_gathering):
    now = utcnow()
    with app.app_context():
        for n in range(40):
            make_gathering(now=now, starts_at=now + timedelta(days=1, hours=n), slug=f"q{n}",
                           capacity=10 if n % 2 else None)
        db.session.commit()
        get(client, "/gatherings")  # the connection's first BEGIN is not the page's
        counts = []
        for size in (3, 40):
            with counting() as statements:
                assert len(slugs_of(get(client, f"/gatherings?per_page={size}"))) == size
            counts.append(len(statements))
    assert counts[0] == counts[1]
