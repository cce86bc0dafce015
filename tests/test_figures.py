"""Figures across gatherings (klynge_rsvp/figures.py and /arrangor/tall): who attended, per
organisation and sector, returning and new, a period filter, anonymised rows, the CSV, access
and a constant number of queries."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from klynge_rsvp import figures, worker
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    Gathering,
    GatheringStatus,
    Organisation,
    Registration,
    RegistrationStatus,
    Sector,
    new_token,
)
from klynge_rsvp.privacy import anonymise

from .test_query_counts import counting

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)
CONFIRMED, WAITING, CANCELLED = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITING,
                                 RegistrationStatus.CANCELLED)


def organisation(name: str, sector: Sector) -> Organisation:
    made = Organisation(name=name, name_key=uuid.uuid4().hex, sector=sector,
                        created_at=NOW - timedelta(days=3000))
    db.session.add(made)
    return made


def register(gathering, org, email: str, status=CONFIRMED, checked_in=False) -> Registration:
    registration = Registration(
        gathering_id=gathering.id, organisation=org, name=email.split("@")[0], email=email,
        email_key=email.lower(), consented_at=NOW, status=status, token=new_token(),
        waiting_since=NOW if status == WAITING else None,
        checked_in_at=gathering.starts_at if checked_in else None,
        cancelled_at=NOW if status == CANCELLED else None, created_at=NOW, updated_at=NOW)
    db.session.add(registration)
    db.session.flush()
    return registration


def on(make_gathering, year, month, day, **overrides):
    starts_at = datetime(year, month, day, 8, tzinfo=UTC)
    return make_gathering(now=starts_at - timedelta(days=60), starts_at=starts_at, **overrides)


@pytest.fixture
def history(ctx, make_gathering):
    """Two organisations that come back, one new one, and what must not count."""
    a = organisation("Bergen kommune", Sector.PUBLIC)
    b = organisation("=HYPERLINK(\"http://evil\")", Sector.PRIVATE)
    c = organisation("Bergen Røde Kors", Sector.NON_PROFIT)
    d = organisation("Framtida AS", Sector.PRIVATE)
    first = on(make_gathering, 2019, 3, 1)  # no check-in: confirmed registrations attended
    register(first, a, "alice@example.no")
    register(first, a, "Bob@example.no")
    register(first, b, "carol@example.no")
    register(first, b, "dave@example.no", CANCELLED)
    register(first, b, "erin@example.no", WAITING)
    second = on(make_gathering, 2020, 5, 1)  # used check-in: only those checked in attended
    register(second, a, "ALICE@example.no", checked_in=True)
    register(second, a, "frank@example.no")
    register(second, b, "carol@example.no", checked_in=True)
    third = on(make_gathering, 2021, 6, 1)
    for n in range(2):
        anonymise(register(third, a, f"gone{n}@example.no"), now=NOW)
    register(third, c, "gina@example.no")
    cancelled = on(make_gathering, 2021, 9, 1, status=GatheringStatus.CANCELLED)
    register(cancelled, c, "harry@example.no")
    upcoming = make_gathering(now=utcnow(), starts_at=utcnow() + timedelta(days=10))
    register(upcoming, d, "ida@example.no")
    db.session.commit()
    return {"a": a.id, "b": b.id, "c": c.id, "d": d.id}


def by_name(result):
    return {row.organisation_id: row for row in result.organisations}


def test_all_years(history):
    result = figures.figures(NOW, figures.Period(), OSLO)
    rows = by_name(result)
    assert set(rows) == {history["a"], history["b"], history["c"]}  # not d: not held yet
    a, b, c = rows[history["a"]], rows[history["b"]], rows[history["c"]]
    # alice (twice, however the address was typed), bob, and two anonymised registrations
    assert (a.gatherings, a.people, a.anonymised, a.returning) == (3, 4, 2, True)
    assert (a.first.year, a.last.year) == (2019, 2021)
    assert (b.gatherings, b.people, b.returning) == (2, 1, True)  # not dave, erin
    assert (c.gatherings, c.people, c.returning) == (1, 1, False)  # not the cancelled one
    assert all(result.is_new(row, OSLO) for row in result.organisations)
    assert result.totals == result.since_start
    assert (result.since_start.organisations, result.since_start.gatherings,
            result.since_start.people, result.since_start.anonymised) == (3, 3, 6, 2)
    sectors = {row.sector: row for row in result.sectors}
    assert (sectors[Sector.PUBLIC].organisations, sectors[Sector.PUBLIC].people,
            sectors[Sector.PUBLIC].gatherings, sectors[Sector.PUBLIC].returning) == (1, 4, 3, 1)
    assert (sectors[Sector.PRIVATE].organisations, sectors[Sector.PRIVATE].people) == (1, 1)
    assert (sectors[Sector.NON_PROFIT].returning, sectors[Sector.NON_PROFIT].new) == (0, 1)
    assert sectors[Sector.VOLUNTEER].organisations == 0 and sectors[Sector.VOLUNTEER].first is None


def test_a_year(history):
    result = figures.figures(NOW, figures.Period(2020), OSLO)
    rows = by_name(result)
    assert set(rows) == {history["a"], history["b"]}
    a = rows[history["a"]]
    # In 2020: one gathering, alice only (frank was not checked in); came first in 2019.
    assert (a.gatherings, a.people, a.first.year, a.last.year, a.returning) == (1, 1, 2019, 2020,
                                                                                 True)
    assert not result.is_new(a, OSLO)
    assert (result.totals.organisations, result.totals.gatherings, result.totals.people) == (2, 1, 2)
    assert result.since_start.people == 6

    later = figures.figures(NOW, figures.Period(2021), OSLO)
    rows = by_name(later)
    assert (rows[history["a"]].people, rows[history["a"]].anonymised) == (2, 2)
    assert later.is_new(rows[history["c"]], OSLO) and not rows[history["c"]].returning
    sectors = {row.sector: row for row in later.sectors}
    assert (sectors[Sector.NON_PROFIT].new, sectors[Sector.PUBLIC].new) == (1, 0)
    assert sectors[Sector.PRIVATE].organisations == 0  # b did not come in 2021
    assert figures.years(NOW, OSLO) == [2021, 2020, 2019]


def test_page_and_year_filter(app, organiser_client, history):
    page = organiser_client.get("/arrangor/tall")
    assert page.status_code == 200
    assert "Bergen Røde Kors" in page.text and "Framtida AS" not in page.text
    assert "mer enn 170" in page.text and "omtrent 400" in page.text
    year = organiser_client.get("/arrangor/tall?periode=2020")
    assert year.status_code == 200 and "Bergen Røde Kors" not in year.text
    # A year that is not on offer, or nonsense, shows everything rather than failing.
    for odd in ("1999", "abc", "²", "-2020", "9" * 40):
        assert organiser_client.get("/arrangor/tall", query_string={"periode": odd}).status_code == 200


def test_csv_is_formula_safe(organiser_client, history):
    response = organiser_client.get("/arrangor/tall.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Type", "Navn", "Sektor"]
    names = [row[1] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil\")" in names
    assert not any(cell.startswith("=") for row in rows for cell in row)
    kommune = next(row for row in rows if row[1] == "Bergen kommune")
    assert kommune[3:6] == ["3", "4", "2"] and kommune[8:] == ["1", "1"]


def test_login_required(client, history):
    for url in ("/arrangor/tall", "/arrangor/tall.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/arrangor/innlogging" in response.location


def test_queries_do_not_grow_with_registrations(app, organiser_client, make_gathering):
    def statements():
        assert organiser_client.get("/arrangor/tall").status_code == 200
        with app.app_context(), counting() as seen:
            assert organiser_client.get("/arrangor/tall").status_code == 200
        return seen

    with app.app_context():
        held = make_gathering(now=utcnow() - timedelta(days=90),
                              starts_at=utcnow() - timedelta(days=30))
        db.session.commit()
        org = organisation("Første AS", Sector.PRIVATE)
        register(held, org, "en@example.no")
        db.session.commit()
    few = statements()
    with app.app_context():
        for g in range(4):
            held = make_gathering(now=utcnow() - timedelta(days=900),
                                  starts_at=utcnow() - timedelta(days=40 + 200 * g))
            db.session.commit()
            for n in range(15):
                register(held, organisation(f"V{g}-{n}", list(Sector)[n % 4]), f"p{g}-{n}@example.no",
                         checked_in=n % 2 == 0)
            db.session.commit()
    many = statements()
    assert len(many) == len(few), "\n".join(many)


@pytest.mark.parametrize(("language", "heading", "stated"), [
    ("nn", "Tal på tvers av samlingar", "meir enn 170"),
    ("en", "Figures across gatherings", "more than 170"),
])
def test_page_in_nynorsk_and_english(organiser_client, history, language, heading, stated):
    organiser_client.set_cookie("sprak", language)
    page = organiser_client.get("/arrangor/tall")
    assert page.status_code == 200
    assert heading in page.text and stated in page.text
    assert "Tall på tvers" not in page.text


# --- stored by the worker, read by the page (docs/decisions/0038) -------------------------------


def _figures_job(app):
    [job] = [job for job in worker.figure_jobs() if job.name == "figures"]
    return worker.Scheduler(app, [job])


def test_stored_figures_are_the_figures_of_every_period(history):
    now = utcnow()
    assert figures.store(now, OSLO) == 4  # all years, 2021, 2020, 2019
    for period in (figures.Period(), *(figures.Period(y) for y in (2019, 2020, 2021))):
        shown = figures.stored_page(now, period, 1)
        assert shown.figures == figures.figures(now, period, OSLO), period
        assert shown.computed_at == now and shown.organisation_count == len(shown.figures.organisations)
    assert figures.stored_page(now, figures.Period(2018), 1) is None  # no such year stored


def test_the_page_reads_the_stored_figures_a_page_at_a_time(app, organiser_client, make_gathering):
    count = figures.PAGE_SIZE + 10
    with app.app_context():
        held = make_gathering(now=utcnow() - timedelta(days=90), starts_at=utcnow() - timedelta(days=30))
        db.session.commit()
        for n in range(count):
            register(held, organisation(f"Virksomhet {n:03}", list(Sector)[n % 4]), f"p{n}@example.no")
        db.session.commit()
        held_id = held.id
    _figures_job(app).run_due()  # the worker's job: computes every period and commits
    with app.app_context():
        register(db.session.get(Gathering, held_id), organisation("Etternøler AS", Sector.PRIVATE),
                 "late@example.no")
        db.session.commit()
        with counting() as statements:
            first = organiser_client.get("/arrangor/tall")
        second = organiser_client.get("/arrangor/tall?side=2")
        beyond = organiser_client.get("/arrangor/tall?side=99")
    assert first.status_code == second.status_code == beyond.status_code == 200
    assert not any("used_check_in" in statement for statement in statements)  # nothing counted
    rows = [re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', page.text)
            for page in (first, second, beyond)]
    assert rows[0] == [f"Virksomhet {n:03}" for n in range(figures.PAGE_SIZE)]  # by name: all 1
    assert rows[1] == rows[2] == [f"Virksomhet {n:03}" for n in range(figures.PAGE_SIZE, count)]
    assert "Etternøler AS" not in second.text  # registered after the figures were stored
    assert f"Viser 1–{figures.PAGE_SIZE} av {count}" in first.text and "(side 1 av 2)" in first.text
    assert "Tallene ble regnet ut" in first.text
    assert 'href="/arrangor/tall?side=2&amp;periode="' in first.text


def test_stored_figures_gone_stale_are_computed_afresh(app, history, make_gathering):
    now = utcnow()
    figures.store(now - figures.STORED_MAX_AGE, OSLO)
    db.session.commit()
    assert figures.stored_page(now - timedelta(seconds=1), figures.Period(), 1) is not None
    assert figures.stored_page(now, figures.Period(), 1) is None
    shown = figures.page_of(now, figures.Period(), OSLO, 1)
    assert shown.computed_at is None and shown.figures == figures.figures(now, figures.Period(), OSLO)
