"""The survey after a gathering: who gets it (the checked-in, once, in their language), the
public form (answer once, closed after FEEDBACK_OPEN_DAYS, never answered by a GET), anonymity,
the organisers' results and CSV, and the purge of the free text."""

import csv
import io
from datetime import timedelta

import sqlalchemy as sa

from klynge_rsvp import checkin, feedback, privacy, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import FeedbackAnswer, FeedbackInvitation, OutboxMessage, Registration
from tests.conftest import csrf_token_of, person, registration_request


def _gathering(app, make_gathering, *, ended_ago=timedelta(days=1), checked_in=(1, 2, 3),
               languages=("nb", "nn", "en", "nb")):
    """A gathering that ended `ended_ago` before the real clock, four with a seat (one of them
    cancelled later), `checked_in` of them (numbered from 1) checked in; returns (gathering id,
    {n: registration id})."""
    now = utcnow()
    ends = now - ended_ago
    starts = ends - timedelta(hours=2)
    with app.app_context():
        gathering = make_gathering(title="Øvelse «Storm» på Ål", starts_at=starts, ends_at=ends,
                                   now=starts - timedelta(days=20))
        ids = {}
        for n, language in enumerate(languages, start=1):
            [outcome] = rsvp.register(gathering, registration_request(
                n, person=person(n), language=language), now=starts - timedelta(days=10))
            ids[n] = outcome.registration.id
            if n in checked_in:
                checkin.check_in(outcome.registration, now=starts, by=None)
        db.session.commit()
        return gathering.id, ids


def _surveys(app):
    with app.app_context():
        return sorted((row.recipient, row.subject) for row in db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "feedback_survey")))


def _token(app, registration_id):
    with app.app_context():
        return db.session.get(Registration, registration_id).token


def test_only_the_checked_in_get_it_once_each_in_their_language(app, make_gathering, runner):
    _gathering(app, make_gathering, checked_in=(1, 2, 3))
    # Someone checked in at a gathering whose survey closed long ago gets nothing.
    _gathering(app, make_gathering, ended_ago=timedelta(days=15), checked_in=(1,),
               languages=("nb",))
    with app.app_context():
        assert feedback.send_surveys(utcnow()) == 3
    result = runner.invoke(args=["klynge", "send-feedback-surveys"])  # a second run, by hand
    assert result.exit_code == 0, result.output
    assert "Feedback surveys queued: 0." in result.output
    with app.app_context():
        assert feedback.send_surveys(utcnow()) == 0
    assert _surveys(app) == [
        ("deltaker1@example.no", "Hva syntes du om Øvelse «Storm» på Ål?"),
        ("deltaker2@example.no", "Kva syntest du om Øvelse «Storm» på Ål?"),
        ("deltaker3@example.no", "What did you think of Øvelse «Storm» på Ål?"),
    ]


def test_nobody_gets_it_twice_even_when_the_marker_is_lost(app, make_gathering):
    """The invitation row and the outbox key both stop a second send: with the row gone (as
    if a worker crashed after queuing), the key still holds."""
    _gathering(app, make_gathering, checked_in=(1,))
    with app.app_context():
        assert feedback.send_surveys(utcnow()) == 1
        db.session.execute(sa.delete(FeedbackInvitation))
        db.session.commit()
        feedback.send_surveys(utcnow())
    assert len(_surveys(app)) == 1


def test_a_get_shows_the_form_and_a_post_answers_once(app, make_gathering):
    _, ids = _gathering(app, make_gathering, checked_in=(1,))
    with app.app_context():
        feedback.send_surveys(utcnow())
    client = app.test_client()
    url = f"/tilbakemelding/{_token(app, ids[1])}"
    page = client.get(url)
    assert page.status_code == 200
    assert "<legend>" in page.text and 'name="rating"' in page.text
    assert client.get(url).status_code == 200  # a GET answers nothing
    token = csrf_token_of(page.text)

    missing = client.post(url, data={"csrf_token": token, "useful": "Øvelsen «Storm»"})
    assert missing.status_code == 422
    assert "Velg en vurdering fra 1 til 5." in missing.text
    assert "Øvelsen «Storm»" in missing.text  # nothing typed is lost
    wrong = client.post(url, data={"csrf_token": token, "rating": "9"})
    assert wrong.status_code == 422

    done = client.post(url, data={"csrf_token": token, "rating": "4", "useful": "Øvingen",
                                  "change": "=HYPERLINK(\"x\")", "wishes": "Flom"})
    assert done.status_code == 200 and "Takk for svaret" in done.text
    again = client.post(url, data={"csrf_token": token, "rating": "1"})
    assert again.status_code == 409 and "allerede svart" in again.text
    assert client.get(url).status_code == 409
    with app.app_context():
        answers = db.session.scalars(sa.select(FeedbackAnswer)).all()
        assert [(a.rating, a.useful, a.wishes) for a in answers] == [(4, "Øvingen", "Flom")]


def test_the_answers_cannot_be_traced_to_a_person(app, make_gathering):
    with app.app_context():
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("feedback_answers")}
        types = {c["name"]: str(c["type"]) for c in
                 sa.inspect(db.engine).get_columns("feedback_answers")}
    assert columns == {"id", "gathering_id", "rating", "useful", "change", "wishes", "created_on"}
    assert types["created_on"].upper() == "DATE"  # the day only, no time to match a check-in by


