"""Organisers' own questions per gathering (issue 16): the services, the organisers' pages with
their confirmation when answers would be lost, the registration form for the person and each
colleague, the manage page, the on-behalf form, the list's filter, the downloads (formula-safe),
the person's data export, and erasure and the purge leaving no answer behind."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from klynge_rsvp import gatherings, privacy, questions, rsvp
from klynge_rsvp.clock import utcnow
from klynge_rsvp.extensions import db
from klynge_rsvp.models import (
    Answer,
    AnswerChoice,
    AuditEntry,
    Question,
    QuestionKind,
    Registration,
)
from klynge_rsvp.questions import QuestionDetails
from klynge_rsvp.stored_text import shown
from tests.conftest import NOW, registration_request
from tests.pages import csrf_token, form_data, text
from tests.privacy_helpers import Person as Traced
from tests.privacy_helpers import scan

SECRET = "Hemmeligsvar Peanøttallergi"  # an answer that must not survive erasure


def ask(gathering, kind, label, *choices, required=False, help_text=""):
    return questions.add(gathering, QuestionDetails(
        kind=kind, label=label, help_text=help_text, required=required,
        choices=[(None, choice) for choice in choices]), now=NOW, by=None)


def setup_questions(app, make_gathering, **gathering_args):
    """A published gathering, open for registration now, asking which workshop (one choice,
    required), which meals (several), and anything else (short text). Returns ids."""
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + timedelta(days=30), **gathering_args)
        workshop = ask(gathering, QuestionKind.ONE_CHOICE, "Hvilken workshop?", "Flom", "Skred",
                       required=True, help_text="Velg én.")
        meals = ask(gathering, QuestionKind.SEVERAL_CHOICES, "Hvilke måltider?", "Lunsj",
                    "Middag")
        other = ask(gathering, QuestionKind.SHORT_TEXT, "Noe annet?")
        db.session.commit()
        return {"gathering": gathering.id, "slug": gathering.slug, "workshop": workshop.id,
                "flom": workshop.choices[0].id, "skred": workshop.choices[1].id,
                "meals": meals.id, "lunsj": meals.choices[0].id, "middag": meals.choices[1].id,
                "other": other.id}


def answers_by_email(app) -> dict[str, dict[str, str]]:
    with app.app_context():
        result = {}
        for registration in db.session.scalars(sa.select(Registration)):
            result[registration.email] = dict(questions.answers_of(registration))
        return result


def checked(html: str, name: str) -> list[str]:
    """The values of the ticked radios or checkboxes named `name` on the page."""
    return [re.search(r'value="([^"]*)"', tag).group(1)
            for tag in re.findall(r"<input[^>]*>", html)
            if f'name="{name}"' in tag and re.search(r"\bchecked\b", tag)]


def audit_codes(app) -> list[str]:
    with app.app_context():
        return [entry.summary_code for entry in db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.like("%question%"))
            .order_by(AuditEntry.id))]


# --- the services ---------------------------------------------------------------------------


def test_add_reorder_rename_and_remove_with_confirmation(app, ctx, make_gathering):
    gathering = make_gathering()
    first = ask(gathering, QuestionKind.ONE_CHOICE, "Workshop?", "Flom", "Skred")
    second = ask(gathering, QuestionKind.YES_NO, "Overnatting?")
    third = ask(gathering, QuestionKind.LONG_TEXT, "Forventninger?")
    assert [q.label for q in questions.questions_of(gathering)] == [
        "Workshop?", "Overnatting?", "Forventninger?"]
    assert questions.move(third, -1, now=NOW, by=None)
    assert not questions.move(first, -1, now=NOW, by=None)  # already first
    assert [q.id for q in questions.questions_of(gathering)] == [first.id, third.id, second.id]

    registration = rsvp.register(gathering, registration_request(1), now=NOW)[0].registration
    flom, skred = first.choices
    questions.save_answers(registration, {first.id: [skred.id], second.id: "yes"}, now=NOW)
    db.session.commit()

    # Renaming the question and the chosen choice keeps the answer; adding a choice too.
    lost = questions.update(first, QuestionDetails(
        kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?",
        choices=[(flom.id, "Flom"), (skred.id, "Skred og ras"), (None, "Storm")]),
        now=NOW, by=None)
    assert lost == 0
    db.session.commit()
    assert dict(questions.answers_of(registration))["Hvilken workshop?"] == "Skred og ras"

    # Removing the chosen choice loses the answer: refused until confirmed, with the count.
    without_skred = QuestionDetails(kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?",
                                    choices=[(flom.id, "Flom"), (None, "Storm")])
    with pytest.raises(questions.LosesAnswers) as refused:
        questions.update(first, without_skred, now=NOW, by=None)
    assert refused.value.count == 1
    db.session.rollback()
    first = db.session.get(Question, first.id)
    assert [c.label for c in first.choices] == ["Flom", "Skred og ras", "Storm"]
    registration = db.session.get(Registration, registration.id)
    assert dict(questions.answers_of(registration))["Hvilken workshop?"] == "Skred og ras"
    assert questions.update(first, QuestionDetails(
        kind=QuestionKind.ONE_CHOICE, label="Hvilken workshop?",
        choices=[(first.choices[0].id, "Flom"), (first.choices[2].id, "Storm")]),
        now=NOW, by=None, confirmed=True) == 1
    assert dict(questions.answers_of(registration))["Hvilken workshop?"] == ""
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AnswerChoice)) == 0
    db.session.commit()

    # Yes/no to text: the answers cannot be kept.
    second = db.session.get(Question, second.id)
    with pytest.raises(questions.LosesAnswers):
        questions.update(second, QuestionDetails(kind=QuestionKind.SHORT_TEXT, label="Natt?"),
                         now=NOW, by=None)
    db.session.rollback()
    second = db.session.get(Question, second.id)
    with pytest.raises(questions.LosesAnswers) as refused:
        questions.remove(second, now=NOW, by=None)
    assert refused.value.count == 1
    db.session.rollback()
    assert questions.remove(db.session.get(Question, second.id), now=NOW, by=None,
                            confirmed=True) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 0
    codes = [entry.summary_code for entry in db.session.scalars(
        sa.select(AuditEntry).order_by(AuditEntry.id)) if "question" in entry.summary_code]
    assert codes == ["question_added"] * 3 + ["question_moved", "question_changed",
                                              "question_changed_answers_lost",
                                              "question_removed_answers_lost"]


def test_a_choice_question_needs_two_distinct_choices(ctx, make_gathering):
    gathering = make_gathering()
    for choices in (["Bare én"], ["Flom", "flom"]):
        with pytest.raises(questions.DomainError):
            ask(gathering, QuestionKind.ONE_CHOICE, "Workshop?", *choices)
    assert questions.questions_of(gathering) == []


def test_copying_a_gathering_copies_its_questions_not_the_answers(ctx, make_gathering):
    gathering = make_gathering()
    workshop = ask(gathering, QuestionKind.SEVERAL_CHOICES, "Workshop?", "Flom", "Skred",
                   required=True)
    registration = rsvp.register(gathering, registration_request(1), now=NOW)[0].registration
    questions.save_answers(registration, {workshop.id: [workshop.choices[0].id]}, now=NOW)
    copied = gatherings.copy(gathering, now=NOW, by=None)
    [question] = questions.questions_of(copied)
    assert (question.label, question.kind, question.required) == (
        "Workshop?", QuestionKind.SEVERAL_CHOICES, True)
    assert [c.label for c in question.choices] == ["Flom", "Skred"]
    assert question.id != workshop.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)
                             .where(Answer.question_id == question.id)) == 0


# --- the organisers' pages -------------------------------------------------------------------


def test_organiser_adds_moves_edits_and_removes_with_a_confirmation(app, organiser_client,
                                                                    make_gathering):
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + timedelta(days=30))
        gathering_id = gathering.id
        db.session.commit()
    base = f"/arrangor/samlinger/{gathering_id}/sporsmal"
    overview = organiser_client.get(f"/arrangor/samlinger/{gathering_id}")
    assert f'href="{base}"' in overview.text

    page = organiser_client.get(base)
    refused = organiser_client.post(base, data={
        "csrf_token": csrf_token(page.text), "label": "Workshop?", "kind": "one_choice",
        "new_choices": "Flom"})
    assert refused.status_code == 422
    assert "minst to valg" in text(refused.text)
    assert 'value="Workshop?"' in refused.text  # what was typed is kept
    for label, kind, choices in [("Workshop?", "one_choice", "Flom\r\nSkred"),
                                 ("Allergier?", "short_text", "")]:
        done = organiser_client.post(base, data={
            "csrf_token": csrf_token(page.text), "label": label, "kind": kind,
            "new_choices": choices, "required": "y"})
        assert done.status_code == 303
    with app.app_context():
        workshop, allergies = questions.questions_of(gathering_id)
        flom, skred = [c.id for c in workshop.choices]
        registration = rsvp.register(db.session.get(gatherings.Gathering, gathering_id),
                                     registration_request(1), now=NOW)[0].registration
        questions.save_answers(registration, {workshop.id: [skred]}, now=NOW)
        db.session.commit()
        workshop, allergies, registration = workshop.id, allergies.id, registration.id

    moved = organiser_client.post(f"{base}/{allergies}/flytt", data={
        "csrf_token": csrf_token(page.text), "retning": "opp"})
    assert moved.status_code == 303
    listed = organiser_client.get(base).text
    listed = listed[listed.index('<ol class="question-list">'):]
    assert listed.index("Allergier?") < listed.index("Workshop?")

    # Renaming the chosen choice keeps the answer, no confirmation.
    edit = organiser_client.get(f"{base}/{workshop}/endre")
    assert edit.status_code == 200 and 'value="Skred"' in edit.text
    renamed = organiser_client.post(f"{base}/{workshop}/endre", data={
        "csrf_token": csrf_token(edit.text), "label": "Workshop?", "kind": "one_choice",
        f"choice_{flom}": "Flom", f"choice_{skred}": "Skred og ras", "new_choices": ""})
    assert renamed.status_code == 303
    assert answers_by_email(app)["deltaker1@example.no"]["Workshop?"] == "Skred og ras"

    # Emptying the chosen choice asks first, saying how many answers go; nothing changes.
    edit = organiser_client.get(f"{base}/{workshop}/endre")
    asked = organiser_client.post(f"{base}/{workshop}/endre", data={
        "csrf_token": csrf_token(edit.text), "label": "Workshop?", "kind": "one_choice",
        f"choice_{flom}": "Flom", f"choice_{skred}": "", "new_choices": "Storm"})
    assert asked.status_code == 409
    assert "1 svar går tapt" in text(asked.text)
    assert answers_by_email(app)["deltaker1@example.no"]["Workshop?"] == "Skred og ras"
    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked.text))
    assert carried["confirmed"] == "1" and carried["new_choices"] == "Storm"
    confirmed = organiser_client.post(f"{base}/{workshop}/endre", data=carried)
    assert confirmed.status_code == 303
    assert answers_by_email(app)["deltaker1@example.no"]["Workshop?"] == ""
    with app.app_context():
        assert [c.label for c in questions.questions_of(gathering_id)[1].choices] == [
            "Flom", "Storm"]

    # Removing a question without answers is done at once; with answers it asks.
    with app.app_context():
        questions.save_answers(db.session.get(Registration, registration), {allergies: "Nøtter"},
                               now=NOW)
        db.session.commit()
    asked = organiser_client.post(f"{base}/{allergies}/fjern",
                                  data={"csrf_token": csrf_token(page.text)})
    assert asked.status_code == 409 and "1 svar går tapt" in text(asked.text)
    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked.text))
    assert organiser_client.post(f"{base}/{allergies}/fjern", data=carried).status_code == 303
    assert organiser_client.post(f"{base}/{workshop}/fjern",
                                 data={"csrf_token": csrf_token(page.text)}).status_code == 303
    with app.app_context():
        assert questions.questions_of(gathering_id) == []
    assert audit_codes(app) == ["question_added", "question_added", "question_moved",
                                "question_changed", "question_changed_answers_lost",
                                "question_removed_answers_lost", "question_removed"]
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.summary_code == "question_removed_answers_lost"))
        assert shown(entry, "summary") == "Fjernet spørsmålet «Allergier?» og 1 svar."


def test_another_gatherings_question_is_a_404_and_bad_input_changes_nothing(
        app, organiser_client, make_gathering):
    with app.app_context():
        mine, other = make_gathering(), make_gathering()
        question = ask(other, QuestionKind.SHORT_TEXT, "Hva?")
        ids = mine.id, question.id, other.id
        db.session.commit()
    base = f"/arrangor/samlinger/{ids[0]}/sporsmal"
    token = csrf_token(organiser_client.get(base).text)
    assert organiser_client.get(f"{base}/{ids[1]}/endre").status_code == 404
    for action in ("flytt", "fjern"):
        assert organiser_client.post(f"{base}/{ids[1]}/{action}", data={
            "csrf_token": token, "retning": "opp", "confirmed": "1"}).status_code == 404
    own = f"/arrangor/samlinger/{ids[2]}/sporsmal/{ids[1]}"
    assert organiser_client.post(f"{own}/flytt", data={
        "csrf_token": token, "retning": "sidelengs"}).status_code == 400
    refused = organiser_client.post(f"{own}/endre", data={
        "csrf_token": token, "label": "", "kind": "ukjent"})
    assert refused.status_code == 422
    assert "Skriv spørsmålet." in text(refused.text)
    with app.app_context():
        [kept] = questions.questions_of(ids[2])
        assert (kept.label, kept.kind) == ("Hva?", QuestionKind.SHORT_TEXT)


def test_a_yes_no_question_on_the_form(app, client, make_gathering):
    with app.app_context():
        gathering = make_gathering(starts_at=utcnow() + timedelta(days=30))
        night = ask(gathering, QuestionKind.YES_NO, "Trenger du overnatting?", required=True)
        slug, name = gathering.slug, f"question_{night.id}"
        db.session.commit()
    page = client.get(f"/samlinger/{slug}")
    assert f'<label for="{name}-0">Ja</label>' in page.text
    refused = client.post(f"/samlinger/{slug}", data={
        "csrf_token": csrf_token(page.text), **form_data(), name: "kanskje"})
    assert refused.status_code == 422
    assert "Trenger du overnatting?: Velg blant svarene som står der." in text(refused.text)
    assert client.post(f"/samlinger/{slug}", data={
        "csrf_token": csrf_token(page.text), **form_data(), name: "yes"}).status_code == 303
    assert answers_by_email(app) == {"kari@example.no": {"Trenger du overnatting?": "Ja"}}


# --- the registration form ------------------------------------------------------------------


def test_each_person_answers_and_a_failed_submit_keeps_everything(app, client, make_gathering):
    ids = setup_questions(app, make_gathering)
    url = f"/samlinger/{ids['slug']}"
    page = client.get(url)
    html = page.text
    workshop = f"question_{ids['workshop']}"
    assert '<legend>Hvilken workshop? <span class="required">' in html
    assert f'aria-describedby="{workshop}-hint"' in html
    assert f'id="colleagues-__INDEX__-{workshop}-0"' in html  # the colleague row template

    data = {"csrf_token": csrf_token(html), **form_data(),
            workshop: str(ids["flom"]), f"question_{ids['meals']}": [str(ids["lunsj"]),
                                                                      str(ids["middag"])],
            f"question_{ids['other']}": SECRET,
            "colleagues-0-name": "Ola Nordmann", "colleagues-0-email": "ola@example.no",
            f"colleagues-0-question_{ids['meals']}": str(ids["middag"])}
    refused = client.post(url, data=data)
    assert refused.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', refused.text, re.S).group(0)
    assert f'href="#colleagues-0-{workshop}-0"' in summary
    assert "Kollega 1: Hvilken workshop?: Velg et svar." in text(summary)
    kept = refused.text
    assert checked(kept, workshop) == [str(ids["flom"])]
    assert checked(kept, f"question_{ids['meals']}") == [str(ids["lunsj"]), str(ids["middag"])]
    assert checked(kept, f"colleagues-0-question_{ids['meals']}") == [str(ids["middag"])]
    assert f'value="{SECRET}"' in kept
    assert (f'aria-describedby="colleagues-0-{workshop}-hint colleagues-0-{workshop}-error"'
            in kept)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Registration)) == 0

    data["csrf_token"] = csrf_token(kept)
    data[f"colleagues-0-{workshop}"] = str(ids["skred"])
    assert client.post(url, data=data).status_code == 303
    assert answers_by_email(app) == {
        "kari@example.no": {"Hvilken workshop?": "Flom", "Hvilke måltider?": "Lunsj, Middag",
                            "Noe annet?": SECRET},
        "ola@example.no": {"Hvilken workshop?": "Skred", "Hvilke måltider?": "Middag",
                           "Noe annet?": ""},
    }


def test_a_required_question_is_not_asked_of_an_empty_colleague_row(app, client, make_gathering):
    ids = setup_questions(app, make_gathering)
    url = f"/samlinger/{ids['slug']}"
    page = client.get(url)
    response = client.post(url, data={
        "csrf_token": csrf_token(page.text), **form_data(),
        f"question_{ids['workshop']}": str(ids["flom"]),
        "colleagues-0-name": "", "colleagues-0-email": ""})
    assert response.status_code == 303
    assert list(answers_by_email(app)) == ["kari@example.no"]


def test_a_choice_from_elsewhere_is_refused_and_nothing_is_stored(app, client, make_gathering):
    ids = setup_questions(app, make_gathering)
    other = setup_questions(app, make_gathering)
    url = f"/samlinger/{ids['slug']}"
    page = client.get(url)
    response = client.post(url, data={
        "csrf_token": csrf_token(page.text), **form_data(),
        f"question_{ids['workshop']}": str(other["flom"])})
    assert response.status_code == 422
    assert "Velg blant svarene som står der." in text(response.text)
    assert answers_by_email(app) == {}


def test_an_address_already_registered_keeps_its_answers(app, client, make_gathering):
    ids = setup_questions(app, make_gathering)
    url = f"/samlinger/{ids['slug']}"
    for choice in ("flom", "skred"):
        page = client.get(url)
        assert client.post(url, data={"csrf_token": csrf_token(page.text), **form_data(),
                                      f"question_{ids['workshop']}": str(ids[choice])}
                           ).status_code == 303
    assert answers_by_email(app)["kari@example.no"]["Hvilken workshop?"] == "Flom"


def test_the_person_changes_their_answers_on_the_manage_page(app, client, make_gathering):
    ids = setup_questions(app, make_gathering)
    with app.app_context():
        registration = rsvp.register(db.session.get(gatherings.Gathering, ids["gathering"]),
                                     registration_request(1), now=NOW)[0].registration
        questions.save_answers(registration, {ids["workshop"]: [ids["flom"]],
                                              ids["other"]: "Vegetar"}, now=NOW)
        db.session.commit()
        token = registration.token
    url = f"/pamelding/{token}/endre"
    page = client.get(url)
    assert page.status_code == 200
    assert checked(page.text, f"question_{ids['workshop']}") == [str(ids["flom"])]
    assert 'value="Vegetar"' in page.text
    fields = {"csrf_token": csrf_token(page.text), "name": "Deltaker 1", "job_title": "Rådgiver",
              "organisation": "Bergen kommune", "sector": "offentlig", "org_number": "",
              "needs": "", f"question_{ids['workshop']}": str(ids["skred"]),
              f"question_{ids['meals']}": str(ids["lunsj"]), f"question_{ids['other']}": ""}
    response = client.post(url, data=fields)
    assert response.status_code == 303
    assert answers_by_email(app)["deltaker1@example.no"] == {
        "Hvilken workshop?": "Skred", "Hvilke måltider?": "Lunsj", "Noe annet?": ""}
    assert "Hvilken workshop? Skred Hvilke måltider? Lunsj" in text(
        client.get(f"/pamelding/{token}").text)
    with app.app_context():
        events = [e.kind for e in db.session.get(Registration, registration.id).events]
        assert events[-1] == "answers_changed"
    fields[f"question_{ids['workshop']}"] = ""
    refused = client.post(url, data={**fields, "csrf_token": csrf_token(client.get(url).text)})
    assert refused.status_code == 422
    assert "Hvilken workshop?: Velg et svar." in text(refused.text)


def test_the_organiser_answers_for_someone_registered_on_their_behalf(app, organiser_client,
                                                                      make_gathering):
    ids = setup_questions(app, make_gathering)
    url = f"/arrangor/samlinger/{ids['gathering']}/pameldinger/ny"
    page = organiser_client.get(url)
    assert f'name="question_{ids["workshop"]}"' in page.text
    response = organiser_client.post(url, data={
        "csrf_token": csrf_token(page.text), **form_data(),
        f"question_{ids['workshop']}": str(ids["skred"])})
    assert response.status_code == 303
    assert answers_by_email(app)["kari@example.no"]["Hvilken workshop?"] == "Skred"


def test_the_organiser_changes_someones_answers_audited(app, organiser_client, make_gathering):
    ids = setup_questions(app, make_gathering)
    with app.app_context():
        registration = rsvp.register(db.session.get(gatherings.Gathering, ids["gathering"]),
                                     registration_request(1), now=NOW)[0].registration
        questions.save_answers(registration, {ids["workshop"]: [ids["flom"]]}, now=NOW)
        db.session.commit()
        registration_id = registration.id
    url = f"/arrangor/pameldinger/{registration_id}/endre"
    page = organiser_client.get(url)
    assert checked(page.text, f"question_{ids['workshop']}") == [str(ids["flom"])]
    response = organiser_client.post(url, data={
        "csrf_token": csrf_token(page.text), "name": "Deltaker 1",
        "email": "deltaker1@example.no", "job_title": "Rådgiver",
        "organisation": "Bergen kommune", "sector": "offentlig", "org_number": "", "needs": "",
        f"question_{ids['workshop']}": str(ids["skred"])})
    assert response.status_code == 303
    assert answers_by_email(app)["deltaker1@example.no"]["Hvilken workshop?"] == "Skred"
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(
            AuditEntry.summary_code == "registration_answers_changed"))
        assert shown(entry, "summary") == \
            "Endret svarene på spørsmålene for Deltaker 1 (deltaker1@example.no)."


# --- what organisers see ----------------------------------------------------------------------


def register_three(app, ids):
    with app.app_context():
        gathering = db.session.get(gatherings.Gathering, ids["gathering"])
        people = []
        for n, (workshop, meals, other) in enumerate([
                ("flom", ["lunsj"], "=HYPERLINK(\"http://x\")"),
                ("skred", ["lunsj", "middag"], ""),
                ("skred", [], "+47 Vegetar")], start=1):
            registration = rsvp.register(gathering, registration_request(n), now=NOW)[0].registration
            questions.save_answers(registration, {
                ids["workshop"]: [ids[workshop]], ids["meals"]: [ids[m] for m in meals],
                ids["other"]: other}, now=NOW)
            people.append(registration.id)
        db.session.commit()
        return people


def test_the_list_shows_and_filters_by_answer_and_the_detail_shows_them(app, organiser_client,
                                                                        make_gathering):
    ids = setup_questions(app, make_gathering)
    _first, second, _third = register_three(app, ids)
    base = f"/arrangor/samlinger/{ids['gathering']}/pameldinger"
    listed = organiser_client.get(base)
    assert "Hvilke måltider?: Lunsj, Middag" in text(listed.text)
    skred = organiser_client.get(f"{base}?svar={ids['workshop']}:{ids['skred']}")
    assert "2 påmeldinger passer med søket." in text(skred.text)
    assert "Deltaker 1" not in text(skred.text) and "Deltaker 3" in text(skred.text)
    assert re.search(rf'pameldinger\.csv\?svar={ids["workshop"]}(%3A|:){ids["skred"]}',
                     skred.text)  # the downloads keep the filter
    answered = organiser_client.get(f"{base}?svar={ids['other']}")
    assert "2 påmeldinger passer med søket." in text(answered.text)
    assert organiser_client.get(f"{base}?svar=x:y").status_code == 200  # ignored, no 500

    detail = organiser_client.get(f"/arrangor/pameldinger/{second}")
    assert "Hvilken workshop? Skred" in text(detail.text)
    assert "Noe annet? Ikke svart" in text(detail.text)

    overview = organiser_client.get(f"/arrangor/samlinger/{ids['gathering']}")
    counts = text(overview.text)
    assert "Hvilken workshop? (3 har svart) Svar Antall Flom 1 Skred 2" in counts
    assert "Hvilke måltider? (2 har svart) Svar Antall Lunsj 2 Middag 1" in counts


def test_downloads_have_a_column_per_question_and_are_formula_safe(app, organiser_client,
                                                                   make_gathering):
    ids = setup_questions(app, make_gathering)
    register_three(app, ids)
    base = f"/arrangor/samlinger/{ids['gathering']}/pameldinger"
    rows = list(csv.reader(io.StringIO(
        organiser_client.get(f"{base}.csv").data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][-3:] == ["Hvilken workshop?", "Hvilke måltider?", "Noe annet?"]
    assert [row[-3:] for row in rows[1:]] == [
        ["Flom", "Lunsj", "'=HYPERLINK(\"http://x\")"],
        ["Skred", "Lunsj, Middag", ""],
        ["Skred", "", "'+47 Vegetar"],
    ]
    only_flom = organiser_client.get(f"{base}.csv?svar={ids['workshop']}:{ids['flom']}")
    assert only_flom.data.decode("utf-8-sig").count("\r\n") == 2
    sheet = openpyxl.load_workbook(io.BytesIO(organiser_client.get(f"{base}.xlsx").data)).active
    assert [c.value for c in sheet[1]][-3:] == ["Hvilken workshop?", "Hvilke måltider?",
                                               "Noe annet?"]
    assert sheet.cell(2, sheet.max_column).value == "'=HYPERLINK(\"http://x\")"
    assert sheet.cell(2, sheet.max_column).data_type == "s"


# --- the person's data, erasure and the purge -------------------------------------------------


def test_the_data_export_has_the_answers(app, client, make_gathering):
    ids = setup_questions(app, make_gathering)
    first, *_ = register_three(app, ids)
    with app.app_context():
        token = db.session.get(Registration, first).token
    exported = json.loads(client.get(f"/pamelding/{token}/mine-data.json").data)
    assert exported["svar_på_spørsmål"] == [
        {"spørsmål": "Hvilken workshop?", "svar": "Flom"},
        {"spørsmål": "Hvilke måltider?", "svar": "Lunsj"},
        {"spørsmål": "Noe annet?", "svar": "=HYPERLINK(\"http://x\")"},
    ]


def test_erasure_leaves_no_answer_and_takes_the_person_out_of_others_answers(app, client,
                                                                            make_gathering):
    ids = setup_questions(app, make_gathering)
    with app.app_context():
        gathering = db.session.get(gatherings.Gathering, ids["gathering"])
        her = rsvp.register(gathering, registration_request(1), now=NOW)[0].registration
        other = rsvp.register(gathering, registration_request(2), now=NOW)[0].registration
        questions.save_answers(her, {ids["other"]: SECRET, ids["workshop"]: [ids["flom"]]},
                               now=NOW)
        questions.save_answers(other, {ids["other"]: "Vil sitte ved Deltaker 1"}, now=NOW)
        db.session.commit()
        token, her_id = her.token, her.id
    page = client.get(f"/pamelding/{token}/slett")
    assert client.post(f"/pamelding/{token}/slett", data={
        "csrf_token": csrf_token(page.text), "confirm": "y"}).status_code in (302, 303)
    with app.app_context():
        assert scan(Traced(SECRET, "qq9f3xz@qq9f3xz.invalid", name_parts=False)) == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)
                                 .where(Answer.registration_id == her_id)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AnswerChoice)) == 0
        assert db.session.scalar(sa.select(Answer.text)) == \
            f"Vil sitte ved {privacy.pseudonym(her_id)}"


def test_the_purge_deletes_the_answers_of_old_gatherings_only(app, ctx, make_gathering):
    old = make_gathering()
    recent = make_gathering(starts_at=NOW + timedelta(days=300))
    for gathering, n in ((old, 1), (recent, 2)):
        question = ask(gathering, QuestionKind.SHORT_TEXT, "Noe annet?")
        registration = rsvp.register(gathering, registration_request(n), now=NOW)[0].registration
        questions.save_answers(registration, {question.id: f"{SECRET} {n}"}, now=NOW)
    db.session.commit()
    privacy.purge_personal_data(now=old.ends_at + timedelta(days=366))
    db.session.commit()
    assert scan(Traced(f"{SECRET} 1", "qq9f3xz@qq9f3xz.invalid", name_parts=False)) == []
    assert db.session.scalars(sa.select(Answer.text)).all() == [f"{SECRET} 2"]


def test_answers_for_the_api(app, ctx, make_gathering):
    gathering = make_gathering()
    workshop = ask(gathering, QuestionKind.ONE_CHOICE, "Workshop?", "Flom", "Skred")
    night = ask(gathering, QuestionKind.YES_NO, "Overnatting?")
    registration = rsvp.register(gathering, registration_request(1), now=NOW)[0].registration
    questions.save_answers(registration, {workshop.id: [workshop.choices[1].id],
                                          night.id: "no"}, now=NOW)
    assert questions.answers_of(registration) == [("Workshop?", "Skred"), ("Overnatting?", "Nei")]
    assert questions.answers_dict(registration) == [
        {"id": workshop.id, "kind": "one_choice", "question": "Workshop?", "answer": "Skred",
         "choice_ids": [workshop.choices[1].id]},
        {"id": night.id, "kind": "yes_no", "question": "Overnatting?", "answer": "Nei",
         "choice_ids": []},
    ]
