"""Organisers' registration pages: list, filter, search, add on behalf, cancel, promote, history."""

import re
from datetime import timedelta

import pytest

from klynge_rsvp import lifecycle, rsvp
from klynge_rsvp.admin import registrations as admin_registrations
from klynge_rsvp.clock import utcnow
from klynge_rsvp.errors import DomainError
from klynge_rsvp.extensions import db
from klynge_rsvp.models import Gathering, GatheringStatus, RegistrationStatus, Sector
from klynge_rsvp.stored_text import shown
from tests.admin_helpers import (
    audit_actions,
    button_token,
    outbox,
    post_page,
    register,
    registration,
    upcoming_gathering,
)
from tests.conftest import NOW, person, registration_request
from tests.pages import csrf_token, form_data, text


def rows(html: str) -> list[str]:
    """The names in the registrations table, in order."""
    return re.findall(r'<th scope="row"><a href="/arrangor/pameldinger/\d+">([^<]+)</a>', html)


def test_list_counts_filters_and_search(app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=2)
    register(app, gathering_id, 1, person=person(1, name="Ærlig Østby", email="ostby@example.no"))
    register(app, gathering_id, 2, person=person(2, name="Åse Berg"), organisation_name="Equinor",
             sector=Sector.PRIVATE)
    [waiting] = register(app, gathering_id, 3, person=person(3, name="Zara Li"),
                         organisation_name="Røde Kors", sector=Sector.VOLUNTEER)
    url = f"/arrangor/samlinger/{gathering_id}/pameldinger"

    everyone = organiser_client.get(url)
    assert everyone.status_code == 200
    assert rows(everyone.text) == ["Zara Li", "Ærlig Østby", "Åse Berg"]  # Norwegian order
    page = text(everyone.text)
    assert "2 av 2 har plass 1 på venteliste 0 avmeldt 0 sjekket inn" in page
    assert "Venteliste nr. 1" in page

    assert rows(organiser_client.get(f"{url}?q=ØSTBY").text) == ["Ærlig Østby"]
    assert rows(organiser_client.get(f"{url}?q=equinor").text) == ["Åse Berg"]
    assert rows(organiser_client.get(f"{url}?q=OSTBY@example").text) == ["Ærlig Østby"]
    assert rows(organiser_client.get(f"{url}?q=røde+kors").text) == ["Zara Li"]
    assert rows(organiser_client.get(f"{url}?status=waiting").text) == ["Zara Li"]
    assert rows(organiser_client.get(f"{url}?sektor=privat").text) == ["Åse Berg"]
    assert rows(organiser_client.get(f"{url}?sektor=offentlig&status=confirmed").text) == ["Ærlig Østby"]
    assert rows(organiser_client.get(f"{url}?status=nonsense").text) == ["Zara Li", "Ærlig Østby",
                                                                        "Åse Berg"]
    none = organiser_client.get(f"{url}?q=finnes+ikke")
    assert "Ingen påmeldinger passer med søket." in text(none.text)
    # The export links carry the filters.
    filtered = organiser_client.get(f"{url}?status=waiting").text
    assert f"/arrangor/samlinger/{gathering_id}/pameldinger.csv?status=waiting" in filtered
    assert f'href="/arrangor/pameldinger/{waiting}"' in filtered


def pager(html: str) -> str:
    """The page links' <nav>, or "" when the list fits on one page."""
    found = re.search(r'<nav class="pager" aria-label="Sider">.*?</nav>', html, re.DOTALL)
    return found.group(0) if found else ""


