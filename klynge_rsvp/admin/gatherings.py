"""Organisers' pages for gatherings: the list, one gathering, create, edit, preview, publish,
and links to material afterwards."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from .. import gatherings, participation, rsvp
from ..clock import local_zone, utcnow
from ..errors import DomainError
from ..extensions import db
from ..links import absolute_url
from ..models import Gathering, GatheringLink, GatheringStatus
from ..public.forms import MAX_COLLEAGUES, RegistrationForm
from . import bp
from .gathering_forms import FORMAT_SUGGESTIONS, GatheringForm, MaterialLinkForm


def get_gathering_or_404(gathering_id: int) -> Gathering:
    """The gathering with this id, or 404."""
    return db.session.get(Gathering, gathering_id) or abort(404)


def me():
    """The organiser making the request (the object itself, not Flask-Login's proxy)."""
    return current_user._get_current_object()


def zone():
    """The zone organisers type and read times in."""
    return local_zone(current_app.config["KLYNGE_TIMEZONE"])


@bp.get("/samlinger", endpoint="gatherings")
def list_gatherings():
    """Every gathering, drafts too, with its status and counts."""
    now = utcnow()
    current, past = gatherings.for_admin(now)
    return render_template("admin/gatherings/index.html", current=current, past=past, now=now,
                           counts=gatherings.registration_counts())


@bp.get("/samlinger/<int:gathering_id>", endpoint="gathering")
def show_gathering(gathering_id):
    """One gathering: its facts, counts, and everything an organiser can do with it."""
    return _gathering_page(get_gathering_or_404(gathering_id), MaterialLinkForm())


def _gathering_page(gathering, link_form, status=200):
    now = utcnow()
    return render_template(
        "admin/gatherings/show.html", gathering=gathering, now=now, link_form=link_form,
        counts=gatherings.counts(gathering), seats_left=rsvp.seats_left(gathering),
        modes=participation.counts_by_mode(gathering) if participation.asks_mode(gathering) else {},
        just_published=request.args.get("publisert") == "1",
        public_url=absolute_url("public.gathering", slug=gathering.slug),
    ), status


@bp.route("/samlinger/ny", methods=["GET", "POST"], endpoint="gathering_new")
def new_gathering():
    """Create a draft."""
    form = GatheringForm(zone=zone(), data={"reminder_days_before": 2}
                         if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            gathering = gatherings.create_draft(form.changes(), now=utcnow(), by=me())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Utkastet er lagret. Se det i forhåndsvisningen, og publiser når du er klar."),
                  "success")
            return redirect(url_for(".gathering", gathering_id=gathering.id), 303)
    return _form_page(form, None)


@bp.route("/samlinger/<int:gathering_id>/endre", methods=["GET", "POST"], endpoint="gathering_edit")
def edit_gathering(gathering_id):
    """Edit a gathering; once published, its time and place are changed by a move instead."""
    gathering = get_gathering_or_404(gathering_id)
    form = GatheringForm(zone=zone(), gathering=gathering,
                         data=GatheringForm.data_from(gathering, zone())
                         if request.method == "GET" else None)
    capacity_warning = None
    if form.validate_on_submit():
        try:
            promoted = gatherings.update(
                gathering, form.changes(), now=utcnow(), by=me(),
                allow_capacity_below_confirmed=form.confirm_capacity.data,
            )
        except gatherings.CapacityBelowConfirmed as error:
            db.session.rollback()
            capacity_warning = str(error)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            message = _("Endringene er lagret.")
            if promoted:
                message += " " + ngettext(
                    "%(num)s fikk plass fra ventelisten og har fått e-post om det: %(names)s.",
                    "%(num)s fikk plass fra ventelisten og har fått e-post om det: %(names)s.",
                    len(promoted), names=", ".join(r.name for r in promoted))
            flash(message, "success")
            return redirect(url_for(".gathering", gathering_id=gathering.id), 303)
    return _form_page(form, gathering, capacity_warning=capacity_warning)


def _form_page(form, gathering, *, capacity_warning=None):
    status = 409 if capacity_warning else 422 if (form.errors or form.form_errors) else 200
    return render_template("admin/gatherings/form.html", form=form, gathering=gathering,
                           capacity_warning=capacity_warning, formats=FORMAT_SUGGESTIONS), status


@bp.get("/samlinger/<int:gathering_id>/forhandsvisning", endpoint="gathering_preview")
def preview_gathering(gathering_id):
    """The public page as it will look once the gathering is published."""
    gathering = get_gathering_or_404(gathering_id)
    now = utcnow()
    would_be_open = (gathering.status in (GatheringStatus.DRAFT, GatheringStatus.PUBLISHED)
                     and gathering.starts_at > now
                     and (gathering.registration_deadline is None
                          or now < gathering.registration_deadline))
    return render_template(
        "admin/gatherings/preview.html", gathering=gathering, form=RegistrationForm(), now=now,
        registration_open=would_be_open, seats_left=rsvp.seats_left(gathering),
        focus_colleague=False, max_colleagues=MAX_COLLEAGUES,
    )


@bp.post("/samlinger/<int:gathering_id>/publiser", endpoint="gathering_publish")
def publish_gathering(gathering_id):
    """Publish a draft: it appears on the public site and takes registrations."""
    gathering = get_gathering_or_404(gathering_id)
    try:
        published = gatherings.publish(gathering, now=utcnow(), by=me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".gathering", gathering_id=gathering.id), 303)
    db.session.commit()
    if not published:
        flash(_("Samlingen var allerede publisert."), "info")
        return redirect(url_for(".gathering", gathering_id=gathering.id), 303)
    flash(_("Samlingen er publisert og åpen for påmelding."), "success")
    return redirect(url_for(".gathering", gathering_id=gathering.id, publisert=1), 303)


