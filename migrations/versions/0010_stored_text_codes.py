"""stored texts become codes: audit summaries, history notes and calendar reply reasons

Revision ID: 0010_stored_text_codes
Revises: 0009_form_mail_consent
Create Date: 2026-12-06 09:00:00

Until now the app wrote these texts in words, in Bokmål (audit summaries, history notes) or in
whatever language was active (calendar reply reasons), so an organiser reading English saw them
in Norwegian. The app now stores a code and JSON parameters (klynge_rsvp/stored_text.py) and
puts them into words when shown. This migration adds `<field>_code` and `<field>_params` beside
each text and converts the rows that exist: every phrasing the code has written so far (below,
in Bokmål, and for reply reasons also in Nynorsk and English) becomes its code and parameters,
with the text column emptied. Anything else (what an organiser typed, a phrasing not known) is
kept as it is and shown as it is. Times and places inside old texts stay as they were written
(a date in Bokmål stays in Bokmål); the words around them are translated.

The downgrade writes every coded text back into words, in Bokmål, and drops the columns.

The phrasings are copied here on purpose: the migration must not import the app's code.
"""
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0010_stored_text_codes'
down_revision = '0009_form_mail_consent'
branch_labels = None
depends_on = None

# (table, text column)
FIELDS = [("audit_entries", "summary"), ("registration_events", "note"),
          ("calendar_replies", "reason")]

# --- what the app wrote before this revision ------------------------------------------------