def test_list_pages_keep_the_search_and_filters(app, organiser_client, make_gathering,
                                                monkeypatch):
    monkeypatch.setattr(admin_registrations, "PAGE_SIZE", 2)
    gathering_id = upcoming_gathering(app, make_gathering, capacity=None)
    for n, name in enumerate(["Anne", "Bjørn", "Cecilie", "Dag", "Åse"], start=1):
        private = name == "Cecilie"
        register(app, gathering_id, n, person=person(n, name=name),
                 organisation_name="Equinor" if private else "Bergen kommune",
                 sector=Sector.PRIVATE if private else Sector.PUBLIC)
    url = f"/arrangor/samlinger/{gathering_id}/pameldinger"

    first = organiser_client.get(url).text
    assert rows(first) == ["Anne", "Bjørn"]
    nav = pager(first)
    assert "Viser 1–2 av 5 (side 1 av 3)" in text(nav)
    assert re.search(rf'<a href="{url}\?side=1" aria-current="page">', nav)
    assert f'href="{url}?side=2" rel="next"' in nav and 'rel="prev"' not in nav
    assert nav.count('aria-current="page"') == 1

    second = organiser_client.get(f"{url}?side=2").text
    assert rows(second) == ["Cecilie", "Dag"]
    # The counts are the gathering's and the list's, not the page's.
    assert "5 har plass" in text(second) and "5 påmeldinger." in text(second)
    assert re.search(rf'<a href="{url}\?side=2" aria-current="page">', pager(second))
    assert f'href="{url}?side=1" rel="prev"' in pager(second)
    assert f'href="{url}?side=3" rel="next"' in pager(second)
    assert rows(organiser_client.get(f"{url}?side=3").text) == ["Åse"]
    assert rows(organiser_client.get(f"{url}?side=99").text) == ["Åse"]  # the last there is
    assert rows(organiser_client.get(f"{url}?side=0").text) == ["Anne", "Bjørn"]
    assert rows(organiser_client.get(f"{url}?side=tre").text) == ["Anne", "Bjørn"]

    # Page 2 of a search in one sector: the search and filter are in every page link, and
    # the downloads take every match (no page number).
    filtered = organiser_client.get(f"{url}?q=bergen&sektor=offentlig&side=2").text
    assert rows(filtered) == ["Dag", "Åse"]  # Cecilie, in Equinor, is filtered out
    assert "4 påmeldinger passer med søket." in text(filtered)
    assert "Viser 3–4 av 4 (side 2 av 2)" in text(pager(filtered))
    links = re.findall(r'href="([^"]*side=[^"]*)"', pager(filtered))
    assert links and all("q=bergen" in link and "sektor=offentlig" in link for link in links)
    downloads = re.findall(r'href="([^"]*pameldinger\.(?:csv|xlsx)[^"]*)"', filtered)
    assert len(downloads) == 2, downloads
    assert all("q=bergen" in link and "sektor=offentlig" in link and "side" not in link
               for link in downloads)
    [csv_link] = [link for link in downloads if ".csv" in link]
    csv_rows = organiser_client.get(csv_link.replace("&amp;", "&")).data.decode("utf-8-sig")
    assert [line.split(";")[0] for line in csv_rows.splitlines()[1:]] == ["Anne", "Bjørn", "Dag",
                                                                          "Åse"]

    # One page: no page links at all.
    monkeypatch.setattr(admin_registrations, "PAGE_SIZE", 100)
    assert pager(organiser_client.get(url).text) == ""


def test_page_numbers_show_the_ends_and_the_neighbourhood():
    def numbers(page: int, total: int) -> list:
        found = admin_registrations.Page.of(list(range(total)), page, 10)
        return found.numbers()

    assert numbers(1, 5) == [1]
    assert numbers(1, 30) == [1, 2, 3]
    assert numbers(10, 200) == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert numbers(1, 100) == [1, 2, 3, None, 10]
    assert numbers(5, 100) == [1, 2, 3, 4, 5, 6, 7, None, 10]  # no "…" for the one page 2
    assert numbers(10, 100) == [1, None, 8, 9, 10]
    empty = admin_registrations.Page.of([], 3, 10)
    assert (empty.page, empty.pages, empty.first, empty.last, empty.items) == (1, 1, 0, 0, [])


