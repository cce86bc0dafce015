"""Organisers' pages for the registrations of a gathering: list, add, cancel, promote, history."""

from __future__ import annotations

import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination

from .. import checkin, gatherings, history, participation, questions, rsvp, seat_rules
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..labels import EVENT_LABELS, KIND_LABELS, MAIL_STATUS_LABELS, SECTOR_LABELS, STATUS_LABELS
from ..models import AttendanceMode, Registration, RegistrationStatus, Sector
from ..person_fields import SECTOR_CHOICES
from . import bp
from .gatherings import get_gathering_or_404, me
from .registration_forms import CancelRegistrationForm, EditRegistrationForm, OnBehalfForm

# Rows on one page of the registration list. Writing the table is most of the page's time: all
# 500 registrations of a gathering on one page took twice as long as 100 (about 40 ms against 20),
# too close to the 50 ms a page may take on a small, busy server.
PAGE_SIZE = 100
# What the list shows of each registration, read as plain rows (not whole objects).
LIST_COLUMNS = (Registration.job_title, Registration.status, Registration.created_at,
                Registration.checked_in_at, Registration.needs, Registration.mode)
# The list's query arguments that its links (pages, downloads) carry along.
LIST_ARGS = ("status", "sektor", "q", "svar", "deltakelse")


def get_registration_or_404(registration_id: int) -> Registration:
    """The registration with this id, or 404."""
    return db.session.get(Registration, registration_id) or abort(404)


def filters() -> dict:
    """The list's filters from the query string (unknown values are ignored)."""
    status = request.args.get("status", "")
    sector = request.args.get("sektor", "")
    return {
        "status": RegistrationStatus(status) if status in {s.value for s in RegistrationStatus} else None,
        "sector": Sector(sector) if sector in {s.value for s in Sector} else None,
        "query": request.args.get("q", "").strip()[:200],
        # in the room or online, on a hybrid gathering
        "mode": AttendanceMode(mode) if (mode := request.args.get("deltakelse", ""))
        in {m.value for m in AttendanceMode} else None,
    }


def answer_filter() -> tuple[int, int | str | None] | None:
    """The list's filter by an answer to the organisers' questions ("svar": "12" answered
    question 12, "12:34" chose its choice 34, "12:yes"); None: no such filter."""
    return questions.parse_filter(request.args.get("svar", ""))


def all_filters(gathering) -> dict:
    """filters(), and the answer filter as a select of ids (rsvp.registration_rows' `among`)."""
    wanted = answer_filter()
    return {**filters(),
            "among": None if wanted is None else questions.answering(gathering.id, *wanted)}


def filtered_rows(gathering, columns) -> list:
    """The list's rows (rsvp.registration_rows) with all its filters, the answer one too."""
    return rsvp.registration_rows(gathering.id, columns, **all_filters(gathering))


class Page(Pagination):
    """One page of a list already in memory (sorted and searched in Python, in Norwegian order),
    with the interface of Flask-SQLAlchemy's `db.paginate` pages."""

    def __init__(self, rows: list, number: int | None, per_page: int):
        self._rows = rows
        last_page = max(math.ceil(len(rows) / per_page), 1)
        super().__init__(page=min(max(number or 1, 1), last_page), per_page=per_page,
                         max_per_page=None, error_out=False)

    @classmethod
    def of(cls, rows: list, number: int | None, per_page: int) -> Page:
        """Page `number` of `rows`; a number out of range gives the nearest page there is."""
        return cls(rows, number, per_page)

    def _query_items(self) -> list:
        start = (self.page - 1) * self.per_page
        return self._rows[start:start + self.per_page]

    def _query_count(self) -> int:
        return len(self._rows)

    @property
    def pages(self) -> int:
        return max(super().pages, 1)  # an empty list is one empty page

    def numbers(self, around: int = 2) -> list[int | None]:
        """The page numbers to link to: the first, the last, and `around` on each side of this
        one; None where numbers are left out."""
        shown = sorted({1, self.pages, *range(max(self.page - around, 1),
                                              min(self.page + around, self.pages) + 1)})
        numbers: list[int | None] = []
        for number in shown:
            if numbers and number - numbers[-1] == 2:
                numbers.append(number - 1)  # a gap of one page: its number takes no more room
            elif numbers and number - numbers[-1] > 2:
                numbers.append(None)
            numbers.append(number)
        return numbers


