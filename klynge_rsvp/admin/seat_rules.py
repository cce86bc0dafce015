"""Organisers' page for a gathering's fair-seat rules (issue 16): a cap per organisation and
seats held for a sector until a date (docs/decisions/0033). The rules themselves are in
klynge_rsvp/seat_rules.py."""

from __future__ import annotations

from datetime import datetime, time

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField
from wtforms.validators import NumberRange, Optional

from .. import seat_rule_changes, seat_rules
from ..clock import from_local, to_local, utcnow
from ..errors import DomainError
from ..extensions import db
from ..labels import SECTOR_LABELS
from ..models import Sector
from . import bp
from .gathering_forms import NorwegianDateField, WholeNumberField
from .gatherings import get_gathering_or_404, me, zone


def _seats(label):
    return WholeNumberField(
        label, validators=[Optional(), NumberRange(min=1, max=100000, message=_l(
            "Skriv et helt tall fra 1 og oppover, eller la feltet stå tomt."))],
        render_kw={"inputmode": "numeric", "min": 1})


class SeatRulesForm(FlaskForm):
    """The cap and one optional hold per sector (seats and the date they are held until)."""

    organisation_cap = _seats(_l("Høyst antall plasser per virksomhet (valgfritt)"))
    submit = SubmitField(_l("Lagre plassreglene"))

    def hold_fields(self):
        """(sector, seats field, until field) for each sector, in the sectors' order."""
        return [(sector, self[f"seats_{sector.value}"], self[f"until_{sector.value}"])
                for sector in Sector]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for sector, seats, until in self.hold_fields():
            group = SECTOR_LABELS[sector]
            if seats.data is not None and until.data is None and not until.errors:
                until.errors = [_("Skriv datoen plassene for %(sector)s holdes av til.",
                                  sector=str(group).lower())]
                valid = False
            if until.data is not None and seats.data is None and not seats.errors:
                seats.errors = [_("Skriv hvor mange plasser som holdes av for %(sector)s.",
                                  sector=str(group).lower())]
                valid = False
        return valid

    @classmethod
    def data_from(cls, rules: seat_rules.Rules, zone) -> dict:
        data = {"organisation_cap": rules.organisation_cap}
        for hold in rules.holds:
            data[f"seats_{hold.sector.value}"] = hold.seats
            data[f"until_{hold.sector.value}"] = to_local(hold.until, zone).date()
        return data

    def change(self, zone) -> seat_rule_changes.Change:
        """What was typed; a hold lasts until the start (00.00) of the date typed."""
        holds = tuple(
            seat_rules.Hold(sector, seats.data, from_local(datetime.combine(until.data, time()), zone))
            for sector, seats, until in self.hold_fields() if seats.data is not None)
        return seat_rule_changes.Change(self.organisation_cap.data, holds)


for _sector in Sector:
    setattr(SeatRulesForm, f"seats_{_sector.value}",
            _seats(_l("Plasser holdt av for %(sector)s", sector=SECTOR_LABELS[_sector])))
    setattr(SeatRulesForm, f"until_{_sector.value}",
            NorwegianDateField(_l("Holdes av til (dato) for %(sector)s",
                                  sector=SECTOR_LABELS[_sector]), validators=[Optional()]))
del _sector


@bp.route("/samlinger/<int:gathering_id>/plassregler", methods=["GET", "POST"],
          endpoint="seat_rules")
def edit_seat_rules(gathering_id):
    """The cap per organisation and the seats held per sector; saved rules apply at once."""
    gathering = get_gathering_or_404(gathering_id)
    now = utcnow()
    rules = seat_rules.rules_of(gathering)
    form = SeatRulesForm(data=SeatRulesForm.data_from(rules, zone())
                         if request.method == "GET" else None)
    status = 200
    if form.validate_on_submit():
        try:
            promoted = seat_rule_changes.change(gathering, form.change(zone()), now=now, by=me())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            message = _("Plassreglene er lagret.")
            if promoted:
                message += " " + _("Fikk plass fra ventelisten: %(names)s.",
                                   names=", ".join(r.name for r in promoted))
            flash(message, "success")
            return redirect(url_for(".seat_rules", gathering_id=gathering.id), 303)
        status = 422
    elif form.is_submitted():
        status = 422
    return render_template("admin/seat_rules/index.html", gathering=gathering, form=form,
                           rules=rules, open_holds=[seat_rules.held_text(hold, left) for hold, left
                                                   in seat_rules.open_holds(gathering, now=now)],
                           now=now), status
