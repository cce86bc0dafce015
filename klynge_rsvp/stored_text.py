"""Texts the app stores for organisers to read later: audit summaries, history notes and the
reasons given for calendar replies.

Each is stored as a code and its parameters (`said("gathering_published", title=…)`), never as
words, and put into words when it is shown, in the reader's language: an organiser who chose
English reads an entry written while Bokmål was active in English. What a person typed (an
organiser's note) and rows from before this scheme that matched no known phrasing are stored as
they are and shown as they are.

A parameter is plain data (a title, an address, a number: shown as it is) or one of:

- another stored text, `said(…)`, put into words in the same language;
- `when(start, end)`: a time span, written the reader's way;
- `label(group, value)`: a code named through one of labels.py's dictionaries;
- `joined([…], sep)`: several of these, one after the other.

A row holds three columns per text: `<field>` (the literal text, "" for a coded one),
`<field>_code` and `<field>_params` (JSON). `store` writes them, `shown` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

Stored = dict[str, Any]

# Every stored text, by code, with its Bokmål wording (the source language of the catalogues).
# A code is never reused for another meaning: rows keep it for years. Add new ones at the end of
# their group; migrations/versions/0010_stored_text_codes.py knows the phrasings written before.
TEXTS = {
    # --- words used inside other texts
    "unknown": _l("ukjent"),
    "unlimited": _l("ubegrenset"),
    "no_results": _l("ingen resultater"),
    "person": _l("%(name)s (%(email)s)"),
    # --- audit log: gatherings
    "gathering_created": _l("Opprettet utkastet «%(title)s»."),
    "gathering_edited": _l("Endret %(fields)s."),
    "gathering_edited_capacity": _l("Endret %(fields)s (%(before)s → %(after)s)."),
    "gathering_edited_promoted": _l("Endret %(fields)s; %(promoted)s fikk plass fra ventelisten."),
    "gathering_edited_capacity_promoted": _l(
        "Endret %(fields)s (%(before)s → %(after)s); %(promoted)s fikk plass fra ventelisten."),
    "gathering_published": _l("Publiserte «%(title)s»."),
    "gathering_copied": _l("Opprettet utkastet som en kopi av «%(title)s»."),
    "material_added": _l("La til materialet «%(label)s» (%(url)s)."),
    "material_removed": _l("Fjernet materialet «%(label)s»."),
    "programme_item_added": _l("La til «%(title)s» i programmet."),
    "programme_item_changed": _l("Endret «%(title)s» i programmet."),
    "programme_item_removed": _l("Fjernet «%(title)s» fra programmet."),
    "moved_time": _l("Tid: %(before)s → %(after)s."),
    "moved_place": _l("Sted: %(before)s → %(after)s."),
    "gathering_moved": _l("%(changes)s %(count)s varslet."),
    "gathering_postponed": _l("Utsatt på ubestemt tid (skulle vært %(when)s). %(count)s varslet."),
    "gathering_rescheduled": _l(
        "Ny dato: %(when)s, %(place)s. %(count)s varslet og bedt om å bekrefte."),
    "gathering_cancelled": _l("Avlyst. %(count)s varslet."),
    "gathering_cancelled_postponed": _l("Avlyst (var utsatt). %(count)s varslet."),
    # --- audit log: registrations, exports, mail, accounts
    "registered_by_organiser": _l("Meldte på %(person)s."),
    "registered_by_organiser_waiting": _l("Meldte på %(person)s, på venteliste."),
    "promoted_by_organiser": _l("Ga %(name)s plass fra ventelisten."),
    "promoted_over_capacity": _l("Ga %(name)s plass fra ventelisten (over kapasiteten)."),
    "cancelled_by_organiser": _l("Meldte av %(person)s."),
    "registration_details_changed": _l("Endret %(fields)s for %(person)s."),
    "registration_address_corrected": _l("Rettet adressen til %(name)s: %(before)s → %(after)s."),
    "cancelled_by_organiser_note": _l("Meldte av %(person)s: %(note)s."),
    "exported": _l("Lastet ned %(count)s påmeldinger som %(format)s."),
    "mail_resent": _l("%(kind)s til %(recipient)s: «%(subject)s»"),
    "announcement_sent": _l("Kunngjøringen «%(subject)s» til %(audience)s: %(count)s mottakere"),
    "unsubscribed_by_organiser": _l("Meldte %(email)s av e-postlisten"),
    "account_created": _l("%(email)s (%(role)s)"),
    "account_created_at_sign_in": _l("%(email)s (innlogging med %(provider)s)"),
    "account_role_changed": _l("%(email)s: %(before)s → %(after)s"),
    "organisation_edited": _l("«%(name)s»: endret %(fields)s."),
    "organisations_merged": _l("Slo «%(gone)s» sammen med «%(kept)s». Påmeldinger flyttet: %(count)s."),
    "calendar_reply_confirmed": _l("Godkjente kalendersvar (%(answer)s) fra %(attendee)s"),
    "calendar_reply_confirmed_ignored": _l(
        "Godkjente kalendersvar (%(answer)s) fra %(attendee)s: %(reason)s"),
    "calendar_reply_rejected": _l("Avviste kalendersvar (%(answer)s) fra %(attendee)s"),
    "api_token_created": _l("API-nøkkelen «%(name)s» (#%(id)s): %(scopes)s"),
    "api_token_revoked": _l("API-nøkkelen «%(name)s» (#%(id)s) til %(owner)s"),
    "api_request": _l("%(endpoint)s → %(status)s, med API-nøkkelen «%(name)s» (#%(id)s)"),
    # seat rules (issue 16)
    "promoted_over_seat_rules": _l("Ga %(name)s plass fra ventelisten (forbi %(rule)s)."),
    "seat_rules_changed": _l("Plassregler: høyst %(cap)s per virksomhet; holdt av: %(holds)s."),
    "seat_hold": _l("%(seats)s for %(sector)s til %(until)s"),
    "seat_holds_none": _l("ingen"),
    # --- audit log: organisers' own questions (questions.py)
    "question_added": _l("La til spørsmålet «%(label)s»."),
    "question_changed": _l("Endret spørsmålet «%(label)s»."),
    "question_changed_answers_lost": _l("Endret spørsmålet «%(label)s»; %(count)s svar ble slettet."),
    "question_removed": _l("Fjernet spørsmålet «%(label)s»."),
    "question_removed_answers_lost": _l("Fjernet spørsmålet «%(label)s» og %(count)s svar."),
    "question_moved": _l("Flyttet spørsmålet «%(label)s» til plass %(position)s."),
    "registration_answers_changed": _l("Endret svarene på spørsmålene for %(person)s."),
    # --- a registration's history
    "note_registered_again": _l("påmeldt på nytt etter avmelding"),
    "note_registered_by_organiser": _l("meldt på av arrangør"),
    "note_over_capacity": _l("over kapasiteten"),
    "note_fields_changed": _l("%(fields)s"),
    "note_promoted_by_organiser": _l("flyttet fra ventelisten av arrangør"),
    "note_new_date": _l("ny dato: %(when)s"),
    "note_coming_on_new_date": _l("kommer på ny dato"),
    "note_declined_new_date": _l("svarte nei på ny dato"),
    "note_not_coming_on_new_date": _l("kommer ikke på ny dato"),
    "note_calendar_answer": _l("Svar fra kalenderen: %(answer)s"),
    "note_calendar_answer_confirmed": _l("Svar fra kalenderen: %(answer)s (godkjent av arrangør)"),
    "note_still_coming_calendar": _l("kommer fortsatt på ny dato (godtatt i kalenderen)"),
    "note_cancelled_by_calendar": _l("avmeldt via kalendersvar"),
    "note_cancelled_by_calendar_confirmed": _l("avmeldt via kalendersvar (godkjent av arrangør)"),
    "note_not_me": _l("ikke meg"),
    "note_over_seat_rules": _l("forbi plassreglene"),
    # --- why a calendar reply was not applied, or waits
    "reply_no_attendee": _l("Kalendersvaret har ingen deltaker (ATTENDEE)."),
    "reply_not_sender": _l("Avsenderen (%(sender)s) er ikke deltakeren i svaret (%(attendee)s): et "
                           "svar kan bare gjelde avsenderens egen påmelding."),
    "reply_conflicting": _l(
        "E-posten har flere ulike kalendersvar fra samme avsender; ingen er brukt."),
    "reply_unknown_uid": _l(
        "Ukjent kalenderoppføring (UID): svaret gjelder ingen av våre samlinger."),
    "reply_no_registration": _l("Ingen påmelding fra %(address)s til «%(title)s»."),
    "reply_gathering_cancelled": _l("«%(title)s» er avlyst."),
    "reply_old_uid": _l(
        "Svaret gjelder en eldre kalenderoppføring for samlingen, fra før den fikk ny dato."),
    "reply_old_sequence": _l(
        "Svaret gjelder en eldre invitasjon (SEQUENCE %(sequence)s, gjeldende er %(current)s)."),
    "reply_already_cancelled": _l("Påmeldingen er allerede avmeldt."),
    "reply_gathering_over": _l("«%(title)s» er over."),
    "reply_changes_nothing": _l("Svaret %(answer)s endrer ingenting."),
    "reply_held": _l("%(why)s Svaret venter på at en arrangør godkjenner eller avviser det."),
    "reply_unreadable": _l("Meldingen er ikke lenger lesbar."),
    "reply_confirmed_ignored": _l("Godkjent av arrangør, men endret ingenting: %(reason)s"),
    "reply_confirmed": _l("Godkjent av arrangør."),
    "reply_rejected": _l("Avvist av arrangør."),
    "reply_erased": _l("Personen har slettet påmeldingen sin, så svaret er ikke brukt."),
    "held_not_configured": _l(
        "Appen vet ikke hvilken e-posttjener som er vår (REPLY_AUTHSERV_ID er ikke satt). Uten den "
        "kan ingen autentiseringsheader stoles på, for avsenderen kan skrive en slik header selv."),
    "held_no_header": _l("E-posttjeneren vår (%(server)s) har ikke bekreftet avsenderen: meldingen "
                         "har ingen Authentication-Results-header fra den."),
    "held_dmarc_failed": _l("E-posttjeneren vår sier at DMARC feilet for avsenderens domene "
                            "(%(domain)s): svaret kan være forfalsket."),
    "held_other_domain": _l("E-posttjeneren vår sjekket DMARC for et annet domene (%(claimed)s) "
                            "enn avsenderadressen (%(domain)s)."),
    "held_unproven": _l("Avsenderens e-posttjener beviste ikke hvem avsenderen er: "
                        "e-posttjeneren vår fant verken DMARC-pass eller en gyldig DKIM-signatur "
                        "fra avsenderens domene (%(domain)s)."),
    "held_with_results": _l("%(why)s Resultatene fra e-posttjeneren vår: %(results)s."),
    # --- audit log: webhooks
    "webhook_created": _l("Webhook til %(url)s for %(events)s."),
    "webhook_edited": _l("Webhook til %(url)s: endret %(fields)s."),
    "webhook_endpoint": _l("Webhook til %(url)s."),
    "webhook_resent": _l("%(event)s til %(url)s (hendelse %(event_id)s)."),
}


# --- making a stored text ----------------------------------------------------------------------


def said(code: str, **params: Any) -> Stored:
    """A stored text: `code` (a key of TEXTS) with its parameters."""
    if code not in TEXTS:
        raise KeyError(f"no stored text {code!r}")
    return {"code": code, "params": params}


def person(name: str, email: str) -> Stored:
    """A person as "Name (address)": erased as one (scrub)."""
    return said("person", name=name, email=email)


def when(start: datetime, end: datetime) -> dict:
    """A time span, written in the reader's language when shown."""
    return {"when": [start.isoformat(), end.isoformat()]}