# Why a calendar reply was not applied (nb, nn, en: written in the language then active).
REPLY_REASONS = {
    'reply_no_attendee': ['Kalendersvaret har ingen deltaker (ATTENDEE).', 'Kalendersvaret har ingen deltakar (ATTENDEE).', 'The calendar reply has no attendee (ATTENDEE).'],
    'reply_not_sender': ['Avsenderen (%(sender)s) er ikke deltakeren i svaret (%(attendee)s): et svar kan bare gjelde avsenderens egen påmelding.', 'Avsendaren (%(sender)s) er ikkje deltakaren i svaret (%(attendee)s): eit svar kan berre gjelde påmeldinga til avsendaren sjølv.', 'The sender (%(sender)s) is not the attendee in the reply (%(attendee)s): a reply can only apply to the sender’s own registration.'],
    'reply_conflicting': ['E-posten har flere ulike kalendersvar fra samme avsender; ingen er brukt.', 'E-posten har fleire ulike kalendersvar frå same avsendar; ingen av dei er brukte.', 'The email contains several different calendar replies from the same sender; none of them has been used.'],
    'reply_unknown_uid': ['Ukjent kalenderoppføring (UID): svaret gjelder ingen av våre samlinger.', 'Ukjend kalenderoppføring (UID): svaret gjeld ingen av samlingane våre.', 'Unknown calendar entry (UID): the reply does not match any of our gatherings.'],
    'reply_no_registration': ['Ingen påmelding fra %(address)s til «%(title)s».', 'Inga påmelding frå %(address)s til «%(title)s».', 'No registration from %(address)s for “%(title)s”.'],
    'reply_gathering_cancelled': ['«%(title)s» er avlyst.', '“%(title)s” has been cancelled.'],
    'reply_old_uid': ['Svaret gjelder en eldre kalenderoppføring for samlingen, fra før den fikk ny dato.', 'Svaret gjeld ei eldre kalenderoppføring for samlinga, frå før ho fekk ny dato.', 'The reply is for an older calendar entry for the gathering, from before it was given a new date.'],
    'reply_old_sequence': ['Svaret gjelder en eldre invitasjon (SEQUENCE %(sequence)s, gjeldende er %(current)s).', 'Svaret gjeld ein eldre invitasjon (SEQUENCE %(sequence)s, gjeldande er %(current)s).', 'The reply is for an older invitation (SEQUENCE %(sequence)s, the current one is %(current)s).'],
    'reply_already_cancelled': ['Påmeldingen er allerede avmeldt.', 'Påmeldinga er allereie avmeldt.', 'The registration has already been cancelled.'],
    'reply_gathering_over': ['«%(title)s» er over.', '“%(title)s” is over.'],
    'reply_changes_nothing': ['Svaret %(answer)s endrer ingenting.', 'Svaret %(answer)s endrar ingenting.', 'The reply %(answer)s changes nothing.'],
    'reply_held': ['%(why)s Svaret venter på at en arrangør godkjenner eller avviser det.', '%(why)s Svaret ventar på at ein arrangør godkjenner eller avviser det.', '%(why)s The reply is waiting for an organiser to approve or reject it.'],
    'reply_unreadable': ['Meldingen er ikke lenger lesbar.', 'Meldinga er ikkje lenger lesbar.', 'The message can no longer be read.'],
    'reply_confirmed_ignored': ['Godkjent av arrangør, men endret ingenting: %(reason)s', 'Godkjent av arrangør, men endra ingenting: %(reason)s', 'Approved by an organiser, but changed nothing: %(reason)s'],
    'reply_confirmed': ['Godkjent av arrangør.', 'Approved by an organiser.'],
    'reply_rejected': ['Avvist av arrangør.', 'Rejected by an organiser.'],
    'reply_erased': ['Personen har slettet påmeldingen sin, så svaret er ikke brukt.', 'Personen har sletta påmeldinga si, så svaret er ikkje brukt.', 'The person erased their registration, so the reply was not used.'],
    'held_not_configured': ['Appen vet ikke hvilken e-posttjener som er vår (REPLY_AUTHSERV_ID er ikke satt). Uten den kan ingen autentiseringsheader stoles på, for avsenderen kan skrive en slik header selv.', 'Appen veit ikkje kva for ein e-posttenar som er vår (REPLY_AUTHSERV_ID er ikkje sett). Utan han kan ingen autentiseringsheader stolast på, for avsendaren kan skrive ein slik header sjølv.', 'The app does not know which mail server is ours (REPLY_AUTHSERV_ID is not set). Without it no authentication header can be trusted, since the sender can write such a header themselves.'],
    'held_no_header': ['E-posttjeneren vår (%(server)s) har ikke bekreftet avsenderen: meldingen har ingen Authentication-Results-header fra den.', 'E-posttenaren vår (%(server)s) har ikkje stadfesta avsendaren: meldinga har ingen Authentication-Results-header frå han.', 'Our mail server (%(server)s) did not confirm the sender: the message has no Authentication-Results header from it.'],
    'held_dmarc_failed': ['E-posttjeneren vår sier at DMARC feilet for avsenderens domene (%(domain)s): svaret kan være forfalsket.', 'E-posttenaren vår seier at DMARC feila for domenet til avsendaren (%(domain)s): svaret kan vere forfalska.', "Our mail server says DMARC failed for the sender's domain (%(domain)s): the reply may be forged."],
    'held_other_domain': ['E-posttjeneren vår sjekket DMARC for et annet domene (%(claimed)s) enn avsenderadressen (%(domain)s).', 'E-posttenaren vår sjekka DMARC for eit anna domene (%(claimed)s) enn avsendaradressa (%(domain)s).', "Our mail server checked DMARC for another domain (%(claimed)s) than the sender's address (%(domain)s)."],
    'held_unproven': ['Avsenderens e-posttjener beviste ikke hvem avsenderen er: e-posttjeneren vår fant verken DMARC-pass eller en gyldig DKIM-signatur fra avsenderens domene (%(domain)s).', 'E-posttenaren til avsendaren prova ikkje kven avsendaren er: e-posttenaren vår fann verken DMARC-pass eller ein gyldig DKIM-signatur frå domenet til avsendaren (%(domain)s).', "The sender's mail server did not prove who the sender is: our mail server found neither a DMARC pass nor a valid DKIM signature from the sender's domain (%(domain)s)."],
    'held_with_results': ['%(why)s Resultatene fra e-posttjeneren vår: %(results)s.', '%(why)s Resultata frå e-posttenaren vår: %(results)s.', "%(why)s Our mail server's results: %(results)s."],
    'unknown': ['ukjent', 'ukjend', 'unknown'],
    'no_results': ['ingen resultater', 'ingen resultat', 'no results'],
}

# A registration's history notes (always Bokmål).
NOTES = {
    "note_registered_again": ["påmeldt på nytt etter avmelding"],
    "note_registered_by_organiser": ["meldt på av arrangør"],
    "note_over_capacity": ["over kapasiteten"],
    "note_promoted_by_organiser": ["flyttet fra ventelisten av arrangør"],
    "note_new_date": ["ny dato: %(when)s"],
    "note_coming_on_new_date": ["kommer på ny dato"],
    "note_declined_new_date": ["svarte nei på ny dato"],
    "note_not_coming_on_new_date": ["kommer ikke på ny dato"],
    "note_calendar_answer": ["Svar fra kalenderen: %(answer)s"],
    "note_calendar_answer_confirmed": ["Svar fra kalenderen: %(answer)s (godkjent av arrangør)"],
    "note_still_coming_calendar": ["kommer fortsatt på ny dato (godtatt i kalenderen)"],
    "note_cancelled_by_calendar": ["avmeldt via kalendersvar"],
    "note_cancelled_by_calendar_confirmed": ["avmeldt via kalendersvar (godkjent av arrangør)"],
    "note_not_me": ["ikke meg"],
}

