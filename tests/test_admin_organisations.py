"""Organisers' organisation pages: the list, setting number, sector and the public list, and
merging two with a confirmation step; the suggestions in the registration form."""

from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Organisation, Registration, Sector
from tests.conftest import registration_request
from tests.pages import csrf_token, text


def setup(app, make_gathering, names):
    """A published gathering, one registration per name; the organisations' ids by name."""
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(starts_at=now + timedelta(days=30), now=now, slug="frokost")
        ids = {}
        for n, name in enumerate(names, 1):
            [outcome] = rsvp.register(gathering, registration_request(n, organisation_name=name),
                                      now=now)
            ids[name] = outcome.registration.organisation_id
        db.session.commit()
        return ids


def test_the_list_shows_each_organisation_with_its_registrations(app, organiser_client,
                                                                 make_gathering):
    setup(app, make_gathering, ["Universitetet i Bergen", "Universitetet i bergen.", "UiB"])
    page = organiser_client.get("/arrangor/virksomheter")
    assert page.status_code == 200
    assert 'href="/arrangor/virksomheter"' in page.text  # in the organisers' menu
    rows = text(page.text)
    assert "Universitetet i Bergen Offentlig – 2" in rows and "UiB Offentlig – 1" in rows


def test_setting_number_sector_and_list_and_a_bad_number_changes_nothing(app, organiser_client,
                                                                         make_gathering):
    ids = setup(app, make_gathering, ["Bergen Røde Kors"])
    url = f"/arrangor/virksomheter/{ids['Bergen Røde Kors']}"
    # The public form's suggestions are kept a minute; an organiser's change clears them.
    assert '<option value="Bergen Røde Kors">' not in \
        organiser_client.get("/samlinger/frokost").text
    page = organiser_client.get(url)
    bad = organiser_client.post(url, data={
        "csrf_token": csrf_token(page.text), "name": "Bergen Røde Kors", "sector": "frivillig",
        "org_number": "974 760 674"})
    assert bad.status_code == 422
    assert "Organisasjonsnummeret må ha 9 siffer og være gyldig" in text(bad.text)
    assert 'value="974 760 674"' in bad.text  # what was typed is kept
    assert 'id="org_number-error"' in bad.text  # beside the field
    with app.app_context():
        organisation = db.session.get(Organisation, ids["Bergen Røde Kors"])
        assert (organisation.sector, organisation.org_number) == (Sector.PUBLIC, None)

    done = organiser_client.post(url, data={
        "csrf_token": csrf_token(page.text), "name": "Bergen Røde Kors", "sector": "frivillig",
        "org_number": "937 885 644", "listed": "y"})
    assert done.status_code == 303
    with app.app_context():
        organisation = db.session.get(Organisation, ids["Bergen Røde Kors"])
        assert (organisation.sector, organisation.org_number, organisation.listed) == \
            (Sector.VOLUNTEER, "937885644", True)
        assert db.session.scalar(sa.select(AuditEntry.action).where(
            AuditEntry.action == "organisation_edit")) == "organisation_edit"
    # The public form now suggests it, though only one person came from it.
    assert '<option value="Bergen Røde Kors">' in organiser_client.get("/samlinger/frokost").text


def test_merging_asks_first_then_moves_registrations_and_audits(app, organiser_client,
                                                               make_gathering):
    ids = setup(app, make_gathering, ["Universitetet i Bergen", "UiB", "Bergen kommune"])
    keep, gone = ids["Universitetet i Bergen"], ids["UiB"]
    page = organiser_client.get(f"/arrangor/virksomheter/{keep}")
    assert f'<option value="{gone}">UiB (1 påmelding)</option>' in page.text
    token = csrf_token(page.text)

    # No choice: a message, nothing changes.
    none = organiser_client.post(f"/arrangor/virksomheter/{keep}/sla-sammen",
                                 data={"csrf_token": token, "merge-other": "-1"})
    assert none.status_code == 422
    assert "Velg virksomheten som skal slås sammen med denne." in text(none.text)

    ask = organiser_client.post(f"/arrangor/virksomheter/{keep}/sla-sammen",
                                data={"csrf_token": token, "merge-other": str(gone)})
    assert ask.status_code == 200
    assert "«UiB» blir en del av «Universitetet i Bergen»" in text(ask.text)
    assert "1 påmelding flyttes til «Universitetet i Bergen»." in text(ask.text)
    with app.app_context():  # asking changed nothing
        assert db.session.get(Organisation, gone) is not None

    done = organiser_client.post(f"/arrangor/virksomheter/{keep}/sla-sammen", data={
        "csrf_token": csrf_token(ask.text), "merge-other": str(gone), "merge-confirm": "y"})
    assert done.status_code == 303
    assert "«UiB» er slått sammen med «Universitetet i Bergen». 1 påmelding ble flyttet." in \
        text(organiser_client.get(done.headers["Location"]).text)
    with app.app_context():
        assert db.session.get(Organisation, gone) is None
        assert set(db.session.scalars(sa.select(Registration.organisation_id))) == \
            {keep, ids["Bergen kommune"]}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "organisation_merge")) == 1
    audit = text(organiser_client.get("/arrangor/revisjonslogg").text)
    assert "Slo «UiB» sammen med «Universitetet i Bergen». Påmeldinger flyttet: 1." in audit


def test_an_unknown_organisation_is_404_and_the_pages_need_a_login(app, client,
                                                                  organiser_client):
    assert organiser_client.get("/arrangor/virksomheter/999999").status_code == 404
    assert client.get("/arrangor/virksomheter").status_code == 302


def test_the_form_suggests_only_organisations_two_people_came_from(app, client,
                                                                  make_gathering):
    setup(app, make_gathering, ["Bergen kommune", "bergen kommune.", "Ola sitt foretak"])
    page = client.get("/samlinger/frokost")
    assert 'list="organisation-suggestions"' in page.text
    datalist = page.text.split('<datalist id="organisation-suggestions">')[1].split("</datalist>")[0]
    assert datalist == '<option value="Bergen kommune">'
