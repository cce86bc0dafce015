"""The overview: fill rates, attendance, reach by sector (figures and charts), failed mail, and
the audit log; the overview's queries do not grow with the data."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from klynge_rsvp import history, privacy, rsvp, statistics, worker
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    FigureSnapshot,
    Gathering,
    GatheringStatus,
    OutboxMessage,
    OutboxStatus,
    Registration,
    Sector,
)
from tests.conftest import NOW, person, registration_request
from tests.overview_helpers import QueryCounter
from tests.pages import text

DAY = timedelta(days=1)


def register(gathering, n, *, organisation="Bergen kommune", sector=Sector.PUBLIC, now=NOW,
             email=None) -> Registration:
    request = registration_request(n, organisation_name=organisation, sector=sector,
                                   person=person(n, email=email or f"deltaker{n}@example.no"))
    [outcome] = rsvp.register(gathering, request, now=now)
    return outcome.registration


def held(make_gathering, *, title="Holdt", days_ago=10, capacity=None):
    """A published gathering that has ended (registered for while it was open)."""
    return make_gathering(title=title, capacity=capacity, now=NOW - 60 * DAY,
                          starts_at=NOW - days_ago * DAY)


# --- the figures -------------------------------------------------------------------------------


def test_upcoming_fill(ctx, make_gathering):
    full = make_gathering(title="Full", capacity=2, starts_at=NOW + 5 * DAY)
    open_ = make_gathering(title="Uten grense", starts_at=NOW + 3 * DAY)
    make_gathering(title="Utkast", status=GatheringStatus.DRAFT, capacity=10,
                   starts_at=NOW + 7 * DAY)
    make_gathering(title="Avlyst", status=GatheringStatus.CANCELLED, starts_at=NOW + 4 * DAY)
    held(make_gathering)
    for n in (1, 2, 3):
        register(full, n)
    register(open_, 4)

    rows = statistics.upcoming_fill(NOW)

    assert [(r.title, r.confirmed, r.waiting, r.capacity) for r in rows] == [
        ("Uten grense", 1, 0, None), ("Full", 2, 1, 2), ("Utkast", 0, 0, 10)]
    assert [r.fill_rate for r in rows] == [None, 1.0, 0.0]


def test_past_attendance(ctx, make_gathering):
    older = held(make_gathering, title="Eldre", days_ago=20)
    newer = held(make_gathering, title="Nyere", days_ago=5, capacity=3)
    make_gathering(title="Avlyst", status=GatheringStatus.CANCELLED, starts_at=NOW - 3 * DAY,
                   now=NOW - 60 * DAY)
    a, b, c, _d = (register(newer, n, now=NOW - 30 * DAY) for n in (1, 2, 3, 4))  # _d waits
    rsvp.cancel(c, now=NOW - 20 * DAY)  # _d gets the seat
    a.checked_in_at = b.checked_in_at = NOW - 5 * DAY
    register(older, 5, now=NOW - 30 * DAY)
    db.session.flush()

    rows = statistics.past_attendance(NOW)

    assert [(r.title, r.registered, r.attended, r.no_shows, r.attendance_recorded)
            for r in rows] == [("Nyere", 3, 2, 1, True), ("Eldre", 1, 0, 1, False)]


def test_reach_counts_distinct_organisations_and_people_by_sector(ctx, make_gathering):
    first = held(make_gathering, days_ago=20)
    second = make_gathering(starts_at=NOW + 5 * DAY)
    # Kari comes twice (one person); two from Røde Kors; one private; Ola changed employer.
    then = NOW - 30 * DAY  # while the first was open for registration
    register(first, 1, email="kari@example.no", now=then)
    register(second, 2, email="KARI@example.no")
    register(first, 3, organisation="Bergen Røde Kors", sector=Sector.VOLUNTEER, now=then)
    register(first, 4, organisation="Bergen Røde Kors", sector=Sector.VOLUNTEER, now=then)
    register(first, 5, organisation="Equinor", sector=Sector.PRIVATE, email="ola@example.no",
             now=then)
    register(second, 6, organisation="Frelsesarmeen", sector=Sector.NON_PROFIT,
             email="ola@example.no")
    # An erased registration keeps its organisation but is no longer a person we can count.
    erased = register(second, 7, organisation="Universitetet i Bergen")
    privacy.erase(erased, now=NOW)
    db.session.flush()

    reach = statistics.reach()

    assert reach.organisations == 5  # kommune, Røde Kors, Equinor, Frelsesarmeen, UiB
    assert reach.people == 4  # Kari, 3, 4, Ola
    assert {(s.sector, s.organisations, s.people) for s in reach.sectors} == {
        (Sector.PUBLIC, 2, 1), (Sector.VOLUNTEER, 1, 2), (Sector.PRIVATE, 1, 1),
        (Sector.NON_PROFIT, 1, 1)}


def test_reach_of_nothing(ctx):
    reach = statistics.reach()
    assert (reach.organisations, reach.people) == (0, 0)
    assert [(s.organisations, s.people) for s in reach.sectors] == [(0, 0)] * 4


def test_the_overview_reuses_reach_figures_for_a_minute(ctx, make_gathering):
    gathering = make_gathering(starts_at=NOW + 5 * DAY)
    register(gathering, 1)
    db.session.flush()
    assert statistics.recent_reach(NOW).people == 1

    register(gathering, 2)
    db.session.flush()
    assert statistics.recent_reach(NOW + timedelta(seconds=59)).people == 1  # reused
    assert statistics.recent_reach(NOW + timedelta(seconds=60)).people == 2  # a minute: afresh
    register(gathering, 3)
    db.session.flush()
    assert statistics.recent_reach(NOW).people == 3  # a clock that went back: afresh
    register(gathering, 4)
    db.session.flush()
    statistics.forget_recent_reach()
    assert statistics.recent_reach(NOW).people == 4


def test_reused_reach_figures_belong_to_one_app(app, make_app, app_config, make_gathering,
                                                tmp_path):
    with app.app_context():
        register(make_gathering(starts_at=NOW + 5 * DAY), 1)
        db.session.commit()
        assert statistics.recent_reach(NOW).people == 1
    other = make_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.sqlite3'}"})
    with other.app_context():  # another app, on an empty database
        assert statistics.recent_reach(NOW).people == 0


def _reach_job(app):
    [job] = [job for job in worker.figure_jobs() if job.name == "reach"]
    return worker.Scheduler(app, [job])


def _reads_every_registration(statements: list[str]) -> bool:
    """Whether reach()'s grouping of every registration by address was among the statements."""
    return any(re.search(r"GROUP BY registrations\.email_key", s) for s in statements)