def label(group: str, value: str, *, lower: bool = False) -> dict:
    """A code shown through labels.py's `<GROUP>_LABELS` (lower: in lower case)."""
    return {"label": group, "value": str(value), "lower": lower}


def joined(parts: Iterable, sep: str = " ") -> dict:
    """Several parameters shown one after the other."""
    return {"join": list(parts), "sep": sep}


# --- storing and showing -----------------------------------------------------------------------


def store(row: Any, field: str, value: Stored | str) -> None:
    """Put a stored text (or a literal one) into `row`'s three columns for `field`."""
    if isinstance(value, dict):
        setattr(row, field, "")
        setattr(row, f"{field}_code", value["code"])
        setattr(row, f"{field}_params", _map_strings(value["params"], _storable))
    else:
        setattr(row, field, _storable(value or ""))
        setattr(row, f"{field}_code", "")
        setattr(row, f"{field}_params", None)


def stored(row: Any, field: str) -> Stored | str:
    """What `store` put into `row`: the coded text, or the literal one."""
    code = getattr(row, f"{field}_code", "")
    if code:
        return {"code": code, "params": getattr(row, f"{field}_params") or {}}
    return getattr(row, field) or ""


def shown(row: Any, field: str) -> str:
    """`row`'s text for `field`, in the current language."""
    return render(stored(row, field))


