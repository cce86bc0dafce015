"""Organisers' pages for a gathering's programme: the list of items, add, change, remove.

Times are typed as wall time on the gathering's day (or a day of it, when it runs over several)
and stored in UTC; an item must lie within the gathering's time.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField
from wtforms.validators import InputRequired, Optional, ValidationError

from .. import programme
from ..clock import ambiguity, from_local, to_local, utcnow
from ..errors import DomainError
from ..extensions import db
from ..models import ProgrammeItem
from . import bp
from .gathering_forms import NorwegianDateField, NorwegianTimeField, _text
from .gatherings import get_gathering_or_404, me, zone


class ProgrammeItemForm(FlaskForm):
    """One item of the programme."""

    day = NorwegianDateField(_l("Dag"), validators=[Optional()])
    starts = NorwegianTimeField(_l("Starter kl."),
                                validators=[InputRequired(_l("Skriv når punktet starter."))])
    ends = NorwegianTimeField(_l("Slutter kl. (valgfritt)"), validators=[Optional()])
    title = _text(_l("Tittel"), max_length=200,
                  required_message=_l("Skriv en tittel, for eksempel «Innledning»."))
    speakers = _text(_l("Innledere (valgfritt)"), max_length=300)
    organisation = _text(_l("Innledernes organisasjon (valgfritt)"), max_length=200)
    submit = SubmitField(_l("Lagre punktet"))

    def validate_ends(self, field):
        if field.data is not None and self.starts.data is not None \
                and field.data <= self.starts.data:
            raise ValidationError(_("Sluttiden må være etter starttiden."))

    @classmethod
    def data_from(cls, item: ProgrammeItem, zone) -> dict:
        starts = to_local(item.starts_at, zone)
        return {"day": starts.date(), "starts": starts.time(),
                "ends": to_local(item.ends_at, zone).time() if item.ends_at else None,
                "title": item.title, "speakers": item.speakers,
                "organisation": item.organisation}

    def details(self, gathering, zone) -> programme.ItemDetails:
        """The typed item with its times in UTC; DomainError for a time the zone skips or repeats."""
        day = self.day.data or to_local(gathering.starts_at, zone).date()
        return programme.ItemDetails(
            starts_at=_instant(day, self.starts.data, zone),
            ends_at=_instant(day, self.ends.data, zone) if self.ends.data else None,
            title=self.title.data, speakers=self.speakers.data or "",
            organisation=self.organisation.data or "")


def _instant(day, clock, zone) -> datetime:
    wall = datetime.combine(day, clock)
    if ambiguity(wall, zone) is not None:
        raise DomainError(_("Klokka stilles om natten til denne dagen, så %(time)s finnes ikke "
                            "eller finnes to ganger. Velg et annet klokkeslett.",
                            time=clock.strftime("%H.%M")))
    return from_local(wall, zone)


def _multi_day(gathering) -> bool:
    return to_local(gathering.starts_at, zone()).date() != to_local(gathering.ends_at, zone()).date()


def _page(gathering, form, *, item=None, status=200):
    template = "admin/programme/edit.html" if item else "admin/programme/index.html"
    return render_template(template, gathering=gathering, form=form, item=item,
                           multi_day=_multi_day(gathering), now=utcnow()), status


def _item_or_404(gathering_id: int, item_id: int) -> ProgrammeItem:
    item = db.session.get(ProgrammeItem, item_id)
    if item is None or item.gathering_id != gathering_id:
        abort(404)
    return item


@bp.get("/samlinger/<int:gathering_id>/program", endpoint="programme")
def show_programme(gathering_id):
    """The programme, with a form to add an item."""
    return _page(get_gathering_or_404(gathering_id), ProgrammeItemForm())


@bp.post("/samlinger/<int:gathering_id>/program", endpoint="programme_add")
def add_item(gathering_id):
    """Add an item; a refused one comes back with everything typed kept."""
    gathering = get_gathering_or_404(gathering_id)
    form = ProgrammeItemForm()
    if form.validate_on_submit():
        try:
            programme.add_item(gathering, form.details(gathering, zone()), now=utcnow(), by=me())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("«%(title)s» er lagt til i programmet.", title=form.title.data), "success")
            return redirect(url_for(".programme", gathering_id=gathering.id), 303)
    return _page(gathering, form, status=422)


@bp.route("/samlinger/<int:gathering_id>/program/<int:item_id>/endre",
          methods=["GET", "POST"], endpoint="programme_item_edit")
def edit_item(gathering_id, item_id):
    """Change an item."""
    gathering = get_gathering_or_404(gathering_id)
    item = _item_or_404(gathering_id, item_id)
    form = ProgrammeItemForm(data=ProgrammeItemForm.data_from(item, zone())
                             if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            programme.update_item(item, form.details(gathering, zone()), now=utcnow(), by=me())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("«%(title)s» er endret.", title=form.title.data), "success")
            return redirect(url_for(".programme", gathering_id=gathering.id), 303)
    status = 422 if request.method == "POST" else 200
    return _page(gathering, form, item=item, status=status)


@bp.post("/samlinger/<int:gathering_id>/program/<int:item_id>/fjern",
         endpoint="programme_item_remove")
def remove_item(gathering_id, item_id):
    """Remove an item."""
    item = _item_or_404(gathering_id, item_id)
    title = item.title
    programme.remove_item(item, now=utcnow(), by=me())
    db.session.commit()
    flash(_("«%(title)s» er fjernet fra programmet.", title=title), "success")
    return redirect(url_for(".programme", gathering_id=gathering_id), 303)