# Audit summaries by action (always Bokmål); an action not listed stored plain data only.
AUDIT = {
    "create": {"gathering_created": "Opprettet utkastet «%(title)s»."},
    "edit": {
        "gathering_edited": "Endret %(fields)s.",
        "gathering_edited_capacity": "Endret %(fields)s (%(before)s → %(after)s).",
        "gathering_edited_promoted": "Endret %(fields)s; %(promoted)s fikk plass fra ventelisten.",
        "gathering_edited_capacity_promoted":
            "Endret %(fields)s (%(before)s → %(after)s); %(promoted)s fikk plass fra ventelisten.",
    },
    "publish": {"gathering_published": "Publiserte «%(title)s»."},
    "add_material": {"material_added": "La til materialet «%(label)s» (%(url)s)."},
    "remove_material": {"material_removed": "Fjernet materialet «%(label)s»."},
    "move": {"gathering_moved": "%(changes)s %(count)s varslet."},
    "postpone": {"gathering_postponed":
                 "Utsatt på ubestemt tid (skulle vært %(when)s). %(count)s varslet."},
    "reschedule": {"gathering_rescheduled":
                   "Ny dato: %(when)s, %(place)s. %(count)s varslet og bedt om å bekrefte."},
    "cancel": {"gathering_cancelled": "Avlyst. %(count)s varslet.",
               "gathering_cancelled_postponed": "Avlyst (var utsatt). %(count)s varslet."},
    "register": {"registered_by_organiser": "Meldte på %(person)s.",
                 "registered_by_organiser_waiting": "Meldte på %(person)s, på venteliste."},
    "promote": {"promoted_by_organiser": "Ga %(name)s plass fra ventelisten.",
                "promoted_over_capacity": "Ga %(name)s plass fra ventelisten (over kapasiteten)."},
    "cancel_registration": {"cancelled_by_organiser": "Meldte av %(person)s.",
                            "cancelled_by_organiser_note": "Meldte av %(person)s: %(note)s."},
    "export": {"exported": "Lastet ned %(count)s påmeldinger som %(format)s."},
    "resend": {"mail_resent": "%(kind)s til %(recipient)s: «%(subject)s»"},
    "send": {"announcement_sent":
             "Kunngjøringen «%(subject)s» til %(audience)s: %(count)s mottakere"},
    "unsubscribe": {"unsubscribed_by_organiser": "Meldte %(email)s av e-postlisten"},
    "organiser_create": {"account_created": "%(email)s (%(role)s)"},
    "organiser_role": {"account_role_changed": "%(email)s: %(before)s → %(after)s"},
    "calendar_reply_confirmed": {
        "calendar_reply_confirmed": "Godkjente kalendersvar (%(answer)s) fra %(attendee)s",
        "calendar_reply_confirmed_ignored":
            "Godkjente kalendersvar (%(answer)s) fra %(attendee)s: %(reason)s",
    },
    "calendar_reply_rejected": {
        "calendar_reply_rejected": "Avviste kalendersvar (%(answer)s) fra %(attendee)s"},
}
MOVED = {"moved_time": "Tid: %(before)s → %(after)s.", "moved_place": "Sted: %(before)s → %(after)s."}

# The Bokmål labels inside those texts, and the codes they name (labels.py).
FIELD_NAMES = {"tittel": "title", "tema": "theme", "type": "format", "beskrivelse": "description",
               "arrangør": "host", "antall plasser": "capacity",
               "påmeldingsfrist": "registration_deadline", "påminnelse": "reminder_days_before",
               "start": "starts_at", "slutt": "ends_at", "sted": "venue_name",
               "adresse": "venue_address"}
ROLES = {"administrator": "administrator", "arrangør": "organiser"}
AUDIENCES = {"påmeldte med plass": "confirmed", "ventelisten": "waiting",
             "e-postlisten (nyhetsbrevet)": "mailing_list"}
