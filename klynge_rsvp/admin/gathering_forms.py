"""The organisers' forms for a gathering: its details, and links to material afterwards."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, StringField, SubmitField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..clock import from_local, to_local
from ..models import Gathering, GatheringStatus
from ..public.forms import _normalise_newlines, _strip, plain_text, single_line

FORMAT_SUGGESTIONS = [_l("Frokostmøte"), _l("Seminar"), _l("Webinar"), _l("Konferanse"), _l("Workshop"),
                      _l("Øvelse")]
# Used when a deadline date is given without a time: the end of that day.
END_OF_DAY = time(23, 59)


class NorwegianDateField(DateField):
    """A date input (type=date) that also accepts 24.02.2026 and says so in Norwegian."""

    def __init__(self, label=None, validators=None, **kw):
        super().__init__(label, validators, format=["%Y-%m-%d", "%d.%m.%Y"], **kw)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_("Skriv datoen som dd.mm.åååå, for eksempel 24.02.2026.")) from error


class NorwegianTimeField(TimeField):
    """A time input (type=time) that also accepts 08.30 and says so in Norwegian."""

    def __init__(self, label=None, validators=None, **kw):
        super().__init__(label, validators, format=["%H:%M", "%H.%M"], **kw)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_("Skriv klokkeslettet som tt.mm, for eksempel 08.30.")) from error


class WholeNumberField(IntegerField):
    """A whole number, with the error in Norwegian."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_("Skriv et helt tall, for eksempel 40.")) from error


def _text(label, *, max_length, required_message=None, **kw):
    presence = InputRequired(required_message) if required_message else Optional()
    too_long = _l("Teksten kan være høyst %(max)s tegn.", max=max_length)
    return StringField(label, filters=[_strip],
                       validators=[presence, Length(max=max_length, message=too_long), single_line], **kw)


