"""Enhetsregisteret look-ups (registry.py, enhetsregisteret.py) against a real HTTP server on
127.0.0.1 that answers as Brønnøysundregistrene's open API does: the JSON of an enhet and an
underenhet as documented (data.brreg.no/enhetsregisteret/api/dokumentasjon; the OpenAPI file in
github.com/brreg/openAPI, specs/enhetsregisteret.json), 404 for an unknown number, 410 Gone for a
deleted unit, 500, a server that does not answer in time, and a body that is not JSON."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from klynge_rsvp import enhetsregisteret, registry
from klynge_rsvp.clock import utcnow
from klynge_rsvp.enhetsregisteret import DELETED, FOUND, NOT_FOUND, SECTOR_BY_CODE
from klynge_rsvp.extensions import db
from klynge_rsvp.models import AuditEntry, Organisation, Registration, RegistryLookup, Sector
from tests.conftest import NOW
from tests.pages import csrf_token, form_data, text

KOMMUNE = "910000004"       # 6500 Kommuneforvaltningen
AS = "910000012"            # 2100 Private aksjeselskaper mv.
IDEELL = "910000020"        # 7000 Ideelle organisasjoner
FRIVILLIG = "910000039"     # 7000, registered in Frivillighetsregisteret
STATSEID = "910000047"      # 1120 Statlig eide aksjeselskaper mv.
SLETTET = "910000055"       # 410 Gone
UKJENT = "910000063"        # 404 in both
BRANNVESEN = "910000071"    # an underenhet of KOMMUNE
FEIL = "910000098"          # 500
TREG = "910000101"          # answers after the timeout
ROT = "910000128"           # a body that is not JSON
STAT = "910000136"          # 6100 Statsforvaltningen


def _links(base, kind, number):
    return {"self": {"href": f"{base}/{kind}/{number}"}}


def enhet(base, number, name, code, description, *, form=("KOMM", "Kommune"), frivillig=False):
    """An enhet as GET /enheter/{orgnr} gives it (the fields the documentation lists)."""
    return {
        "organisasjonsnummer": number,
        "navn": name,
        "organisasjonsform": {"kode": form[0], "beskrivelse": form[1],
                              "_links": _links(base, "organisasjonsformer", form[0])},
        "postadresse": {"land": "Norge", "landkode": "NO", "postnummer": "5020",
                        "poststed": "BERGEN", "adresse": ["Postboks 7700"],
                        "kommune": "BERGEN", "kommunenummer": "4601"},
        "registreringsdatoEnhetsregisteret": "1995-02-19",
        "registrertIMvaregisteret": True,
        "naeringskode1": {"kode": "84.110", "beskrivelse": "Generell offentlig administrasjon"},
        "antallAnsatte": 440,
        "harRegistrertAntallAnsatte": True,
        "forretningsadresse": {"land": "Norge", "landkode": "NO", "postnummer": "5003",
                               "poststed": "BERGEN", "adresse": ["Rådhusgaten 10"],
                               "kommune": "BERGEN", "kommunenummer": "4601"},
        "institusjonellSektorkode": {"kode": code, "beskrivelse": description},
        "registrertIForetaksregisteret": False,
        "registrertIStiftelsesregisteret": False,
        "registrertIFrivillighetsregisteret": frivillig,
        "konkurs": False,
        "underAvvikling": False,
        "underTvangsavviklingEllerTvangsopplosning": False,
        "maalform": "Bokmål",
        "_links": _links(base, "enheter", number),
    }


def underenhet(base, number, name, parent):
    """An underenhet as GET /underenheter/{orgnr} gives it: no sector, its main unit named."""
    return {
        "organisasjonsnummer": number,
        "navn": name,
        "organisasjonsform": {"kode": "BEDR", "beskrivelse": "Underenhet til næringsdrivende og "
                              "offentlig forvaltning",
                              "_links": _links(base, "organisasjonsformer", "BEDR")},
        "registreringsdatoEnhetsregisteret": "1995-03-12",
        "registrertIMvaregisteret": False,
        "naeringskode1": {"kode": "84.250", "beskrivelse": "Brannvern"},
        "antallAnsatte": 320,
        "overordnetEnhet": parent,
        "oppstartsdato": "1990-01-01",
        "beliggenhetsadresse": {"land": "Norge", "landkode": "NO", "postnummer": "5011",
                                "poststed": "BERGEN", "adresse": ["Sandviksboder 70"],
                                "kommune": "BERGEN", "kommunenummer": "4601"},
        "_links": {**_links(base, "underenheter", number),
                   "overordnetEnhet": {"href": f"{base}/enheter/{parent}"}},
    }


def not_found(path):
    return {"timestamp": "2026-12-06T12:00:00.000+00:00", "status": 404, "error": "Not Found",
            "path": path}


class FakeRegister:
    """The register on 127.0.0.1: `answers` maps a path to (status, body or bytes, delay)."""

    def __init__(self):
        self.hits: list[str] = []
        self.answers: dict[str, tuple[int, object, float]] = {}
        self.user_agents: list[str] = []
        register = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.removeprefix("/enhetsregisteret/api")
                register.hits.append(path)
                register.user_agents.append(self.headers.get("User-Agent", ""))
                status, body, delay = register.answers.get(path, (404, not_found(path), 0))
                if delay:
                    time.sleep(delay)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}/enhetsregisteret/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        b = self.base
        self.answers.update({
            f"/enheter/{KOMMUNE}": (200, enhet(b, KOMMUNE, "BERGEN KOMMUNE", "6500",
                                                "Kommuneforvaltningen"), 0),
            f"/enheter/{STAT}": (200, enhet(b, STAT, "DIREKTORATET FOR SAMFUNNSSIKKERHET OG "
                                             "BEREDSKAP", "6100", "Statsforvaltningen",
                                             form=("ORGL", "Organisasjonsledd")), 0),
            f"/enheter/{AS}": (200, enhet(b, AS, "VESTLAND VAKT AS", "2100",
                                           "Private aksjeselskaper mv.", form=("AS", "Aksjeselskap")), 0),
            f"/enheter/{IDEELL}": (200, enhet(b, IDEELL, "STIFTELSEN BERGEN BEREDSKAP", "7000",
                                               "Ideelle organisasjoner",
                                               form=("STI", "Stiftelse")), 0),
            f"/enheter/{FRIVILLIG}": (200, enhet(b, FRIVILLIG, "BERGEN RØDE KORS", "7000",
                                                  "Ideelle organisasjoner",
                                                  form=("FLI", "Forening/lag/innretning"),
                                                  frivillig=True), 0),
            f"/enheter/{STATSEID}": (200, enhet(b, STATSEID, "STATNETT SF", "1120",
                                                 "Statlig eide aksjeselskaper mv.",
                                                 form=("SF", "Statsforetak")), 0),
            f"/enheter/{SLETTET}": (410, {"organisasjonsnummer": SLETTET,
                                          "slettedato": "2021-03-15",
                                          "_links": _links(b, "enheter", SLETTET)}, 0),
            f"/underenheter/{BRANNVESEN}": (200, underenhet(b, BRANNVESEN,
                                                            "BERGEN BRANNVESEN", KOMMUNE), 0),
            f"/enheter/{FEIL}": (500, {"status": 500, "error": "Internal Server Error"}, 0),
            f"/enheter/{TREG}": (200, enhet(b, TREG, "TREG AS", "2100", "Private aksjeselskaper"),
                                 1.5),
            f"/enheter/{ROT}": (200, b"<html>Vedlikehold</html>", 0),
        })

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def register_server():
    with FakeRegister() as server:
        yield server


@pytest.fixture
def brreg(register_server, app_config):
    """Request before `app`: the app asks the fake register, with a timeout short of its slow
    answer (1.5 s) but long enough that a busy machine (two test processes, PostgreSQL, a
    browser) gets the quick ones: at 0.5 s one timed out in a full run."""
    app_config.update({"KLYNGE_BRREG_URL": register_server.base, "KLYNGE_BRREG_TIMEOUT": 1.0})
    return register_server


@pytest.fixture
def slug(brreg, app, make_gathering):
    with app.app_context():
        now = utcnow()
        gathering = make_gathering(starts_at=now + timedelta(days=30), now=now)
        db.session.commit()
        return gathering.slug


def submit(client, slug, **fields):
    page = client.get(f"/samlinger/{slug}")
    return client.post(f"/samlinger/{slug}",
                       data={"csrf_token": csrf_token(page.text), **form_data(**fields)})


def organisation_of(app, email="kari@example.no"):
    with app.app_context():
        registration = db.session.scalar(sa.select(Registration).where(Registration.email == email))
        return (registration.organisation.name, registration.organisation.sector,
                registration.organisation.org_number) if registration else None


# --- the client and the sectors -------------------------------------------------------------

@pytest.mark.parametrize(("number", "name", "sector"), [
    (KOMMUNE, "BERGEN KOMMUNE", Sector.PUBLIC),
    (STAT, "DIREKTORATET FOR SAMFUNNSSIKKERHET OG BEREDSKAP", Sector.PUBLIC),
    (AS, "VESTLAND VAKT AS", Sector.PRIVATE),
    (IDEELL, "STIFTELSEN BERGEN BEREDSKAP", Sector.NON_PROFIT),
    (FRIVILLIG, "BERGEN RØDE KORS", Sector.VOLUNTEER),
    (STATSEID, "STATNETT SF", Sector.PUBLIC),
])
def test_a_unit_found_gives_its_name_and_our_sector(number, name, sector):
    with FakeRegister() as server:
        unit = enhetsregisteret.fetch(number, base_url=server.base, timeout=2)
    assert (unit.state, unit.name, unit.sector) == (FOUND, name, sector)
    assert server.hits == [f"/enheter/{number}"]
    assert server.user_agents[0].startswith("klynge-rsvp")


def test_every_institutional_sector_code_has_a_sector():
    """The codes of Standard for institusjonell sektorgruppering the register gives (SSB)."""
    codes = {"1110", "1120", "1510", "1520", "2100", "2300", "2500", "3100", "3200", "3500",
             "3600", "3900", "4100", "4300", "4500", "4900", "5500", "5700", "6100", "6500",
             "7000", "8200", "8300", "8500", "9000"}
    assert set(SECTOR_BY_CODE) == codes
    assert {SECTOR_BY_CODE[c] for c in ("6100", "6500", "1110", "1510")} == {Sector.PUBLIC}
    assert SECTOR_BY_CODE["7000"] == Sector.NON_PROFIT
    assert enhetsregisteret.sector_of({"institusjonellSektorkode": {"kode": "6100"},
                                       "registrertIFrivillighetsregisteret": True}) == Sector.PUBLIC
    assert enhetsregisteret.sector_of({}) is None


def test_a_sub_unit_is_found_with_its_main_units_sector():
    with FakeRegister() as server:
        unit = enhetsregisteret.fetch(BRANNVESEN, base_url=server.base, timeout=2)
    assert (unit.state, unit.name, unit.sector, unit.parent_org_number) == (
        FOUND, "BERGEN BRANNVESEN", Sector.PUBLIC, KOMMUNE)
    assert server.hits == [f"/enheter/{BRANNVESEN}", f"/underenheter/{BRANNVESEN}",
                           f"/enheter/{KOMMUNE}"]


def test_unknown_and_deleted_numbers():
    with FakeRegister() as server:
        unknown = enhetsregisteret.fetch(UKJENT, base_url=server.base, timeout=2)
        deleted = enhetsregisteret.fetch(SLETTET, base_url=server.base, timeout=2)
    assert unknown.state == NOT_FOUND
    assert (deleted.state, deleted.deleted_on.isoformat()) == (DELETED, "2021-03-15")


@pytest.mark.parametrize("number", [FEIL, TREG, ROT])
def test_errors_timeouts_and_unreadable_answers_are_unavailable(number):
    with FakeRegister() as server:
        started = time.monotonic()
        with pytest.raises(enhetsregisteret.Unavailable):
            enhetsregisteret.fetch(number, base_url=server.base, timeout=0.4)
        assert time.monotonic() - started < 1.2  # the timeout, not the server's 1.5 s


# --- the cache --------------------------------------------------------------------------------

def test_an_answer_is_kept_and_asked_again_when_stale(brreg, app):
    with app.app_context():
        assert registry.lookup(KOMMUNE, now=NOW).name == "BERGEN KOMMUNE"
        assert registry.lookup(KOMMUNE, now=NOW + timedelta(days=6)).name == "BERGEN KOMMUNE"
        assert brreg.hits == [f"/enheter/{KOMMUNE}"]  # the second came from the database
        registry.lookup(KOMMUNE, now=NOW + timedelta(days=7))
        assert len(brreg.hits) == 2
        assert registry.lookup(UKJENT, now=NOW).state == NOT_FOUND
        registry.lookup(UKJENT, now=NOW + timedelta(hours=23))
        assert len(brreg.hits) == 4  # enheter and underenheter once
        registry.lookup(UKJENT, now=NOW + timedelta(days=1))
        assert len(brreg.hits) == 6


def test_the_cache_is_shared_by_other_processes(brreg, app, client):
    assert client.get(f"/virksomhet/{AS}").json["state"] == "found"
    with app.app_context():  # another request (or worker process) reads the same table
        row = db.session.get(RegistryLookup, AS)
        assert (row.state, row.name, row.sector) == (FOUND, "VESTLAND VAKT AS", "privat")
        assert registry.lookup(AS, now=utcnow()).name == "VESTLAND VAKT AS"
    assert brreg.hits == [f"/enheter/{AS}"]


@pytest.mark.parametrize("number", [FEIL, TREG, ROT])
def test_failures_are_not_kept(brreg, app, number):
    with app.app_context():
        assert registry.lookup(number, now=NOW) is None
        assert registry.lookup(number, now=NOW) is None
        assert db.session.get(RegistryLookup, number) is None
    assert len(brreg.hits) == 2


def test_the_purge_forgets_old_answers(brreg, app):
    from klynge_rsvp import privacy

    with app.app_context():
        registry.lookup(KOMMUNE, now=NOW)
        privacy.purge_personal_data(now=NOW + timedelta(days=6))
        assert db.session.get(RegistryLookup, KOMMUNE) is not None
        privacy.purge_personal_data(now=NOW + timedelta(days=8))
        assert db.session.get(RegistryLookup, KOMMUNE) is None


# --- the registration form ----------------------------------------------------------------------

def test_the_register_name_and_sector_win_over_what_was_typed(brreg, app, client, slug):
    response = submit(client, slug, organisation="Bergen brannvesn", sector="privat",
                      org_number="910 000 071")
    assert response.status_code == 303, text(response.text)
    assert organisation_of(app) == ("BERGEN BRANNVESEN", Sector.PUBLIC, BRANNVESEN)


def test_the_number_alone_gives_the_sector_without_javascript(brreg, app, client, slug):
    """Without the script nothing fills the sector in as the person types: the number must do."""
    response = submit(client, slug, organisation="Bergen kommune", sector=None, org_number=KOMMUNE)
    assert response.status_code == 303, text(response.text)
    assert organisation_of(app) == ("Bergen kommune", Sector.PUBLIC, KOMMUNE)


def test_no_sector_and_no_number_the_register_knows_asks_for_the_sector(brreg, app, client,
                                                                        slug):
    for number in ("", FEIL):
        response = submit(client, slug, organisation="Bergen kommune", sector=None,
                          org_number=number)
        assert response.status_code == 422
        assert "Velg hvilken sektor virksomheten hører til." in text(response.text)
    assert organisation_of(app) is None


def test_the_typed_spelling_stays_when_it_is_the_same_name(brreg, app, client, slug):
    assert submit(client, slug, organisation="Bergen kommune", sector="privat",
                  org_number=KOMMUNE).status_code == 303
    assert organisation_of(app) == ("Bergen kommune", Sector.PUBLIC, KOMMUNE)


def test_an_unknown_number_is_an_error_beside_the_field(brreg, app, client, slug):
    response = submit(client, slug, org_number=UKJENT)
    assert response.status_code == 422
    assert "Fant ikke organisasjonsnummeret i Enhetsregisteret" in text(response.text)
    assert 'id="org_number-error"' in response.text
    assert organisation_of(app) is None


def test_a_deleted_number_needs_the_persons_word(brreg, app, client, slug):
    response = submit(client, slug, organisation="Gamle Vakt AS", sector="privat",
                      org_number=SLETTET)
    assert response.status_code == 422
    assert "Organisasjonsnummeret er slettet i Enhetsregisteret" in text(response.text)
    assert "15. mars 2021" in text(response.text)
    assert 'name="org_number_confirmed"' in response.text
    assert organisation_of(app) is None
    response = submit(client, slug, organisation="Gamle Vakt AS", sector="privat",
                      org_number=SLETTET, org_number_confirmed="y")
    assert response.status_code == 303
    assert organisation_of(app) == ("Gamle Vakt AS", Sector.PRIVATE, SLETTET)


@pytest.mark.parametrize("number", [FEIL, TREG, ROT])
def test_a_failing_register_leaves_what_was_typed_and_no_error(brreg, app, client, slug, number):
    response = submit(client, slug, organisation="Vestland Vakt", sector="privat",
                      org_number=number)
    assert response.status_code == 303, text(response.text)
    assert organisation_of(app) == ("Vestland Vakt", Sector.PRIVATE, number)


def test_the_lookup_is_off_without_a_url(app, client, make_gathering):
    with app.app_context():
        now = utcnow()
        slug = make_gathering(starts_at=now + timedelta(days=30), now=now).slug
        db.session.commit()
    assert submit(client, slug, org_number=UKJENT).status_code == 303
    assert organisation_of(app) == ("Bergen kommune", Sector.PUBLIC, UKJENT)


def test_the_manage_page_checks_the_number_too(brreg, app, client, slug):
    assert submit(client, slug).status_code == 303
    with app.app_context():
        token = db.session.scalar(sa.select(Registration)).token
    url = f"/pamelding/{token}/endre"
    page = client.get(url)
    assert page.status_code == 200, url
    data = {"csrf_token": csrf_token(page.text), "name": "Kari Nordmann", "job_title": "",
            "organisation": "Bergen kommune", "sector": "offentlig", "org_number": SLETTET,
            "needs": ""}
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "slettet i Enhetsregisteret" in text(response.text)
    response = client.post(url, data={**data, "org_number": STATSEID})
    assert response.status_code == 303
    assert organisation_of(app) == ("STATNETT SF", Sector.PUBLIC, STATSEID)


# --- as you type --------------------------------------------------------------------------------

def test_the_json_answer_in_each_language(brreg, app, client):
    answer = client.get(f"/virksomhet/{FRIVILLIG}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json == {"state": "found", "name": "BERGEN RØDE KORS", "sector": "frivillig",
                           "message": "Fant «BERGEN RØDE KORS» i Enhetsregisteret. Navnet og "
                                      "sektoren (Frivillig) er fylt ut."}
    client.get("/sprak/nn")
    assert client.get(f"/virksomhet/{UKJENT}").json["message"] == (
        "Fann ikkje organisasjonsnummeret i Enhetsregisteret. Sjekk sifra, eller la feltet stå "
        "tomt.")
    client.get("/sprak/en")
    assert client.get(f"/virksomhet/{SLETTET}").json["message"].startswith(
        "The organisation number was deleted from Enhetsregisteret (Monday 15 March 2021)")
    assert client.get(f"/virksomhet/{FEIL}").json == {"state": "unavailable", "message": ""}


def test_the_json_answer_refuses_a_bad_number_and_is_limited(brreg, app_config, make_app):
    app_config["ORG_LOOKUP_RATE_LIMIT"] = "3 per minute"
    client = make_app(app_config).test_client()
    bad = client.get("/virksomhet/123456789")
    assert (bad.status_code, bad.json["state"]) == (400, "invalid")
    assert brreg.hits == []
    for _ in range(2):
        assert client.get(f"/virksomhet/{KOMMUNE}").status_code == 200
    assert client.get(f"/virksomhet/{KOMMUNE}").status_code == 429


# --- the organisers -----------------------------------------------------------------------------

def test_an_organiser_fills_an_organisation_from_the_register(brreg, app, organiser_client):
    with app.app_context():
        organisation = Organisation(name="Bergen brann", name_key="bergen brann",
                                    sector=Sector.PRIVATE, org_number=BRANNVESEN, created_at=NOW)
        db.session.add(organisation)
        db.session.commit()
        url = f"/arrangor/virksomheter/{organisation.id}"
    page = organiser_client.get(url)
    assert "Hent fra Enhetsregisteret" in page.text
    response = organiser_client.post(
        f"{url}/enhetsregisteret", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert "hentet fra Enhetsregisteret" in text(organiser_client.get(url).text)
    with app.app_context():
        organisation = db.session.scalar(sa.select(Organisation))
        assert (organisation.name, organisation.sector) == ("BERGEN BRANNVESEN", Sector.PUBLIC)
        assert db.session.scalar(sa.select(AuditEntry.action).order_by(AuditEntry.id.desc())) \
            == "organisation_edit"


def test_an_organiser_is_told_when_the_register_does_not_answer(brreg, app, organiser_client):
    with app.app_context():
        organisation = Organisation(name="Feil AS", name_key="feil as", sector=Sector.PRIVATE,
                                    org_number=FEIL, created_at=NOW)
        db.session.add(organisation)
        db.session.commit()
        url = f"/arrangor/virksomheter/{organisation.id}"
    page = organiser_client.get(url)
    organiser_client.post(f"{url}/enhetsregisteret", data={"csrf_token": csrf_token(page.text)})
    assert "Enhetsregisteret svarte ikke" in text(organiser_client.get(url).text)
    with app.app_context():
        assert db.session.scalar(sa.select(Organisation.name)) == "Feil AS"


def test_the_organisers_on_behalf_form_checks_the_number_too(brreg, app, organiser_client,
                                                            make_gathering):
    from tests.admin_helpers import post_page, upcoming_gathering

    gathering_id = upcoming_gathering(app, make_gathering)
    url = f"/arrangor/samlinger/{gathering_id}/pameldinger/ny"
    refused = post_page(organiser_client, url, form_data(org_number=UKJENT))
    assert refused.status_code == 422
    assert "Fant ikke organisasjonsnummeret i Enhetsregisteret" in text(refused.text)
    assert organisation_of(app) is None
    added = post_page(organiser_client, url, form_data(organisation="Vakt", sector="offentlig",
                                                       org_number=AS))
    assert added.status_code == 303
    assert organisation_of(app) == ("VESTLAND VAKT AS", Sector.PRIVATE, AS)