ANSWERS = {"godtatt": "ACCEPTED", "foreløpig": "TENTATIVE", "avslått": "DECLINED"}
KINDS = {
    "Bekreftelse med kalenderinvitasjon": "confirmation",
    "Plass på venteliste": "waiting_list",
    "Fått plass, med kalenderinvitasjon": "promotion",
    "Avmelding": "cancellation",
    "Allerede påmeldt (lenken på nytt)": "already_registered",
    "Ny lenke til påmeldingen": "new_link",
    "Påminnelse": "reminder",
    "Kan du fortsatt komme?": "reconfirm_reminder",
    "Ny tid eller nytt sted": "gathering_moved",
    "Utsatt": "gathering_postponed",
    "Ny dato": "gathering_rescheduled",
    "Avlyst": "gathering_cancelled",
    "Kunngjøring": "announcement",
    "Nyhetsbrev": "announcement_list",
    "Bekreft nyhetsbrev": "mailing_list_confirm",
}


class NoMatch(Exception):
    """A parameter did not read as what the phrasing puts there: keep the text as it is."""


def _said(code, **params):
    return {"code": code, "params": params}


def _label(group, value, lower=False):
    return {"label": group, "value": value, "lower": lower}


def _number(text):
    if not re.fullmatch(r"\d+", text):
        raise NoMatch(text)
    return int(text)


def _fields(text):
    names = text.split(", ")
    if not all(name in FIELD_NAMES for name in names):
        raise NoMatch(text)
    return {"join": [_label("field", FIELD_NAMES[name]) for name in names], "sep": ", "}


def _capacity(text):
    return _said("unlimited") if text == "ubegrenset" else _number(text)


def _from(mapping, group, lower=False):
    def convert(text):
        if text not in mapping:
            raise NoMatch(text)
        return _label(group, mapping[text], lower)
    return convert


def _kind(text):
    return _label("kind", KINDS.get(text, text))


def _reply_or_text(text):
    return match(text, REPLY_REASONS) or text


def _unknown_or_text(text):
    return _said("unknown") if text in REPLY_REASONS["unknown"] else text


def _results(text):
    return _said("no_results") if text in REPLY_REASONS["no_results"] else text


def _person(text):
    """ "Name (address)", or what an erasure left in its place (kept as it is)."""
    found = re.fullmatch(r"(.+?) \(([^()]+@[^()]+)\)", text)
    return _said("person", name=found.group(1), email=found.group(2)) if found else text


def _changes(text):
    parts = re.findall(r"(?:^| )((?:Tid|Sted): .+? → .+?\.)(?= (?:Tid|Sted): |$)", text)
    if not parts or " ".join(parts) != text:
        raise NoMatch(text)
    return {"join": [match(part, {code: [form] for code, form in MOVED.items()}) or _no(part)
                     for part in parts], "sep": " "}


def _no(text):
    raise NoMatch(text)


CONVERT = {
    "count": _number, "promoted": _number, "sequence": _number, "current": _number,
    "fields": _fields, "changes": _changes,
    "why": _reply_or_text, "reason": _reply_or_text,
    "sender": _unknown_or_text, "domain": _unknown_or_text, "results": _results,
    "kind": _kind, "person": _person,
}
AUDIT_CONVERT = {
    "edit": {"before": _capacity, "after": _capacity},
    "organiser_create": {"role": _from(ROLES, "role", lower=True)},
    "organiser_role": {"before": _from(ROLES, "role", lower=True),
                       "after": _from(ROLES, "role", lower=True)},
    "send": {"audience": _from(AUDIENCES, "audience", lower=True)},
}
NOTE_CONVERT = {"answer": _from(ANSWERS, "answer", lower=True)}


NUMBERS = {"count", "promoted", "sequence", "current"}


def _pattern(template):
    pieces = re.split(r"%\((\w+)\)s", template)
    return re.compile("".join(
        re.escape(piece) if index % 2 == 0
        else f"(?P<{piece}>\\d+)" if piece in NUMBERS else f"(?P<{piece}>.+?)"
        for index, piece in enumerate(pieces)), re.S)


def match(text, table, convert=None):
    """The stored text {"code", "params"} `text` was written from, or None."""
    candidates = sorted(((code, form) for code, forms in table.items() for form in
                         ([forms] if isinstance(forms, str) else forms)),
                        key=lambda pair: -len(re.sub(r"%\(\w+\)s", "", pair[1])))
    for code, form in candidates:
        found = _pattern(form).fullmatch(text)
        if not found:
            continue
        try:
            params = {name: {**CONVERT, **(convert or {})}.get(name, str)(value)
                      for name, value in found.groupdict().items()}
        except NoMatch:
            continue
        return _said(code, **params)
    return None


