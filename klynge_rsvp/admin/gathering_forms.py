"""The organisers' forms for a gathering: its details, and links to material afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    IntegerField,
    RadioField,
    SelectChoice,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from ..clock import Gap, Overlap, ambiguity, from_local, to_local, utc_offset_text
from ..fields import no_invisible_characters, normalise_newlines, plain_text, single_line, strip
from ..formatting import wall_clock, wall_date
from ..labels import GATHERING_MODE_LABELS
from ..models import Gathering, GatheringMode, GatheringStatus

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


FIRST, SECOND = "first", "second"  # the two readings of a wall time the zone has twice


class ConfirmTimeField(BooleanField):
    """A checkbox that accepts a wall time the zone skips, as what it becomes.

    Its value is the wall time it was shown for, so it confirms that time only: a time changed
    after ticking it is asked about again.
    """

    def process_data(self, value):
        self.shown_for = ""
        self.data = False

    def process_formdata(self, valuelist):
        self.shown_for = valuelist[0] if valuelist else ""
        self.data = bool(self.shown_for)

    def confirms(self, wall: datetime) -> bool:
        return self.shown_for == _stamp(wall)

    def _value(self):
        return self.shown_for if self.data else ""


class OccurrenceField(RadioField):
    """Which reading of a wall time the zone has twice: FIRST (fold=0) or SECOND (fold=1)."""

    def __init__(self, label=None, validators=None, **kw):
        choices = [SelectChoice(FIRST, FIRST), SelectChoice(SECOND, SECOND)]
        super().__init__(label, validators, choices=choices, validate_choice=False, **kw)

    @property
    def fold(self) -> int | None:
        return {FIRST: 0, SECOND: 1}.get(self.data)

    def _value(self):
        return self.data if self.data in (FIRST, SECOND) else ""


def occurrence_of(local: datetime) -> str:
    """FIRST or SECOND: which reading of its wall time a local (aware) time is (its fold)."""
    return SECOND if local.fold else FIRST


def _stamp(wall: datetime) -> str:
    return wall.isoformat(timespec="minutes")


@dataclass(frozen=True)
class TimeQuestion:
    """What the form asks about one typed time (for templates/admin/gatherings/_wall_time.html).

    kind "gap": the time is skipped; `control` is the ConfirmTimeField, shown with `value`.
    kind "overlap": it happens twice; `control` is the OccurrenceField, its options labelled.
    """

    kind: str
    label: str  # the time field's label, e.g. "Starter kl."
    message: str
    control: Field
    value: str = ""
    confirm_label: str = ""
    explanation: str = ""


class WallTimeQuestions:
    """Times typed as wall time in `self.zone` that the zone skips or has twice: ask, then read.

    A form lists its times by the time field's name in `wall_times()`; beside each it declares
    `<name>_gap` (ConfirmTimeField) and `<name>_occurrence` (OccurrenceField). A skipped time
    must be confirmed as what it becomes, a repeated one chosen; until then the form is not
    valid, so nothing is stored.
    """

    zone: tzinfo

    def wall_times(self) -> dict[str, datetime | None]:
        """The naive wall times typed, by the name of their time field (None: not given)."""
        raise NotImplementedError

    def instant(self, name: str) -> datetime | None:
        """The typed time `name` in UTC: a repeated one as chosen (the first until then)."""
        wall = self.wall_times().get(name)
        if wall is None:
            return None
        repeated = isinstance(ambiguity(wall, self.zone), Overlap)
        second = repeated and self[f"{name}_occurrence"].fold == 1
        return from_local(wall, self.zone, fold=1 if second else 0)

    def ask_about_wall_times(self) -> bool:
        """Add the question as an error to each time not yet confirmed or chosen; True if none."""
        answered = True
        for name in self.wall_times():
            question = self.wall_time_question(name)
            if question is None:
                continue
            control = question.control
            if question.kind == "gap" and not control.confirms(self.wall_times()[name]):
                control.errors.append(question.message)
                answered = False
            elif question.kind == "overlap" and control.fold is None:
                control.errors.append(question.message + " " + _("Velg sommertid eller normaltid."))
                answered = False
        return answered

    def wall_time_question(self, name: str) -> TimeQuestion | None:
        """The question about the typed time `name`, or None when the zone has it once."""
        wall = self.wall_times().get(name)
        found = ambiguity(wall, self.zone) if wall is not None else None
        label = str(self[name].label.text)
        if isinstance(found, Gap):
            becomes = wall_clock(found.becomes)
            if found.becomes.date() != wall.date():
                becomes = f"{wall_date(found.becomes.date())} {becomes}"
            return TimeQuestion(
                "gap", label, _("Kl. %(time)s finnes ikke %(date)s: da stilles klokka fram fra "
                                "%(skipped_from)s til %(skipped_to)s. Bekrefter du, blir tidspunktet "
                                "lagret som kl. %(becomes)s.",
                                time=wall_clock(wall), date=wall_date(wall.date()),
                                skipped_from=wall_clock(found.skipped_from),
                                skipped_to=wall_clock(found.skipped_to), becomes=becomes),
                self[f"{name}_gap"], value=_stamp(wall),
                confirm_label=_("Ja, lagre kl. %(becomes)s", becomes=becomes))
        if isinstance(found, Overlap):
            control = self[f"{name}_occurrence"]
            control.choices = [
                SelectChoice(FIRST, _("%(time)s %(season)s (%(offset)s), den første",
                                      time=wall_clock(wall), season=_season(found.first_is_dst),
                                      offset=utc_offset_text(found.first_offset))),
                SelectChoice(SECOND, _("%(time)s %(season)s (%(offset)s), den andre, %(later)s senere",
                                       time=wall_clock(wall), season=_season(found.second_is_dst),
                                       offset=utc_offset_text(found.second_offset),
                                       later=_duration(found.second - found.first))),
            ]
            return TimeQuestion(
                "overlap", label, _("Kl. %(time)s finnes to ganger %(date)s.",
                                    time=wall_clock(wall), date=wall_date(wall.date())),
                control,
                explanation=_("Da stilles klokka tilbake fra %(repeated_to)s til %(repeated_from)s, "
                              "så tiden fra %(repeated_from)s til %(repeated_to)s kommer to ganger.",
                              repeated_from=wall_clock(found.repeated_from),
                              repeated_to=wall_clock(found.repeated_to)))
        return None


def _season(daylight_saving: bool) -> str:
    return _("sommertid") if daylight_saving else _("normaltid")


def _duration(length: timedelta) -> str:
    minutes = int(length.total_seconds()) // 60
    if minutes == 60:
        return _("én time")
    if minutes % 60:
        return ngettext("%(num)s minutt", "%(num)s minutter", minutes)
    return ngettext("%(num)s time", "%(num)s timer", minutes // 60)


def combine(day: date | None, clock: time | None) -> datetime | None:
    """The naive wall time of a date and a clock time, if both are given."""
    return None if day is None or clock is None else datetime.combine(day, clock)


def _text(label, *, max_length, required_message=None, **kw):
    presence = InputRequired(required_message) if required_message else Optional()
    too_long = _l("Teksten kan være høyst %(max)s tegn.", max=max_length)
    return StringField(label, filters=[strip],
                       validators=[presence, Length(max=max_length, message=too_long), single_line,
                                   no_invisible_characters], **kw)


class GatheringForm(WallTimeQuestions, FlaskForm):
    """Create or edit a gathering. Times are typed as Oslo wall time and stored as UTC; a time
    the zone skips or has twice is asked about before anything is stored."""

    title = _text(_l("Tittel"), max_length=200, required_message=_l("Skriv inn en tittel."))
    format = _text(_l("Type samling"), max_length=40,
                   required_message=_l("Skriv inn hva slags samling det er."),
                   render_kw={"list": "format-suggestions", "autocomplete": "off"})
    theme = _text(_l("Tema (valgfritt)"), max_length=300)
    description = TextAreaField(
        _l("Beskrivelse (valgfritt)"), filters=[normalise_newlines],
        validators=[Optional(), Length(max=10000, message=_l("Beskrivelsen kan være høyst 10 000 tegn.")),
                    plain_text], render_kw={"rows": 8},
    )
    host = _text(_l("Arrangør (valgfritt)"), max_length=200)
    start_date = NorwegianDateField(_l("Dato"), validators=[InputRequired(_l("Velg datoen samlingen er."))])
    start_time = NorwegianTimeField(_l("Starter kl."),
                                    validators=[InputRequired(_l("Skriv når samlingen starter."))])
    start_time_gap = ConfirmTimeField(_l("Starter kl."))
    start_time_occurrence = OccurrenceField(_l("Starter kl."))
    end_time = NorwegianTimeField(_l("Slutter kl."),
                                  validators=[InputRequired(_l("Skriv når samlingen slutter."))])
    end_time_gap = ConfirmTimeField(_l("Slutter kl."))
    end_time_occurrence = OccurrenceField(_l("Slutter kl."))
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
    deadline_time_gap = ConfirmTimeField(_l("Påmeldingsfrist, klokkeslett (valgfritt)"))
    deadline_time_occurrence = OccurrenceField(_l("Påmeldingsfrist, klokkeslett (valgfritt)"))
    reminder_days_before = WholeNumberField(
        _l("Påminnelse, antall dager før (valgfritt)"),
        validators=[Optional(), NumberRange(min=0, max=60, message=_l("Skriv et tall fra 0 til 60."))],
        render_kw={"inputmode": "numeric", "min": 0, "max": 60},
    )
    # participation modes (participation.py, decision 0031)
    mode = RadioField(
        _l("Hvordan deltar man?"),
        choices=[SelectChoice(mode.value, label) for mode, label in GATHERING_MODE_LABELS.items()],
        default=GatheringMode.IN_PERSON.value,  # also when a form leaves it out
    )
    online_capacity = WholeNumberField(
        _l("Antall digitale plasser (valgfritt)"),
        validators=[Optional(), NumberRange(min=0, max=100000,
                                            message=_l("Antall plasser må være 0 eller mer."))],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    meeting_url = StringField(
        _l("Møtelenke (valgfritt)"), filters=[strip],
        validators=[Optional(), Length(max=1000, message=_l("Adressen er for lang.")), single_line],
        render_kw={"type": "url", "inputmode": "url", "placeholder": "https://",
                   "autocomplete": "off"},
    )
    meeting_details = TextAreaField(
        _l("Møteinformasjon (valgfritt)"), filters=[normalise_newlines],
        validators=[Optional(), Length(max=2000, message=_l("Teksten kan være høyst 2000 tegn.")),
                    plain_text], render_kw={"rows": 3},
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
            for name in ("start_date", "start_time", "start_time_gap", "start_time_occurrence",
                         "end_time", "end_time_gap", "end_time_occurrence", "end_date", "venue_name",
                         "venue_address"):
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
            "start_time_occurrence": occurrence_of(start), "end_time_occurrence": occurrence_of(end),
            "end_date": end.date() if end.date() != start.date() else None,
            "venue_name": gathering.venue_name, "venue_address": gathering.venue_address,
            "capacity": gathering.capacity,
            "deadline_date": deadline.date() if deadline else None,
            "deadline_time": deadline.time() if deadline else None,
            "deadline_time_occurrence": occurrence_of(deadline) if deadline else None,
            "reminder_days_before": gathering.reminder_days_before,
            "mode": gathering.mode.value, "online_capacity": gathering.online_capacity,
            "meeting_url": gathering.meeting_url, "meeting_details": gathering.meeting_details,
        }

    def wall_times(self) -> dict[str, datetime | None]:
        walls = {}
        if not self.locked:
            walls["start_time"] = combine(self.start_date.data, self.start_time.data)
            walls["end_time"] = combine(self.end_date.data or self.start_date.data, self.end_time.data)
        walls["deadline_time"] = combine(self.deadline_date.data, self.deadline_time.data or END_OF_DAY)
        return walls

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return self.ask_about_wall_times() and valid

    def starts_at(self) -> datetime | None:
        return self.fixed_start or self.instant("start_time")

    def ends_at(self) -> datetime | None:
        return self.instant("end_time")

    def deadline(self) -> datetime | None:
        return self.instant("deadline_time")

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
            "mode": GatheringMode(self.mode.data),
            # online seats of their own only when some come in the room and some online
            "online_capacity": self.online_capacity.data
            if self.mode.data == GatheringMode.HYBRID.value else None,
            "meeting_url": self.meeting_url.data or "",
            "meeting_details": self.meeting_details.data or "",
        }
        if not self.locked:
            values.update(starts_at=self.starts_at(), ends_at=self.ends_at(),
                          venue_name=self.venue_name.data, venue_address=self.venue_address.data or "")
        return values


    def validate_meeting_url(self, field):
        if field.data and not (field.data.lower().startswith("https://") and len(field.data) > 8):
            raise ValidationError(_("Møtelenken må være en nettadresse som begynner med https://."))


class MaterialLinkForm(FlaskForm):
    """A link to a recording, slides or a report from the gathering."""

    label = _text(_l("Hva lenken er"), max_length=200,
                  required_message=_l("Skriv hva lenken er, for eksempel «Opptak»."))
    url = StringField(
        _l("Nettadresse"), filters=[strip],
        validators=[InputRequired(_l("Lim inn nettadressen.")),
                    Length(max=1000, message=_l("Adressen er for lang.")), single_line],
        render_kw={"type": "url", "inputmode": "url", "placeholder": "https://"},
    )
    submit = SubmitField(_l("Legg til lenken"))

    def validate_url(self, field):
        if not field.data.lower().startswith(("https://", "http://")) or len(field.data) < 11:
            raise ValidationError(_("Adressen må begynne med https:// (eller http://)."))