def test_the_overview_reads_the_reach_the_worker_stored(app, organiser_client, make_gathering):
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + 5 * DAY)
        register(gathering, 1)
        db.session.commit()
        gathering_id = gathering.id
    _reach_job(app).run_due()  # the worker's job: computes and commits the figures
    with app.app_context():
        register(db.session.get(Gathering, gathering_id), 2)
        db.session.commit()
        statistics.forget_recent_reach()
        with QueryCounter() as counter:
            response = organiser_client.get("/arrangor/")
    assert response.status_code == 200
    assert not _reads_every_registration(counter.statements)  # no request pays for reach
    assert re.search(r"<dt>Personer</dt><dd>1</dd>", response.get_data(as_text=True))
    with app.app_context():
        assert statistics.recent_reach(utcnow()).people == 1  # as stored, not yet the second

    _reach_job(app).run_due()  # a new scheduler: due at once, as every half minute
    with app.app_context():
        assert statistics.recent_reach(utcnow()).people == 2
        stored = db.session.get(FigureSnapshot, statistics.REACH_SNAPSHOT)
        assert stored.body["people"] == 2 and stored.body["sectors"]["offentlig"] == [1, 2]


def test_stored_reach_older_than_a_minute_is_computed_afresh(app, make_gathering):
    """Stored figures a minute old mean no worker is storing them: the overview computes them,
    so what it shows is never older than the minute it promises."""
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + 5 * DAY)
        register(gathering, 1)
        db.session.commit()
        now = utcnow()
        statistics.store_reach(now)
        db.session.commit()
        register(gathering, 2)
        db.session.commit()
        assert statistics.stored_reach(now + timedelta(seconds=59)).people == 1
        assert statistics.stored_reach(now + timedelta(seconds=60)) is None
        assert statistics.stored_reach(now - timedelta(seconds=1)) is None  # a clock gone back
        assert statistics.recent_reach(now + timedelta(seconds=60)).people == 2