class GatheringForm(FlaskForm):
    """Create or edit a gathering. Times are typed as Oslo wall time and stored as UTC."""

    title = _text(_l("Tittel"), max_length=200, required_message=_l("Skriv inn en tittel."))
    format = _text(_l("Type samling"), max_length=40,
                   required_message=_l("Skriv inn hva slags samling det er."),
                   render_kw={"list": "format-suggestions", "autocomplete": "off"})
    theme = _text(_l("Tema (valgfritt)"), max_length=300)
    description = TextAreaField(
        _l("Beskrivelse (valgfritt)"), filters=[_normalise_newlines],
        validators=[Optional(), Length(max=10000, message=_l("Beskrivelsen kan være høyst 10 000 tegn.")),
                    plain_text], render_kw={"rows": 8},
    )
    host = _text(_l("Arrangør (valgfritt)"), max_length=200)
    start_date = NorwegianDateField(_l("Dato"), validators=[InputRequired(_l("Velg datoen samlingen er."))])
    start_time = NorwegianTimeField(_l("Starter kl."),
                                    validators=[InputRequired(_l("Skriv når samlingen starter."))])
    end_time = NorwegianTimeField(_l("Slutter kl."),
                                  validators=[InputRequired(_l("Skriv når samlingen slutter."))])
    end_date = NorwegianDateField(_l("Sluttdato (valgfritt)"), validators=[Optional()])
    venue_name = _text(_l("Sted"), max_length=200, required_message=_l("Skriv hvor samlingen er."))
    venue_address = _text(_l("Adresse (valgfritt)"), max_length=300)
    capacity = WholeNumberField(
        _l("Antall plasser (valgfritt)"),
        validators=[Optional(),
                    NumberRange(min=0, max=100000, message=_l("Antall plasser må være 0 eller mer."))],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    deadline_date = NorwegianDateField(_l("Påmeldingsfrist, dato (valgfritt)"), validators=[Optional()])
    deadline_time = NorwegianTimeField(_l("Påmeldingsfrist, klokkeslett (valgfritt)"),
                                       validators=[Optional()])
    reminder_days_before = WholeNumberField(
        _l("Påminnelse, antall dager før (valgfritt)"),
        validators=[Optional(), NumberRange(min=0, max=60, message=_l("Skriv et tall fra 0 til 60."))],
        render_kw={"inputmode": "numeric", "min": 0, "max": 60},
    )
    confirm_capacity = BooleanField(_l("Ja, sett antall plasser lavere enn antallet som allerede har plass. "
                                       "Ingen mister plassen sin."))
    submit = SubmitField(_l("Lagre"))

    def __init__(self, *args, zone: tzinfo, gathering: Gathering | None = None, **kw):
        """`gathering`: the one being edited; once published, its time and place are locked."""
        super().__init__(*args, **kw)
        self.zone = zone
        self.locked = gathering is not None and gathering.status != GatheringStatus.DRAFT
        self.fixed_start = gathering.starts_at if self.locked else None
        if self.locked:
            for name in ("start_date", "start_time", "end_time", "end_date", "venue_name", "venue_address"):
                delattr(self, name)

    @classmethod
    def data_from(cls, gathering: Gathering, zone: tzinfo) -> dict:
        """The form's initial values for `gathering`."""
        start, end = to_local(gathering.starts_at, zone), to_local(gathering.ends_at, zone)
        deadline = (to_local(gathering.registration_deadline, zone)
                    if gathering.registration_deadline else None)
        return {
            "title": gathering.title, "format": gathering.format, "theme": gathering.theme,
            "description": gathering.description, "host": gathering.host,
            "start_date": start.date(), "start_time": start.time(), "end_time": end.time(),
            "end_date": end.date() if end.date() != start.date() else None,
            "venue_name": gathering.venue_name, "venue_address": gathering.venue_address,
            "capacity": gathering.capacity,
            "deadline_date": deadline.date() if deadline else None,
            "deadline_time": deadline.time() if deadline else None,
            "reminder_days_before": gathering.reminder_days_before,
        }

    def _instant(self, day: date | None, clock: time | None) -> datetime | None:
        if day is None or clock is None:
            return None
        return from_local(datetime.combine(day, clock), self.zone)

    def starts_at(self) -> datetime | None:
        return self.fixed_start or self._instant(self.start_date.data, self.start_time.data)

    def ends_at(self) -> datetime | None:
        return self._instant(self.end_date.data or self.start_date.data, self.end_time.data)

    def deadline(self) -> datetime | None:
        return self._instant(self.deadline_date.data, self.deadline_time.data or END_OF_DAY)

    def validate_end_time(self, field):
        starts, ends = self.starts_at(), self.ends_at()
        if starts and ends and ends <= starts:
            raise ValidationError(_("Samlingen må slutte etter at den starter."))

    def validate_deadline_time(self, field):
        if field.data and not self.deadline_date.data:
            raise ValidationError(_("Velg også en dato for fristen."))

    def validate_deadline_date(self, field):
        starts, deadline = self.starts_at(), self.deadline()
        if starts and deadline and deadline >= starts:
            raise ValidationError(
                _("Påmeldingsfristen må være før samlingen starter.") if self.deadline_time.data
                else _("Påmeldingsfristen må være før samlingen starter (uten klokkeslett gjelder den "
                       "til kl. 23.59)."))

    def changes(self) -> dict:
        """The form as field values for gatherings.create_draft / gatherings.update."""
        values = {
            "title": self.title.data, "format": self.format.data, "theme": self.theme.data or "",
            "description": self.description.data or "", "host": self.host.data or "",
            "capacity": self.capacity.data, "registration_deadline": self.deadline(),
            "reminder_days_before": self.reminder_days_before.data,
        }
        if not self.locked:
            values.update(starts_at=self.starts_at(), ends_at=self.ends_at(),
                          venue_name=self.venue_name.data, venue_address=self.venue_address.data or "")
        return values


class MaterialLinkForm(FlaskForm):
    """A link to a recording, slides or a report from the gathering."""

    label = _text(_l("Hva lenken er"), max_length=200,
                  required_message=_l("Skriv hva lenken er, for eksempel «Opptak»."))
    url = StringField(
        _l("Nettadresse"), filters=[_strip],
        validators=[InputRequired(_l("Lim inn nettadressen.")),
                    Length(max=1000, message=_l("Adressen er for lang.")), single_line],
        render_kw={"type": "url", "inputmode": "url", "placeholder": "https://"},
    )
    submit = SubmitField(_l("Legg til lenken"))

    def validate_url(self, field):
        if not field.data.lower().startswith(("https://", "http://")) or len(field.data) < 11:
            raise ValidationError(_("Adressen må begynne med https:// (eller http://)."))
