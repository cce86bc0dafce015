"""The registration form."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectChoice,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .. import addresses, calendars, person_fields
from ..fields import (
    mail_address,
    no_invisible_characters,
    normalise_newlines,
    plain_text,
    single_line,
    strip,
)
from ..labels import ATTENDANCE_MODE_LABELS
from ..models import AttendanceMode, Sector
from ..rsvp import Person, RegistrationRequest

MAX_COLLEAGUES = 20
SECTOR_CHOICES = person_fields.SECTOR_CHOICES


def mode_field(label):
    """In the room or online: asked only on a hybrid gathering's form (RegistrationForm.asks_mode)."""
    return RadioField(label, choices=[SelectChoice(mode.value, text)
                                      for mode, text in ATTENDANCE_MODE_LABELS.items()],
                      validate_choice=False)


def _chose_a_mode(field) -> bool:
    return field.data in {mode.value for mode in AttendanceMode}


def not_the_organisers(form, field):
    """A registrant's address must not be the one the invitations come from: calendar programs
    would take the invitation for the person's own meeting (ORGANIZER = ATTENDEE)."""
    if field.data and addresses.key(field.data) == addresses.key(calendars.organizer()[1]):
        raise ValidationError(_("Dette er adressen invitasjonene sendes fra. Skriv inn din egen "
                                "e-postadresse."))


def email_validators(required: bool):
    presence = DataRequired(_l("Skriv inn e-postadressen.")) if required else Optional()
    return [
        presence,
        Length(max=254, message=_l("E-postadressen er for lang.")),
        mail_address,
        single_line,
        not_the_organisers,
    ]


class ColleagueForm(Form):
    """One colleague registered along with the person filling in the form."""

    name = StringField(_l("Navn"), filters=[strip],
                       validators=[Optional(), Length(max=200, message=_l("Navnet er for langt.")),
                                   single_line, no_invisible_characters],
                       render_kw={"autocomplete": "off"})
    email = StringField(_l("E-post"), filters=[strip], validators=email_validators(False),
                        render_kw={"autocomplete": "off", "type": "email"})
    job_title = StringField(_l("Stilling"), filters=[strip],
                            validators=[Optional(), Length(max=200, message=_l("Stillingen er for lang.")),
                                        single_line, no_invisible_characters],
                            render_kw={"autocomplete": "off"})

    needs = TextAreaField(
        _l("Behov for tilrettelegging eller hensyn til kosthold (valgfritt)"),
        filters=[normalise_newlines],
        validators=[Optional(), Length(max=1000, message=_l("Teksten kan være høyst 1000 tegn.")),
                    plain_text],
    )
    mode = mode_field(_l("Hvordan deltar kollegaen?"))
    # How the error summary names a field of this row: "Kollega 2: E-post: …".
    row_label = _l("Kollega %(number)s")

    def is_blank(self) -> bool:
        return not (self.name.data or self.email.data or self.job_title.data or self.needs.data)

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.is_blank():
            return ok
        if not self.name.data:
            self.name.errors = [*self.name.errors, _("Skriv inn navnet til kollegaen.")]
            ok = False
        if not self.email.data:
            self.email.errors = [*self.email.errors, _("Skriv inn e-postadressen til kollegaen.")]
            ok = False
        return ok


class RegistrationForm(FlaskForm):
    """Register for a gathering: yourself, and optionally colleagues."""

    name = person_fields.name()
    email = StringField(_l("E-post"), filters=[strip], validators=email_validators(True),
                        render_kw={"autocomplete": "email", "type": "email"})
    job_title = person_fields.job_title()
    needs = person_fields.needs()
    # Suggestions as the person types (organisations.suggestions), a plain field without
    # JavaScript or with a browser that shows no list.
    organisation = person_fields.organisation(list="organisation-suggestions")
    sector = person_fields.sector()
    org_number = person_fields.org_number()
    org_number_confirmed = person_fields.org_number_confirmed()
    colleagues = FieldList(FormField(ColleagueForm), min_entries=0, max_entries=MAX_COLLEAGUES)
    comment = TextAreaField(
        _l("Kommentar til arrangøren (valgfritt)"), filters=[normalise_newlines],
        validators=[Optional(), Length(max=2000, message=_l("Teksten kan være høyst 2000 tegn.")),
                    plain_text],
    )
    # The network's newsletter, unticked: double opt-in as on its own page (mailing_list.py).
    newsletter = BooleanField(_l("Send meg også nyhetsbrevet fra nettverket (valgfritt)"))
    consent = BooleanField(
        _l("Jeg samtykker til at opplysningene lagres slik det er beskrevet over."),
        validators=[DataRequired(_l("Du må samtykke for å melde deg på."))],
    )
    mode = mode_field(_l("Hvordan deltar du?"))
    # Whether the gathering is hybrid, so each person must say how they attend (set by the view).
    asks_mode = False
    add_colleague = SubmitField(_l("Legg til en kollega"))
    # The row a "Fjern" button names (its value is the row's index); no validation runs.
    remove_colleague = StringField()
    submit = SubmitField(_l("Meld meg på"))

    def colleague_to_remove(self) -> int | None:
        """The index of the colleague row whose "Fjern" button was pressed, if one was."""
        value = (self.remove_colleague.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 4 else None

    def remove_colleague_row(self, index: int) -> int | None:
        """Take out the row with that index, keeping what was typed in the others; returns the
        index of the row now in its place (None: it was the last)."""
        rows = self.colleagues.entries
        position = next((n for n, entry in enumerate(rows)
                         if entry.name == f"{self.colleagues.name}-{index}"), None)
        if position is None:
            return None
        rows.pop(position)
        return int(rows[position].name.rsplit("-", 1)[1]) if position < len(rows) else None

    def validate_mode(self, field):
        if self.asks_mode and not _chose_a_mode(field):
            raise ValidationError(_("Velg om du deltar i salen eller digitalt."))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.asks_mode:
            for row in self.filled_colleagues():
                if not _chose_a_mode(row.mode):
                    row.mode.errors = [*row.mode.errors,
                                       _("Velg om kollegaen deltar i salen eller digitalt.")]
                    ok = False
        return ok

    def filled_colleagues(self) -> list[ColleagueForm]:
        return [entry.form for entry in self.colleagues if not entry.form.is_blank()]

    def to_request(self, language: str = "nb") -> RegistrationRequest:
        """The form as a request for the rsvp service."""
        return RegistrationRequest(
            person=Person(self.name.data, self.email.data, self.job_title.data or "",
                          needs=self.needs.data or "", mode=self._mode(self.mode)),
            organisation_name=self.organisation.data,
            sector=Sector(self.sector.data),
            org_number=self.org_number.data or None,
            comment=self.comment.data or "",
            consent=bool(self.consent.data),
            colleagues=[Person(c.name.data, c.email.data, c.job_title.data or "",
                               needs=c.needs.data or "", mode=self._mode(c.mode))
                        for c in self.filled_colleagues()],
            language=language,
        )

    def _mode(self, field) -> str | None:
        return field.data if self.asks_mode and _chose_a_mode(field) else None

    def wants_newsletter(self) -> bool:
        return bool(self.newsletter.data)