def test_stored_reach_is_one_row_whoever_stores_it(app, make_gathering):
    with app.app_context():
        register(make_gathering(starts_at=utcnow() + 5 * DAY), 1)
        db.session.commit()
        now = utcnow()
        first = statistics.store_reach(now)
        db.session.commit()
        again = statistics.store_reach(now + timedelta(seconds=30))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FigureSnapshot)) == 1
        assert statistics.stored_reach(now + timedelta(seconds=40)) == first == again


# --- the charts (pure) -------------------------------------------------------------------------


def test_bar_chart_lays_out_segments_as_shares_of_the_scale():
    chart = statistics.bar_chart("c", "Tittel", "Beskrivelse", [
        ("A", [(3, "filled"), (1, "hatched")], 8, "3 møtte"),
        ("B", [(12, "filled")], 8, "for mange"),  # never wider than the whole
        ("C", [(0, "filled")], 0, "ingen"),
    ])
    a, b, c = chart.rows
    assert [(s.start, s.width) for s in a.segments] == [(0.0, 37.5), (37.5, 12.5)]
    assert [(s.start, s.width) for s in b.segments] == [(0.0, 100.0)]
    assert [(s.start, s.width) for s in c.segments] == [(0.0, 0.0)]
    assert [r.top for r in chart.rows] == [0, 72, 144]
    assert chart.height == 3 * 72


def test_svg_is_a_titled_image_and_escapes_labels():
    chart = statistics.bar_chart("fill", "Fylling", "Andel av plassene", [
        ('<script>alert("x")</script>', [(1, "filled"), (1, "hatched")], 4, "1 & 1"),
    ])
    markup = str(statistics.svg(chart))
    assert markup.startswith('<svg class="chart" id="fill"')
    assert 'role="img" aria-labelledby="fill-title fill-desc"' in markup
    assert '<title id="fill-title">Fylling</title>' in markup
    assert '<desc id="fill-desc">Andel av plassene</desc>' in markup
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert "1 &amp; 1" in markup
    assert 'width="25.0%"' in markup and 'fill="url(#fill-hatch)"' in markup
    assert "style=" not in markup  # the CSP forbids inline styles


def test_long_labels_are_shortened_in_the_chart_only():
    title = "Frokostmøte om beredskap, kraftforsyning og digital sårbarhet i Bergen"
    [row] = statistics.bar_chart("c", "T", "D", [(title, [(1, "filled")], 1, "")]).rows
    assert row.label.endswith("…") and len(row.label) <= statistics.LABEL_MAX


# --- the page ----------------------------------------------------------------------------------