def render(value: Any) -> str:
    """A stored text or parameter in words, in the current language."""
    if isinstance(value, dict):
        if "code" in value:
            params = {name: render(item) for name, item in (value.get("params") or {}).items()}
            template = TEXTS.get(value["code"])
            try:
                return str(template) % params if params else str(template)
            except (TypeError, KeyError, ValueError):  # a code of a newer version of the app, or
                # parameters that do not fit its words: show what there is, never fail the page
                return " ".join([value["code"], *map(str, params.values())])
        if "when" in value:
            from .formatting import when as written

            try:
                start, end = (datetime.fromisoformat(instant) for instant in value["when"])
            except (TypeError, ValueError):
                return " – ".join(map(str, value["when"]))
            return written(start, end)
        if "label" in value:
            from . import labels

            names = getattr(labels, f"{value['label'].upper()}_LABELS", {})
            text = str(names.get(value["value"], value["value"]))
            return text.lower() if value.get("lower") else text
        if "join" in value:
            return value.get("sep", " ").join(render(item) for item in value["join"])
    return "" if value is None else str(value)


def scrub(row: Any, field: str, replace: Callable[[str], str]) -> bool:
    """Run `replace` over the literal text and every piece of plain data in the parameters
    (names, addresses, titles), for erasure; True if anything changed."""
    literal = getattr(row, field) or ""
    params = getattr(row, f"{field}_params", None)
    new_literal = replace(literal) if literal else literal
    new_params = _map_strings(params, replace, erasing=True) if params else params
    if (new_literal, new_params) == (literal, params):
        return False
    setattr(row, field, new_literal)
    setattr(row, f"{field}_params", new_params)
    return True