def test_list_rows_are_the_services_registrations(app, make_gathering):
    """The list reads plain columns; it must find and order exactly what rsvp does."""
    gathering_id = upcoming_gathering(app, make_gathering, capacity=2)
    register(app, gathering_id, 1, person=person(1, name="Ærlig Østby", email="ostby@example.no"))
    register(app, gathering_id, 2, person=person(2, name="åse berg"), organisation_name="Equinor",
             sector=Sector.PRIVATE)
    register(app, gathering_id, 3, person=person(3, name="Zara Li"),
             organisation_name="Røde Kors", sector=Sector.VOLUNTEER)
    register(app, gathering_id, 4, person=person(4, name="Åse Berg"))
    with app.app_context():
        gathering = db.session.get(Gathering, gathering_id)
        for chosen in [{}, {"query": "ØSTBY"}, {"query": "røde kors"}, {"query": "berg"},
                       {"status": RegistrationStatus.WAITING}, {"sector": Sector.PUBLIC},
                       {"sector": Sector.PUBLIC, "query": "example"}, {"query": "ingen slik"}]:
            expected = [r.id for r in rsvp.registrations_of(gathering, **chosen)]
            found = rsvp.registration_rows(gathering_id, **chosen)
            assert [row.id for row in found] == expected, chosen


def test_add_on_behalf_after_the_deadline(app, organiser_client, client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, slug="fristen-er-ute",
                                      registration_deadline=utcnow() - timedelta(hours=1))
    assert "fristen har gått ut" in client.get("/samlinger/fristen-er-ute").text
    url = f"/arrangor/samlinger/{gathering_id}/pameldinger/ny"
    page = organiser_client.get(url).text
    assert "Personen har sagt ja til at opplysningene lagres" in page

    response = post_page(organiser_client, url, form_data(name="Kari Nordmann"))
    assert response.status_code == 303
    assert "Kari Nordmann er meldt på og har fått plass." in text(
        organiser_client.get(response.headers["Location"]).text)
    with app.app_context():
        [added] = db.session.get(Gathering, gathering_id).registrations
        assert added.status == RegistrationStatus.CONFIRMED
        [event] = added.events
        assert event.kind == "registered" and event.organiser.email == "arrangor@bergen.kommune.no"
        assert [m.kind for m in outbox(added.id)] == ["confirmation"]
        assert audit_actions(gathering_id) == ["register"]

    again = post_page(organiser_client, url, form_data(name="Kari Nordmann"))
    assert again.status_code == 422
    assert "kari@example.no er allerede påmeldt denne samlingen." in text(again.text)
    without_consent = post_page(organiser_client, url, form_data(email="ny@example.no", consent=None))
    assert without_consent.status_code == 422
    assert "Bekreft at personen har sagt ja" in without_consent.text


def test_on_behalf_and_promote_services(ctx, make_gathering):
    draft = make_gathering(status=GatheringStatus.DRAFT)
    with pytest.raises(DomainError, match="ikke publisert"):
        rsvp.register_on_behalf(draft, registration_request(1), now=NOW, by=None)
    ended = make_gathering(starts_at=NOW - timedelta(days=1))
    with pytest.raises(DomainError, match="over"):
        rsvp.register_on_behalf(ended, registration_request(1), now=NOW, by=None)
    full = make_gathering(capacity=0)
    added = rsvp.register_on_behalf(full, registration_request(1), now=NOW, by=None)
    assert added.status == RegistrationStatus.WAITING
    # Promoting by hand: over the capacity only when told so.
    with pytest.raises(rsvp.OverCapacity):
        rsvp.promote(added, now=NOW, by=None)
    full.capacity = 1
    db.session.flush()
    assert rsvp.promote(added, now=NOW, by=None).status == RegistrationStatus.CONFIRMED
    with pytest.raises(DomainError, match="står ikke på ventelisten"):
        rsvp.promote(added, now=NOW, by=None)