def test_closed_after_the_configured_days_and_not_for_the_uninvited(app_config, make_app,
                                                                   migrated_sqlite):
    app_config["FEEDBACK_OPEN_DAYS"] = 2
    app = make_app(app_config)
    from klynge_rsvp import gatherings
    from klynge_rsvp.models import GatheringStatus

    def make(**values):
        return gatherings.create(
            format="Frokostmøte", venue_name="Ole Bull Scene", venue_address="Bergen",
            host="Bergen kommune", description="Om beredskap.", status=GatheringStatus.PUBLISHED,
            slug=f"samling-{values['title'][:3].lower()}", **values)

    _, ids = _gathering(app, lambda **v: make(**v), ended_ago=timedelta(days=1),
                        checked_in=(1,), languages=("nb", "nb"))
    with app.app_context():
        assert feedback.send_surveys(utcnow()) == 1
        # Two days after the end: the survey closes, with a clear page and nothing stored.
        gathering = db.session.get(Registration, ids[1]).gathering
        gathering.ends_at = utcnow() - timedelta(days=2, minutes=1)
        gathering.starts_at = gathering.ends_at - timedelta(hours=2)
        db.session.commit()
    client = app.test_client()
    closed = client.get(f"/tilbakemelding/{_token(app, ids[1])}")
    assert closed.status_code == 403 and "Spørreundersøkelsen er stengt." in closed.text
    posted = client.post(f"/tilbakemelding/{_token(app, ids[1])}", data={"rating": "5"})
    assert posted.status_code in (400, 403)
    uninvited = client.get(f"/tilbakemelding/{_token(app, ids[2])}")
    assert uninvited.status_code == 403 and "ingen spørreundersøkelse" in uninvited.text
    assert client.get("/tilbakemelding/ukjent").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackAnswer)) == 0


def _answer(app, registration_id, **values):
    with app.app_context():
        registration = db.session.get(Registration, registration_id)
        feedback.answer(registration, now=utcnow(), **{
            "useful": "", "change": "", "wishes": "", **values})
        db.session.commit()


def test_organisers_see_the_distribution_the_comments_and_a_safe_csv(app, make_gathering,
                                                                    organiser_client):
    gathering_id, ids = _gathering(app, make_gathering, checked_in=(1, 2, 3))
    with app.app_context():
        feedback.send_surveys(utcnow())
    _answer(app, ids[1], rating=5, useful="Øvelsen på Ål")
    _answer(app, ids[2], rating=4, change="=cmd|' /C calc'!A0")
    _answer(app, ids[3], rating=4, wishes="Flom og ras")

    page = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/tilbakemeldinger")
    assert page.status_code == 200
    assert "Gjennomsnitt: 4,3 av 5" in page.text
    assert "Sendt til 3, svar fra 3." in page.text
    assert "Øvelsen på Ål" in page.text and "Flom og ras" in page.text
    assert "deltaker1" not in page.text and "Deltaker 1" not in page.text

    show = organiser_client.get(f"/arrangor/samlinger/{gathering_id}")
    assert f"/arrangor/samlinger/{gathering_id}/tilbakemeldinger" in show.text

    download = organiser_client.get(f"/arrangor/samlinger/{gathering_id}/tilbakemeldinger.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Dato", "Vurdering (1–5)", "Hva var nyttig?", "Hva bør vi endre?",
                       "Ønskede temaer"]
    assert sorted(row[1] for row in rows[1:]) == ["4", "4", "5"]
    assert "'=cmd|' /C calc'!A0" in [row[3] for row in rows[1:]]


def test_the_survey_pages_need_an_organiser(app, make_gathering, client):
    gathering_id, _ = _gathering(app, make_gathering, checked_in=())
    assert client.get(f"/arrangor/samlinger/{gathering_id}/tilbakemeldinger").status_code == 302
    assert client.get(
        f"/arrangor/samlinger/{gathering_id}/tilbakemeldinger.csv").status_code == 302


def test_the_purge_deletes_the_free_text_and_keeps_the_rating(app, make_gathering):
    _, ids = _gathering(app, make_gathering, checked_in=(1,))
    with app.app_context():
        feedback.send_surveys(utcnow())
    _answer(app, ids[1], rating=2, useful="Kari Nordmann var flink", wishes="Mer om Kari")
    with app.app_context():
        report = privacy.purge_personal_data(now=utcnow() + timedelta(days=400))
        db.session.commit()
        assert report.feedback_texts == 1
        [answer] = db.session.scalars(sa.select(FeedbackAnswer)).all()
        assert (answer.rating, answer.useful, answer.change, answer.wishes) == (2, "", "", "")


def test_the_privacy_statement_tells_about_the_survey(client):
    page = client.get("/personvern")
    assert "åpen i 14 dager" in page.text
    assert "Svaret lagres uten navn eller annen kobling til påmeldingen din" in page.text


def test_the_worker_sends_them_among_its_periodic_jobs(app, make_gathering):
    from klynge_rsvp import worker

    _gathering(app, make_gathering, checked_in=(2,))
    jobs = [job for job in worker.registered_jobs() if job.name == "feedback-surveys"]
    worker.Scheduler(app, jobs).run_due()
    assert [recipient for recipient, _ in _surveys(app)] == ["deltaker2@example.no"]
