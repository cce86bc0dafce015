"""The organisers' forms for a gathering: its details, and links to material afterwards."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, StringField, SubmitField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..clock import from_local, to_local
from ..models import Gathering, GatheringStatus
from ..public.forms import _normalise_newlines, _strip, plain_text, single_line

FORMAT_SUGGESTIONS = ["Frokostmøte", "Seminar", "Webinar", "Konferanse", "Workshop", "Øvelse"]
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
            raise ValueError("Skriv datoen som dd.mm.åååå, for eksempel 24.02.2026.") from error


class NorwegianTimeField(TimeField):
    """A time input (type=time) that also accepts 08.30 and says so in Norwegian."""

    def __init__(self, label=None, validators=None, **kw):
        super().__init__(label, validators, format=["%H:%M", "%H.%M"], **kw)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Skriv klokkeslettet som tt.mm, for eksempel 08.30.") from error


class WholeNumberField(IntegerField):
    """A whole number, with the error in Norwegian."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Skriv et helt tall, for eksempel 40.") from error


def _text(label, *, max_length, required_message=None, **kw):
    presence = InputRequired(required_message) if required_message else Optional()
    return StringField(label, filters=[_strip],
                       validators=[presence, Length(max=max_length,
                                                    message=f"Teksten kan være høyst {max_length} tegn."),
                                   single_line], **kw)


class GatheringForm(FlaskForm):
    """Create or edit a gathering. Times are typed as Oslo wall time and stored as UTC."""

    title = _text("Tittel", max_length=200, required_message="Skriv inn en tittel.")
    format = _text("Type samling", max_length=40, required_message="Skriv inn hva slags samling det er.",
                   render_kw={"list": "format-suggestions", "autocomplete": "off"})
    theme = _text("Tema (valgfritt)", max_length=300)
    description = TextAreaField(
        "Beskrivelse (valgfritt)", filters=[_normalise_newlines],
        validators=[Optional(), Length(max=10000, message="Beskrivelsen kan være høyst 10 000 tegn."),
                    plain_text], render_kw={"rows": 8},
    )
    host = _text("Arrangør (valgfritt)", max_length=200)
    start_date = NorwegianDateField("Dato", validators=[InputRequired("Velg datoen samlingen er.")])
    start_time = NorwegianTimeField("Starter kl.", validators=[InputRequired("Skriv når samlingen starter.")])
    end_time = NorwegianTimeField("Slutter kl.", validators=[InputRequired("Skriv når samlingen slutter.")])
    end_date = NorwegianDateField("Sluttdato (valgfritt)", validators=[Optional()])
    venue_name = _text("Sted", max_length=200, required_message="Skriv hvor samlingen er.")
    venue_address = _text("Adresse (valgfritt)", max_length=300)
    capacity = WholeNumberField(
        "Antall plasser (valgfritt)",
        validators=[Optional(),
                    NumberRange(min=0, max=100000, message="Antall plasser må være 0 eller mer.")],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    deadline_date = NorwegianDateField("Påmeldingsfrist, dato (valgfritt)", validators=[Optional()])
    deadline_time = NorwegianTimeField("Påmeldingsfrist, klokkeslett (valgfritt)", validators=[Optional()])
    reminder_days_before = WholeNumberField(
        "Påminnelse, antall dager før (valgfritt)",
        validators=[Optional(), NumberRange(min=0, max=60, message="Skriv et tall fra 0 til 60.")],
        render_kw={"inputmode": "numeric", "min": 0, "max": 60},
    )
    confirm_capacity = BooleanField("Ja, sett antall plasser lavere enn antallet som allerede har plass. "
                                    "Ingen mister plassen sin.")
    submit = SubmitField("Lagre")

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
            raise ValidationError("Samlingen må slutte etter at den starter.")

    def validate_deadline_time(self, field):
        if field.data and not self.deadline_date.data:
            raise ValidationError("Velg også en dato for fristen.")

    def validate_deadline_date(self, field):
        starts, deadline = self.starts_at(), self.deadline()
        if starts and deadline and deadline >= starts:
            raise ValidationError("Påmeldingsfristen må være før samlingen starter"
                                  + ("" if self.deadline_time.data else " (uten klokkeslett gjelder den "
                                     "til kl. 23.59)") + ".")

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

    label = _text("Hva lenken er", max_length=200,
                  required_message="Skriv hva lenken er, for eksempel «Opptak».")
    url = StringField(
        "Nettadresse", filters=[_strip],
        validators=[InputRequired("Lim inn nettadressen."), Length(max=1000, message="Adressen er for lang."),
                    single_line],
        render_kw={"type": "url", "inputmode": "url", "placeholder": "https://"},
    )
    submit = SubmitField("Legg til lenken")

    def validate_url(self, field):
        if not field.data.lower().startswith(("https://", "http://")) or len(field.data) < 11:
            raise ValidationError("Adressen må begynne med https:// (eller http://).")