def test_cancel_asks_first_then_frees_the_seat(app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=1)
    seated, waiting = register(app, gathering_id, 1, 2)
    url = f"/arrangor/pameldinger/{seated}/avmelding"
    asked = organiser_client.get(url)
    assert asked.status_code == 200
    assert "Meld av Deltaker 1?" in text(asked.text)
    assert "Plassen går til den første på ventelisten" in text(asked.text)
    with app.app_context():
        assert registration(seated).status == RegistrationStatus.CONFIRMED  # nothing yet

    token = csrf_token(asked.text)
    response = organiser_client.post(url, data={"csrf_token": token, "note": "Ringte og meldte fra"})
    assert response.status_code == 303
    landed = text(organiser_client.get(response.headers["Location"]).text)
    assert "Deltaker 1 er meldt av og har fått e-post om det. Fikk plass fra ventelisten: Deltaker 2." \
        in landed
    assert "Avmeldt – av Arrangør (Ringte og meldte fra)" in landed
    with app.app_context():
        assert registration(seated).status == RegistrationStatus.CANCELLED
        assert registration(waiting).status == RegistrationStatus.CONFIRMED
        assert [m.kind for m in outbox(seated)] == ["confirmation", "cancellation"]
        assert [m.kind for m in outbox(waiting)] == ["waiting_list", "promotion"]
        assert audit_actions(gathering_id) == ["cancel_registration"]
    twice = organiser_client.post(url, data={"csrf_token": token})
    assert twice.status_code == 303
    assert "Deltaker 1 var allerede meldt av." in organiser_client.get(twice.headers["Location"]).text


def test_promote_with_a_free_seat_and_over_capacity_after_confirming(app, organiser_client,
                                                                     make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering, capacity=1)
    _, second, third = register(app, gathering_id, 1, 2, 3)
    show = f"/arrangor/pameldinger/{third}"
    token = button_token(organiser_client.get(show).text)

    asked = organiser_client.post(f"{show}/plass", data={"csrf_token": token})
    assert asked.status_code == 409
    page = text(asked.text)
    assert "Samlingen er full (1 plasser). Bekreft at Deltaker 3 skal få plass likevel." in page
    assert "Ja, gi plass over kapasiteten" in page
    with app.app_context():
        assert registration(third).status == RegistrationStatus.WAITING

    response = organiser_client.post(f"{show}/plass", data={"csrf_token": token, "over_capacity": "1"})
    assert response.status_code == 303
    with app.app_context():
        assert registration(third).status == RegistrationStatus.CONFIRMED
        assert registration(second).status == RegistrationStatus.WAITING  # skipped ahead, by choice
        assert [m.kind for m in outbox(third)] == ["waiting_list", "promotion"]
        assert shown(registration(third).events[-1], "note") == "over kapasiteten"
        assert rsvp.confirmed_count(db.session.get(Gathering, gathering_id)) == 2
        assert audit_actions(gathering_id) == ["promote"]



def test_registration_page_shows_history_and_mail(app, organiser_client, make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering)
    [registration_id] = register(app, gathering_id, 1, needs="Vegetar")
    response = organiser_client.get(f"/arrangor/pameldinger/{registration_id}")
    assert response.status_code == 200
    page = text(response.text)
    assert "Deltaker 1" in page and "deltaker1@example.no" in page and "Vegetar" in page
    assert "Påmeldt med plass – av deltakeren selv eller systemet" in page
    assert "Bekreftelse med kalenderinvitasjon Påmeldt: Frokostmøte om beredskap Venter på sending" \
        in page
    assert f'href="/arrangor/pameldinger/{registration_id}/avmelding"' in response.text
    assert organiser_client.get("/arrangor/pameldinger/999").status_code == 404


def test_registration_page_names_every_kind_of_mail_in_words(app, organiser_client,
                                                            make_gathering):
    gathering_id = upcoming_gathering(app, make_gathering)
    [registration_id] = register(app, gathering_id, 1)
    with app.app_context():
        lifecycle.postpone(db.session.get(Gathering, gathering_id), message="Ny dato kommer.",
                           now=utcnow(), by=None)
        db.session.commit()
        kinds = {m.kind for m in outbox(registration_id)}
    assert kinds == {"confirmation", "gathering_postponed"}

    page = text(organiser_client.get(f"/arrangor/pameldinger/{registration_id}").text)

    assert "Utsatt Utsatt: Frokostmøte om beredskap" in page  # the kind, then the subject
    assert not any(kind in page for kind in kinds)  # no kind as it is stored
