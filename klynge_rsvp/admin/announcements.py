"""Announcements: write, preview as it will arrive, send, and watch the sending."""


import sqlalchemy as sa
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from .. import announcements
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import normalise_newlines, plain_text, single_line, strip
from ..formatting import local
from ..labels import AUDIENCE_LABELS
from ..mail.parts import read as read_mail
from ..models import Announcement, Audience, Gathering, GatheringStatus
from ..security import sandboxed_html
from . import bp

PAGE_SIZE = 25


class AnnouncementForm(FlaskForm):
    """Subject and text, for which gathering, to whom."""

    gathering = SelectField(_l("Samling"), coerce=int,
                            validators=[InputRequired(_l("Velg samlingen kunngjøringen gjelder."))])
    audience = RadioField(
        _l("Mottakere"),
        choices=[SelectChoice(a.value, label) for a, label in AUDIENCE_LABELS.items()],
        validators=[InputRequired(_l("Velg hvem kunngjøringen skal til."))],
    )
    subject = StringField(_l("Emne"), filters=[strip], validators=[
        DataRequired(_l("Skriv et emne.")), Length(max=200, message=_l("Emnet er for langt.")),
        single_line])
    body = TextAreaField(_l("Tekst"), filters=[normalise_newlines], validators=[
        DataRequired(_l("Skriv teksten i kunngjøringen.")),
        Length(max=20000, message=_l("Teksten er for lang.")), plain_text],
        render_kw={"rows": 12})
    submit = SubmitField(_l("Lagre og forhåndsvis"))

    def fill_choices(self) -> None:
        gatherings = db.session.scalars(
            sa.select(Gathering).where(Gathering.status != GatheringStatus.DRAFT)
            .order_by(Gathering.starts_at.desc())
        )
        self.gathering.choices = [SelectChoice(g.id, f"{g.title} ({local(g.starts_at):%d.%m.%Y})")
                                  for g in gatherings]


class SendForm(FlaskForm):
    """The one button that sends."""

    submit = SubmitField(_l("Send"))


def get_announcement_or_404(announcement_id: int) -> Announcement:
    """The announcement, or 404."""
    return db.session.get(Announcement, announcement_id) or abort(404)


@bp.get("/kunngjoringer", endpoint="announcements")
def announcements_index():
    """Every announcement, newest first, with how far its sending has come."""
    page = db.paginate(announcements.listing(), page=request.args.get("side", 1, type=int),
                       per_page=PAGE_SIZE, error_out=False)
    progress = announcements.progress_of([a.id for a in page.items])
    return render_template("admin/announcements/index.html", page=page, progress=progress,
                           labels=AUDIENCE_LABELS)


@bp.route("/kunngjoringer/ny", methods=["GET", "POST"])
def new_announcement():
    """Write an announcement; ?samling=<id>&mottakere=mailing_list starts one for the list."""
    form = AnnouncementForm()
    form.fill_choices()
    if request.method == "GET":
        _prefill(form)
    if form.validate_on_submit() and (saved := _saved(form, lambda: announcements.create(
            **_details(form), by=current_user._get_current_object(), now=utcnow()))):
        return saved
    return render_template("admin/announcements/form.html", form=form, announcement=None), \
        422 if form.errors or form.form_errors else 200


def _details(form: AnnouncementForm) -> dict:
    return {"gathering": db.session.get(Gathering, form.gathering.data),
            "audience": Audience(form.audience.data), "subject": form.subject.data,
            "body": form.body.data}


def _saved(form: AnnouncementForm, save):
    """Run `save` (a service call that returns the announcement) and show the announcement; on
    a DomainError nothing is kept and the form says why (None)."""
    try:
        announcement = save()
    except DomainError as error:
        db.session.rollback()
        form.form_errors.append(str(error))
        return None
    db.session.commit()
    return redirect(url_for(".announcement", announcement_id=announcement.id), 303)


def _prefill(form: AnnouncementForm) -> None:
    gathering = db.session.get(Gathering, request.args.get("samling", 0, type=int))
    audience = request.args.get("mottakere", "")
    if gathering is not None:
        form.gathering.data = gathering.id
    if audience in {a.value for a in Audience}:
        form.audience.data = audience
    if gathering is not None and audience == Audience.MAILING_LIST:
        form.subject.data, form.body.data = announcements.suggested_text(gathering)


@bp.route("/kunngjoringer/<int:announcement_id>/endre", methods=["GET", "POST"])
def edit_announcement(announcement_id):
    """Change a draft before it is sent."""
    announcement = get_announcement_or_404(announcement_id)
    if announcement.queued_at is not None:
        flash(_("Kunngjøringen er sendt og kan ikke endres."), "error")
        return redirect(url_for(".announcement", announcement_id=announcement.id), 303)
    form = AnnouncementForm()
    form.fill_choices()
    if request.method == "GET":
        form.gathering.data = announcement.gathering_id
        form.audience.data = announcement.audience.value
        form.subject.data, form.body.data = announcement.subject, announcement.body
    if form.validate_on_submit() and (saved := _saved(form, lambda: announcements.update(
            announcement, **_details(form)))):
        return saved
    return render_template("admin/announcements/form.html", form=form,
                           announcement=announcement), \
        422 if form.errors or form.form_errors else 200


@bp.get("/kunngjoringer/<int:announcement_id>")
def announcement(announcement_id):
    """The announcement as it will arrive, the button that sends it, then its progress."""
    announcement = get_announcement_or_404(announcement_id)
    sent = announcement.queued_at is not None
    preview = announcements.preview(announcement, now=utcnow())
    parts = read_mail(preview[0].message) if preview else None
    return render_template(
        "admin/announcements/show.html", announcement=announcement, sent=sent,
        parts=parts, made_up=preview[1] if preview else False,
        labels=AUDIENCE_LABELS, form=SendForm(),
        progress=announcements.progress(announcement) if sent else None,
        recipient_count=announcement.recipient_count if sent else
        announcements.recipient_count(announcement.gathering, announcement.audience),
    )


@bp.get("/kunngjoringer/<int:announcement_id>/forhandsvisning")
def announcement_preview_html(announcement_id):
    """The HTML part of the preview alone, for the sandboxed frame."""
    preview = announcements.preview(get_announcement_or_404(announcement_id), now=utcnow())
    if preview is None:
        abort(404)
    return sandboxed_html(read_mail(preview[0].message)["html"])


@bp.post("/kunngjoringer/<int:announcement_id>/send")
def send_announcement(announcement_id):
    """Queue the announcement for every recipient; a second click sends nothing more."""
    announcement = get_announcement_or_404(announcement_id)
    if not SendForm().validate_on_submit():
        abort(400)
    try:
        queued = announcements.send(announcement, by=current_user._get_current_object(),
                                    now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()  # the announcement and every copy of it commit together
        if queued:
            flash(ngettext("Kunngjøringen er lagt i køen for %(num)s mottaker.",
                           "Kunngjøringen er lagt i køen for %(num)s mottakere.", queued), "success")
        else:
            flash(_("Kunngjøringen var allerede sendt. Ingen fikk den to ganger."), "info")
    return redirect(url_for(".announcement", announcement_id=announcement.id), 303)


@bp.get("/kunngjoringer/<int:announcement_id>/framdrift.json")
def announcement_progress(announcement_id):
    """How many copies wait, went out and failed (polled by the announcement page)."""
    progress = announcements.progress(get_announcement_or_404(announcement_id))
    response = jsonify(progress.as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response