def convert(table, column, kind=None):
    """(code, params) for a stored text of `table` (kind: the audit action), or None."""
    if table == "calendar_replies":
        return match(column, REPLY_REASONS)
    if table == "registration_events":
        return match(column, NOTES, NOTE_CONVERT)
    if kind in AUDIT:
        return match(column, AUDIT[kind], AUDIT_CONVERT.get(kind))
    return None


def upgrade():
    for table, field in FIELDS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(f"{field}_code", sa.String(length=60), server_default="",
                                       nullable=False))
            batch.add_column(sa.Column(f"{field}_params", sa.JSON(), nullable=True))
    connection = op.get_bind()
    for table, field in FIELDS:
        rows = _table(table, field)
        kind = rows.c.action if table == "audit_entries" else sa.null()
        for row_id, text, action in connection.execute(
                sa.select(rows.c.id, rows.c[field], kind).where(rows.c[field] != "")).all():
            found = convert(table, text, action)
            if found is not None:
                connection.execute(rows.update().where(rows.c.id == row_id).values(
                    {field: "", f"{field}_code": found["code"],
                     f"{field}_params": found["params"]}))


def downgrade():
    connection = op.get_bind()
    for table, field in FIELDS:
        rows = _table(table, field)
        for row_id, code, params in connection.execute(
                sa.select(rows.c.id, rows.c[f"{field}_code"], rows.c[f"{field}_params"])
                .where(rows.c[f"{field}_code"] != "")).all():
            text = _bokmal({"code": code, "params": params or {}})
            connection.execute(rows.update().where(rows.c.id == row_id).values({field: text}))
    for table, field in FIELDS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(f"{field}_params")
            batch.drop_column(f"{field}_code")


def _table(name, field):
    columns = [sa.column("id", sa.Integer), sa.column(field, sa.Text),
               sa.column(f"{field}_code", sa.String), sa.column(f"{field}_params", sa.JSON)]
    if name == "audit_entries":
        columns.append(sa.column("action", sa.String))
    return sa.table(name, *columns)


# --- back into Bokmål words (downgrade) --------------------------------------------------------

_BOKMAL = {code: forms[0] for code, forms in REPLY_REASONS.items()}
_BOKMAL.update({code: forms[0] for code, forms in NOTES.items()})
_BOKMAL.update({code: form for forms in AUDIT.values() for code, form in forms.items()})
_BOKMAL.update(MOVED, unlimited="ubegrenset", person="%(name)s (%(email)s)")
_LABELS = {"field": {v: k for k, v in FIELD_NAMES.items()}, "role": {v: k for k, v in ROLES.items()},
           "audience": {v: k for k, v in AUDIENCES.items()},
           "answer": {v: k for k, v in ANSWERS.items()}, "kind": {v: k for k, v in KINDS.items()}}
_DAYS = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
_MONTHS = ["januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september",
           "oktober", "november", "desember"]


def _bokmal(value):
    if isinstance(value, dict):
        if "code" in value:
            params = {name: _bokmal(item) for name, item in (value.get("params") or {}).items()}
            form = _BOKMAL.get(value["code"])
            if form is None:
                return " ".join([value["code"], *params.values()])
            return form % params if params else form
        if "when" in value:
            return _when(*(datetime.fromisoformat(instant) for instant in value["when"]))
        if "label" in value:
            text = _LABELS.get(value["label"], {}).get(value["value"], value["value"])
            return text.lower() if value.get("lower") else text
        if "join" in value:
            return value.get("sep", " ").join(_bokmal(item) for item in value["join"])
    return "" if value is None else str(value)


def _when(start, end):
    """As the app wrote it: "fredag 23. februar 2018 kl. 08.00–10.00" (Oslo time)."""
    zone = ZoneInfo("Europe/Oslo")
    start, end = start.astimezone(zone), end.astimezone(zone)

    def day(moment):
        return f"{_DAYS[moment.weekday()]} {moment.day}. {_MONTHS[moment.month - 1]} {moment.year}"

    if start.date() == end.date():
        return f"{day(start)} kl. {start:%H.%M}–{end:%H.%M}"
    return f"{day(start)} kl. {start:%H.%M} – {day(end)} kl. {end:%H.%M}"