def test_overview_page_shows_figures_charts_and_failed_mail(app, organiser_client,
                                                            make_gathering):
    now = utcnow()
    with app.app_context():
        upcoming = make_gathering(title="Frokost om flom", capacity=4, now=now,
                                  starts_at=now + 10 * DAY)
        register(upcoming, 1, now=now)
        register(upcoming, 2, now=now, organisation="Equinor", sector=Sector.PRIVATE)
        past = make_gathering(title="Seminar om strøm", now=now - 60 * DAY,
                              starts_at=now - 10 * DAY)
        attended = register(past, 3, now=now - 30 * DAY)
        register(past, 4, now=now - 30 * DAY)
        attended.checked_in_at = now - 10 * DAY
        message = db.session.scalars(sa.select(OutboxMessage)).first()
        message.status = OutboxStatus.FAILED
        db.session.commit()

    page = organiser_client.get("/arrangor/")
    assert page.status_code == 200
    words = text(page.text)
    assert "1 e-post kunne ikke sendes." in words
    assert 'href="/arrangor/e-postlogg?status=failed"' in page.text
    assert "Frokost om flom" in words and "2 av 4 (50 %)" in words
    assert re.search(r"Frokost om flom .*? 2 4 50 % 0", words)
    assert re.search(r"Seminar om strøm .*? 2 1 1", words)
    assert "Virksomheter 2 Personer 4" in words
    assert "Offentlig 1 3 Privat 1 1" in words
    assert page.text.count('<svg class="chart"') == 4
    assert page.text.count('role="img"') == 4
    assert "style=" not in page.text


def test_overview_without_failed_mail_says_so(organiser_client):
    page = organiser_client.get("/arrangor/")
    assert "Ingen feil." in page.text
    assert "Ingen kommende samlinger." in page.text


def test_overview_queries_do_not_grow_with_the_data(app, organiser_client, make_gathering):
    def add(upcoming: int, past: int, people: int, start: int):
        now = utcnow()
        with app.app_context():
            for i in range(upcoming):
                gathering = make_gathering(capacity=50, now=now, starts_at=now + (i + 1) * DAY)
                for n in range(people):
                    register(gathering, start + 1000 * i + n, now=now,
                             organisation=f"Virksomhet {n}", sector=list(Sector)[n % 4])
            for i in range(past):
                gathering = make_gathering(now=now - 90 * DAY, starts_at=now - (i + 1) * DAY)
                for n in range(people):
                    registration = register(gathering, start + 500 + 1000 * i + n,
                                            now=now - 60 * DAY)
                    registration.checked_in_at = now - (i + 1) * DAY if n % 2 else None
            db.session.commit()

    def queries() -> int:
        with app.app_context():
            statistics.forget_recent_reach()  # count the reach queries too, not reused figures
        with app.app_context(), QueryCounter() as counter:
            assert organiser_client.get("/arrangor/").status_code == 200
        return counter.count

    add(upcoming=1, past=1, people=1, start=10_000)
    small = queries()
    add(upcoming=4, past=5, people=6, start=20_000)
    large = queries()
    assert large == small
    assert small <= 10


def test_past_attendance_keeps_to_the_most_recent_when_limited(ctx, make_gathering):
    for title, days_ago in (("Eldst", 30), ("Nyest", 5), ("Midt", 20)):
        gathering = held(make_gathering, title=title, days_ago=days_ago)
        register(gathering, days_ago, now=NOW - 40 * DAY)
    db.session.flush()

    assert [r.title for r in statistics.past_attendance(NOW, limit=2)] == ["Nyest", "Midt"]
    assert [r.title for r in statistics.past_attendance(NOW)] == ["Nyest", "Midt", "Eldst"]


def test_overview_shows_only_the_most_recent_held_gatherings(app, organiser_client,
                                                            make_gathering):
    # bench.growth: with every held gathering on it, the overview took 14× as long at 1,000
    # gatherings as at 20; its attendance reads only the newest PAST_ON_OVERVIEW now.
    shown = statistics.PAST_ON_OVERVIEW
    now = utcnow()
    with app.app_context():
        for n in range(shown + 2):  # Holdt 00 is the most recent
            gathering = make_gathering(title=f"Holdt {n:02d}", now=now - 90 * DAY,
                                       starts_at=now - (n + 1) * DAY)
            register(gathering, n, now=now - 60 * DAY)
        db.session.commit()

    with app.app_context(), QueryCounter() as counter:
        page = organiser_client.get("/arrangor/")
    assert page.status_code == 200
    words = text(page.text)
    assert [f"Holdt {n:02d}" in words for n in range(shown + 2)] == [True] * shown + [False] * 2
    assert f"De {shown} siste gjennomførte samlingene. Se alle samlinger" in words
    assert 'href="/arrangor/samlinger"' in page.text
    attendance = [s for s in counter.statements if "checked_in_at" in s and "GROUP BY" in s]
    assert len(attendance) == 1 and "LIMIT" in attendance[0]