def mentions(model: type, field: str, fragment: str):
    """An SQL condition: the literal text or the parameters of `field` contain `fragment`
    (to find the rows an erasure may have to change)."""
    return sa.or_(getattr(model, field).contains(fragment),
                  sa.cast(getattr(model, f"{field}_params"), sa.Text).contains(fragment))


def _storable(text: str) -> str:
    """No NUL (PostgreSQL refuses it), bounded: parameters may come from a stranger's mail."""
    return text.replace("\x00", "")[:2000]


def _map_strings(value: Any, change: Callable[[str], str], *, erasing: bool = False) -> Any:
    """`value` with `change` applied to each piece of plain text data (not to codes, labels or
    instants). erasing: a person whose name and address both become the same pseudonym becomes
    that pseudonym, once ("Meldte på [slettet person #3].", as the free text had it)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(item, change, erasing=erasing) for item in value]
    if isinstance(value, dict):
        if "when" in value or "label" in value:
            return value
        if "join" in value:
            return {"join": _map_strings(value["join"], change, erasing=erasing),
                    "sep": value.get("sep", " ")}
        if "code" in value:
            params = _map_strings(value.get("params") or {}, change, erasing=erasing)
            if erasing and value["code"] == "person" and params["name"] == params["email"] \
                    and params["name"] != value["params"]["name"]:
                return params["name"]
            return {"code": value["code"], "params": params}
        return {key: _map_strings(item, change, erasing=erasing) for key, item in value.items()}
    return value