@bp.post("/samlinger/<int:gathering_id>/kopier", endpoint="gathering_copy")
def copy_gathering(gathering_id):
    """A new draft like this gathering, opened in the edit form to give it its own date."""
    copied = gatherings.copy(get_gathering_or_404(gathering_id), now=utcnow(), by=me())
    db.session.commit()
    flash(_("Dette er en kopi, lagret som utkast. Påmeldinger, e-post og materiale er ikke "
            "med. Sett dato og tid (forslaget er samme ukedag og klokkeslett), se over resten, og "
            "lagre."), "success")
    return redirect(url_for(".gathering_edit", gathering_id=copied.id), 303)


@bp.post("/samlinger/<int:gathering_id>/materiale", endpoint="gathering_link_add")
def add_material(gathering_id):
    """Add a link to a recording, slides or other material."""
    gathering = get_gathering_or_404(gathering_id)
    form = MaterialLinkForm()
    if form.validate_on_submit():
        try:
            gatherings.add_link(gathering, label=form.label.data, url=form.url.data, now=utcnow(),
                                by=me())
        except DomainError as error:
            db.session.rollback()
            form.url.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Lenken «%(label)s» er lagt til på samlingens side.", label=form.label.data), "success")
            return redirect(url_for(".gathering", gathering_id=gathering.id, _anchor="materiale"), 303)
    return _gathering_page(gathering, form, status=422)


@bp.post("/samlinger/<int:gathering_id>/materiale/<int:link_id>/fjern",
         endpoint="gathering_link_remove")
def remove_material(gathering_id, link_id):
    """Remove a material link."""
    link = db.session.get(GatheringLink, link_id)
    if link is None or link.gathering_id != gathering_id:
        abort(404)
    label = link.label
    gatherings.remove_link(link, now=utcnow(), by=me())
    db.session.commit()
    flash(_("Lenken «%(label)s» er fjernet.", label=label), "success")
    return redirect(url_for(".gathering", gathering_id=gathering_id, _anchor="materiale"), 303)
