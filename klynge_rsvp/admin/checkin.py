"""Check-in at the door (a phone is enough), the QR code's landing page, and printable lists."""

from collections.abc import Callable

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import checkin, gatherings, rsvp
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..models import Registration, RegistrationStatus
from . import bp
from .gatherings import get_gathering_or_404, me
from .registrations import get_registration_or_404


@bp.get("/samlinger/<int:gathering_id>/innsjekk", endpoint="checkin")
def checkin_list(gathering_id):
    """Everyone with a seat, a search box, and a big button each."""
    gathering = get_gathering_or_404(gathering_id)
    query = request.args.get("q", "").strip()[:200]
    return render_template(
        "admin/checkin/index.html", gathering=gathering, query=query,
        people=rsvp.registrations_of(gathering, status=RegistrationStatus.CONFIRMED, query=query),
        counts=gatherings.counts(gathering),
    )


@bp.get("/innsjekk/<signed>", endpoint="checkin_scan")
def scan(signed):
    """Where a participant's QR code leads: that person, ready to check in with one tap."""
    registration_id = checkin.registration_id_from(signed)
    registration = db.session.get(Registration, registration_id) if registration_id else None
    if registration is None:
        abort(404)
    response = render_template("admin/checkin/scan.html", registration=registration,
                               gathering=registration.gathering, signed=signed, now=utcnow())
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/pameldinger/<int:registration_id>/innsjekk", endpoint="check_in")
def check_in(registration_id):
    """Check someone in (a form post, or fetch from checkin.js)."""
    return _change(get_registration_or_404(registration_id), checkin.check_in,
                   lambda name: _("%(name)s er sjekket inn.", name=name))


@bp.post("/pameldinger/<int:registration_id>/innsjekk/angre", endpoint="check_in_undo")
def undo_check_in(registration_id):
    """Take back a check-in."""
    return _change(get_registration_or_404(registration_id), checkin.undo,
                   lambda name: _("Innsjekkingen av %(name)s er angret.", name=name))


def _wants_json() -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _change(registration: Registration, action, done: Callable[[str], str]):
    try:
        action(registration, now=utcnow(), by=me())
    except DomainError as error:
        db.session.rollback()
        if _wants_json():
            return jsonify(error=str(error)), 409
        flash(str(error), "error")
    else:
        db.session.commit()
        if _wants_json():
            counts = gatherings.counts(registration.gathering)
            return jsonify(
                message=done(registration.name),
                checked_in=registration.checked_in_at is not None,
                attended=counts.attended, confirmed=counts.confirmed,
                row=render_template("admin/checkin/_person.html", person=registration,
                                    query=request.form.get("q", ""), back="list"),
            )
        flash(done(registration.name), "success")
    if request.form.get("back") == "scan":
        return redirect(url_for(".checkin_scan", signed=checkin.sign(registration.id)), 303)
    return redirect(url_for(".checkin", gathering_id=registration.gathering_id,
                            q=request.form.get("q") or None, _anchor=f"p{registration.id}"), 303)


@bp.get("/samlinger/<int:gathering_id>/deltakerliste", endpoint="attendance_list")
def attendance_list(gathering_id):
    """A list to print: name, organisation and a column to sign in."""
    return _printed("admin/checkin/attendance.html", gathering_id)


@bp.get("/samlinger/<int:gathering_id>/navneskilt", endpoint="badges")
def badges(gathering_id):
    """Name badges to print, several to an A4 page."""
    return _printed("admin/checkin/badges.html", gathering_id)


def _printed(template: str, gathering_id: int):
    """A page to print with everyone who has a seat, by name."""
    gathering = get_gathering_or_404(gathering_id)
    return render_template(template, gathering=gathering, people=rsvp.registrations_of(
        gathering, status=RegistrationStatus.CONFIRMED))