# --- the audit log -----------------------------------------------------------------------------


def test_audit_log_lists_filters_and_pages(app, admin_client, make_gathering):
    with app.app_context():
        from klynge_rsvp import organisers

        admin = organisers.find_by_email("admin@bergen.kommune.no")
        one = make_gathering(title="Første samling")
        two = make_gathering(title="Andre samling")
        for i in range(55):
            history.audit("edit", by=admin, now=NOW + i * timedelta(minutes=1), gathering=one,
                          summary=f"endring {i}")
        history.audit("publish", by=admin, now=NOW + 2 * DAY, gathering=two,
                      summary="publisert")
        db.session.commit()
        one_id, two_id = one.id, two.id

    page = admin_client.get("/arrangor/revisjonslogg")
    words = text(page.text)
    assert "Viser 1–50 av 56" in words and "(side 1 av 2)" in words
    assert words.index("Publiserte") < words.index("endring 54")  # newest first
    assert "admin@bergen.kommune.no" in words
    second = text(admin_client.get("/arrangor/revisjonslogg?side=2").text)
    assert "endring 0" in second and "endring 54" not in second

    only_two = text(admin_client.get(f"/arrangor/revisjonslogg?samling={two_id}").text)
    assert "Viser 1–1 av 1" in only_two and "publisert" in only_two
    assert "endring" not in only_two
    filtered = admin_client.get(f"/arrangor/revisjonslogg?samling={one_id}&side=2").text
    assert f"samling={one_id}" in filtered  # the pager keeps the filter


def test_audit_log_filters_by_kind_of_action(app, admin_client, make_gathering):
    """An API key writes a line per request; the organisers can see only what they did."""
    with app.app_context():
        from klynge_rsvp import organisers

        admin = organisers.find_by_email("admin@bergen.kommune.no")
        gathering = make_gathering()
        for i in range(60):
            history.audit("api_request", by=admin, now=NOW + i * timedelta(minutes=1),
                          summary=f"lesing {i}")
        history.audit("publish", by=admin, now=NOW, gathering=gathering, summary="publisert")
        db.session.commit()

    page = admin_client.get("/arrangor/revisjonslogg?handling=publish")
    words = text(page.text)
    assert "Viser 1–1 av 1" in words and "publisert" in words and "lesing" not in words
    assert '<option value="publish" selected>' in page.text
    reads = admin_client.get("/arrangor/revisjonslogg?handling=api_request&side=2").text
    assert "handling=api_request" in reads  # the pager keeps the filter
    assert "lesing 0" in text(reads)
    unknown = text(admin_client.get("/arrangor/revisjonslogg?handling=nonsense").text)
    assert "Viser 1–50 av 61" in unknown  # an unknown kind shows everything


def test_audit_log_queries_do_not_grow_with_entries(app, organiser_client, make_gathering):
    def add_entries(per_gathering: int):
        with app.app_context():
            for i in range(5):
                gathering = make_gathering(title=f"Samling {i}")
                for _ in range(per_gathering):
                    history.audit("edit", by=None, now=NOW, gathering=gathering)
            db.session.commit()

    def queries() -> int:
        with app.app_context(), QueryCounter() as counter:
            assert organiser_client.get("/arrangor/revisjonslogg").status_code == 200
        return counter.count

    add_entries(1)
    few = queries()
    add_entries(4)
    assert queries() == few


@pytest.mark.parametrize("url", ["/arrangor/revisjonslogg?side=99",
                                 "/arrangor/revisjonslogg?samling=999"])
def test_audit_log_out_of_range_is_empty_not_an_error(organiser_client, url):
    assert organiser_client.get(url).status_code == 200