@bp.get("/samlinger/<int:gathering_id>/pameldinger", endpoint="registrations")
def list_registrations(gathering_id):
    """Everyone registered, a page at a time, with counts; filter by status and sector, search."""
    gathering = get_gathering_or_404(gathering_id)
    chosen = filters()
    chosen["answer"] = request.args.get("svar", "") if answer_filter() else ""
    page = Page.of(filtered_rows(gathering, LIST_COLUMNS),
                   request.args.get("side", type=int), PAGE_SIZE)
    asked = questions.questions_of(gathering)
    return render_template(
        "admin/registrations/index.html", gathering=gathering, chosen=chosen, page=page,
        questions=asked,
        answers=questions.answer_table(gathering.id, [row.id for row in page.items]),
        positions=rsvp.waiting_positions(gathering), counts=gatherings.counts(gathering),
        sectors=SECTOR_CHOICES, statuses={value: str(label) for value, label in STATUS_LABELS.items()},
        modes=participation.counts_by_mode(gathering) if participation.asks_mode(gathering) else {},
        list_args={k: v for k, v in request.args.items() if k in LIST_ARGS and v},
    )


@bp.route("/samlinger/<int:gathering_id>/pameldinger/ny", methods=["GET", "POST"],
          endpoint="registration_new")
def new_registration(gathering_id):
    """Register someone on their behalf (also after the deadline, until the gathering ends)."""
    gathering = get_gathering_or_404(gathering_id)
    asked = questions.questions_of(gathering)
    form = questions.with_questions(OnBehalfForm, asked, after="org_number",
                                    colleagues=False)()
    form.asks_mode = participation.asks_mode(gathering)
    if form.validate_on_submit():
        try:
            now = utcnow()
            registration = rsvp.register_on_behalf(gathering, form.to_request(), now=now,
                                                   by=me())
            questions.save_answers(registration, questions.values_from(form, asked), now=now,
                                   questions=asked)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            if registration.status == RegistrationStatus.CONFIRMED:
                done = _("%(name)s er meldt på og har fått plass. Vi har sendt e-post om det.",
                         name=registration.name)
            else:
                done = _("%(name)s er meldt på og står på ventelisten. Vi har sendt e-post om det.",
                         name=registration.name)
            flash(done, "success")
            return redirect(url_for(".registrations", gathering_id=gathering.id), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("admin/registrations/new.html", gathering=gathering, form=form,
                           questions=asked), status


@bp.get("/pameldinger/<int:registration_id>", endpoint="registration")
def show_registration(registration_id):
    """One registration: the person, its full history, and every email sent about it."""
    registration = get_registration_or_404(registration_id)
    return render_template(
        "admin/registrations/show.html", registration=registration,
        gathering=registration.gathering, position=rsvp.waiting_position(registration),
        mails=rsvp.mails_of(registration), seats_left=rsvp.seats_left(registration.gathering),
        now=utcnow(), signed=checkin.sign(registration.id), event_labels=EVENT_LABELS,
        mail_labels=KIND_LABELS, mail_status=MAIL_STATUS_LABELS, sector_labels=SECTOR_LABELS,
        answers=questions.answers_of(registration),
    )


@bp.route("/pameldinger/<int:registration_id>/avmelding", methods=["GET", "POST"],
          endpoint="registration_cancel")
def cancel_registration(registration_id):
    """Cancel a registration, after a confirmation step; a freed seat goes to the waiting list."""
    registration = get_registration_or_404(registration_id)
    form = CancelRegistrationForm()
    if form.validate_on_submit():
        if registration.status == RegistrationStatus.CANCELLED:
            flash(_("%(name)s var allerede meldt av.", name=registration.name), "info")
        else:
            promoted = rsvp.cancel_by_organiser(registration, now=utcnow(), by=me(),
                                                note=form.note.data or "")
            db.session.commit()
            message = _("%(name)s er meldt av og har fått e-post om det.", name=registration.name)
            if promoted:
                message += " " + _("Fikk plass fra ventelisten: %(names)s.",
                                   names=", ".join(r.name for r in promoted))
            flash(message, "success")
        return redirect(url_for(".registration", registration_id=registration.id), 303)
    return render_template("admin/registrations/cancel.html", registration=registration,
                           gathering=registration.gathering, form=form)


@bp.route("/pameldinger/<int:registration_id>/plass", methods=["GET", "POST"],
          endpoint="registration_promote")
def promote_registration(registration_id):
    """Give someone on the waiting list a seat; over the capacity only when confirmed."""
    registration = get_registration_or_404(registration_id)
    problem = None
    if request.method == "POST":
        try:
            rsvp.promote(registration, now=utcnow(), by=me(),
                         over_capacity=request.form.get("over_capacity") == "1",
                         over_rules=request.form.get("over_rules") == "1")
        except rsvp.OverCapacity as error:
            db.session.rollback()
            problem = str(error)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
            return redirect(url_for(".registration", registration_id=registration.id), 303)
        else:
            db.session.commit()
            flash(_("%(name)s har fått plass og har fått e-post med kalenderinvitasjon.",
                    name=registration.name), "success")
            return redirect(url_for(".registration", registration_id=registration.id), 303)
    gathering = registration.gathering
    return render_template(
        "admin/registrations/promote.html", registration=registration, gathering=gathering,
        problem=problem, counts=gatherings.counts(gathering),
        seats_left=rsvp.seats_left(gathering),
        rule_reason=_rule_reason(registration),
    ), 409 if problem else 200


def _rule_reason(registration) -> str:
    """Seat rules (issue 16): why the rules keep this person waiting ("" if they do not, or
    only because the gathering is full)."""
    reason = seat_rules.why_waiting(registration, now=utcnow())
    if reason is None or reason.code == seat_rules.FULL:
        return ""
    return seat_rules.describe_for_organisers(reason)


@bp.post("/pameldinger/<int:registration_id>/ny-lenke", endpoint="registration_renew_link")
def renew_link(registration_id):
    """Revoke the person's manage link and mail them a new one (e.g. it was forwarded)."""
    registration = get_registration_or_404(registration_id)
    rsvp.renew_link(registration, now=utcnow(), by=me())
    history.audit("renew_link", by=me(), now=utcnow(), gathering=registration.gathering,
                  summary=registration.email)
    db.session.commit()
    flash(_("Den gamle lenken virker ikke lenger. %(name)s har fått en ny på e-post.",
            name=registration.name), "success")
    return redirect(url_for(".registration", registration_id=registration.id), 303)


@bp.route("/pameldinger/<int:registration_id>/endre", methods=["GET", "POST"],
          endpoint="registration_edit")
def edit_registration(registration_id):
    """Change the person's details, or correct their address: the invitation goes to the new
    address, a CANCEL to the old, and the old manage link stops working (rsvp.correct_address).
    The mail log's failed mail links here."""
    registration = get_registration_or_404(registration_id)
    if registration.anonymised_at is not None:
        flash(_("Opplysningene i denne påmeldingen er slettet og kan ikke endres."), "error")
        return redirect(url_for(".registration", registration_id=registration.id), 303)
    asked = questions.questions_of(registration.gathering_id)
    form = questions.with_questions(EditRegistrationForm, asked, after="needs",
                                    colleagues=False)()
    if request.method == "GET":
        form.fill_from(registration)
        questions.fill(form, questions.current_values(registration), asked)
    elif form.validate_on_submit():
        now, by = utcnow(), me()
        try:
            changed = rsvp.change_details(registration, form.to_details(), now=now, by=by)
            if asked and questions.change_answers(
                    registration, questions.values_from(form, asked), now=now, by=by):
                changed.append("answers")
            if rsvp.email_key(form.email.data) != registration.email_key:
                rsvp.correct_address(registration, form.email.data, now=now, by=by)
                changed.append("email")
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            if "email" in changed:
                flash(_("Adressen er rettet til %(email)s. Personen har fått e-post dit med ny "
                        "lenke, og den gamle adressen har fått beskjed om at invitasjonen er "
                        "trukket tilbake.", email=registration.email), "success")
            elif changed:
                flash(_("Endringene er lagret."), "success")
            else:
                flash(_("Ingenting var endret, så ingenting er lagret."), "info")
            return redirect(url_for(".registration", registration_id=registration.id), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("admin/registrations/edit.html", registration=registration,
                           gathering=registration.gathering, form=form,
                           questions=asked), status
