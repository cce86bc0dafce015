"""Forms behind a participant's manage link: change the details, cancel, register again.

The fields are the registration form's (person_fields.py), so a name refused there is refused
here with the same words.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SubmitField

from .. import person_fields
from ..labels import ATTENDANCE_MODE_LABELS
from ..models import Registration, Sector
from ..rsvp import Details


class DetailsForm(FlaskForm):
    """Name, job title, organisation and needs; never the address (a new address is a new
    registration)."""

    name = person_fields.name()
    job_title = person_fields.job_title()
    organisation = person_fields.organisation()
    sector = person_fields.sector()
    org_number = person_fields.org_number()
    org_number_confirmed = person_fields.org_number_confirmed()
    needs = person_fields.needs()
    submit = SubmitField(_l("Lagre endringene"))

    def fill_from(self, registration: Registration) -> None:
        """A GET shows the registration as it stands."""
        self.name.data = registration.name
        self.job_title.data = registration.job_title
        self.organisation.data = registration.organisation.name
        self.sector.data = registration.organisation.sector.value
        self.org_number.data = registration.organisation.org_number or ""
        self.needs.data = registration.needs

    def to_details(self) -> Details:
        return Details(name=self.name.data, job_title=self.job_title.data or "",
                       organisation_name=self.organisation.data, sector=Sector(self.sector.data),
                       org_number=self.org_number.data or None, needs=self.needs.data or "")


class CancelForm(FlaskForm):
    """Cancel my registration: the button on the confirmation page."""

    submit = SubmitField(_l("Ja, meld meg av"))


class RegisterAgainForm(FlaskForm):
    """Register again after cancelling (one button on the manage page)."""

    submit = SubmitField(_l("Meld meg på igjen"))


class ModeForm(FlaskForm):
    """On a hybrid gathering: attend in the room or online (rsvp.switch_mode)."""

    mode = RadioField(_l("Hvordan deltar du?"),
                      choices=[SelectChoice(mode.value, label)
                               for mode, label in ATTENDANCE_MODE_LABELS.items()])
    submit = SubmitField(_l("Lagre"))
