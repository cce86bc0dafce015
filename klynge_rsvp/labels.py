"""What stored values are called on the pages: every label dictionary in one place.

A value is stored as a code (an enum's value, a mail kind, an audit action) and shown through
one of these, in the reader's language; a value not listed is shown as it is stored. Stored
texts (stored_text.py) use them too, so an audit entry written in Bokmål reads in English for an
organiser who chose English.
"""

from flask_babel import lazy_gettext as _l

from .mail import outcomes
from .models import (
    AttendanceMode,
    Audience,
    GatheringMode,
    GatheringStatus,
    OrganiserRole,
    OutboxStatus,
    ReplyOutcome,
    Sector,
    SubscriberState,
)

# --- people and organisations -------------------------------------------------------------------

# What each sector is called, in the form, the statistics and the exports.
SECTOR_LABELS = {
    Sector.PUBLIC: _l("Offentlig"),
    Sector.PRIVATE: _l("Privat"),
    Sector.NON_PROFIT: _l("Ideell"),
    Sector.VOLUNTEER: _l("Frivillig"),
}

# A registration's status in the list and the exports.
STATUS_LABELS = {"confirmed": _l("Har plass"), "waiting": _l("Venteliste"), "cancelled": _l("Avmeldt")}

# An organiser account's role.
ROLE_LABELS = {
    OrganiserRole.ADMINISTRATOR: _l("Administrator"),
    OrganiserRole.ORGANISER: _l("Arrangør"),
}

# A mailing-list address's state.
STATE_LABELS = {
    SubscriberState.CONFIRMED: _l("På listen"),
    SubscriberState.PENDING: _l("Har ikke bekreftet"),
    SubscriberState.UNSUBSCRIBED: _l("Meldt av"),
}


# --- gatherings, history and the audit log ------------------------------------------------------

# A gathering's status on the overview (upcoming gatherings are never "held").
GATHERING_STATUS_LABELS = {
    GatheringStatus.DRAFT: _l("Utkast"),
    GatheringStatus.PUBLISHED: _l("Publisert"),
    GatheringStatus.POSTPONED: _l("Utsatt"),
    GatheringStatus.CANCELLED: _l("Avlyst"),
}

# What each history event of a registration reads as on its page; an event not listed is shown
# as it is stored.
EVENT_LABELS = {
    "registered": _l("Påmeldt med plass"),
    "waiting": _l("Satt på venteliste"),
    "promoted": _l("Fikk plass fra ventelisten"),
    "cancelled": _l("Avmeldt"),
    "checked_in": _l("Sjekket inn"),
    "check_in_undone": _l("Innsjekking angret"),
    "reconfirmed": _l("Bekreftet at de kommer"),
    "moved_to_waiting": _l("Flyttet til venteliste"),
    "link_renewed": _l("Ny lenke sendt (den gamle virker ikke lenger)"),
    "details_changed": _l("Opplysninger endret"),
    "address_corrected": _l("E-postadressen rettet (invitasjonen sendt til den nye, den gamle "
                            "lenken virker ikke lenger)"),
    "registered_again": _l("Påmeldt på nytt etter avmelding, med plass"),
    "waiting_again": _l("Påmeldt på nytt etter avmelding, på venteliste"),
    "answers_changed": _l("Svar på arrangørens spørsmål endret"),
    "mode_changed": _l("Endret deltakelse (i salen eller digitalt)"),
}

# The fields a "details_changed" or "address_corrected" history line names
# (history.CHANGED_FIELDS).
REGISTRATION_FIELD_LABELS = {
    "name": _l("navn"),
    "job_title": _l("stilling"),
    "organisation": _l("virksomhet"),
    "needs": _l("behov"),
    "email": _l("e-post"),
    "mode": _l("deltakelse"),
}

# What the audit log's actions read as; an action not listed is shown as it is stored.
ACTION_LABELS = {
    "create": _l("Opprettet"),
    "edit": _l("Endret"),
    "publish": _l("Publiserte"),
    "move": _l("Flyttet"),
    "postpone": _l("Utsatte"),
    "reschedule": _l("Satte ny dato"),
    "cancel": _l("Avlyste"),
    "add_material": _l("La til materiale"),
    "remove_material": _l("Fjernet materiale"),
    "add_programme_item": _l("La til i programmet"),
    "change_programme_item": _l("Endret programmet"),
    "remove_programme_item": _l("Fjernet fra programmet"),
    "register": _l("Meldte på"),
    "promote": _l("Ga plass fra ventelisten"),
    "cancel_registration": _l("Meldte av"),
    "renew_link": _l("Sendte ny lenke (den gamle tilbakekalt)"),
    "export": _l("Eksporterte påmeldingene"),
    "calendar_reply_confirmed": _l("Godtok kalendersvar"),
    "calendar_reply_rejected": _l("Avviste kalendersvar"),
    "send": _l("Sendte"),
    "resend": _l("Sendte e-post på nytt"),
    "unsubscribe": _l("Meldte av e-postlisten"),
    "organiser_create": _l("Opprettet arrangørkonto"),
    "organiser_role": _l("Endret rolle"),
    "organiser_deactivate": _l("Deaktiverte arrangørkonto"),
    "organiser_reactivate": _l("Aktiverte arrangørkonto"),
    "organiser_password": _l("Satte nytt passord for arrangørkonto"),
    "organiser_totp_reset": _l("Nullstilte tofaktor for arrangørkonto"),
    "organiser_unlock": _l("Låste opp innlogging for arrangørkonto"),
    "organiser_create_sign_in": _l("Opprettet arrangørkonto ved første innlogging"),
    "organisation_edit": _l("Endret virksomhet"),
    "organisation_merge": _l("Slo sammen virksomheter"),
    "api_token_create": _l("Opprettet API-nøkkel"),
    "api_token_revoke": _l("Trakk tilbake API-nøkkel"),
    "api_request": _l("Leste via API-et"),
    "webhook_create": _l("La til webhook"),
    "webhook_edit": _l("Endret webhook"),
    "webhook_disable": _l("Slo av webhook"),
    "webhook_enable": _l("Slo på webhook"),
    "webhook_delete": _l("Slettet webhook"),
    "webhook_secret_shown": _l("Viste hemmeligheten til webhook"),
    "webhook_secret_rotated": _l("Laget ny hemmelighet for webhook"),
    "webhook_test": _l("Sendte testhendelse til webhook"),
    "webhook_resend": _l("Sendte webhook på nytt"),
    "seat_rules": _l("Endret plassreglene"),
    "add_question": _l("La til spørsmål"),
    "change_question": _l("Endret spørsmål"),
    "remove_question": _l("Fjernet spørsmål"),
    "move_question": _l("Flyttet spørsmål"),
}

# What an organiser's API key may read (api_tokens.SCOPES), and the state a key is in.
API_SCOPE_LABELS = {
    "gatherings:read": _l("Samlinger"),
    "registrations:read": _l("Påmeldinger (med personopplysninger)"),
    "answers:read": _l("Svar på egne spørsmål (med påmeldingene)"),
}
API_TOKEN_STATE_LABELS = {
    "active": _l("Virker"),
    "revoked": _l("Trukket tilbake"),
    "expired": _l("Utløpt"),
    "inactive": _l("Virker ikke (kontoen er deaktivert)"),
}

# What an organisation's fields are called where a change to them is told (the audit log).
ORGANISATION_FIELD_LABELS = {
    "name": _l("navn"), "sector": _l("sektor"), "org_number": _l("organisasjonsnummer"),
    "listed": _l("forslag i skjemaet"),
}

# What a gathering's fields are called where a change to them is told (the audit log).
FIELD_LABELS = {
    "title": _l("tittel"), "theme": _l("tema"), "format": _l("type"),
    "description": _l("beskrivelse"), "host": _l("arrangør"), "capacity": _l("antall plasser"),
    "registration_deadline": _l("påmeldingsfrist"), "reminder_days_before": _l("påminnelse"),
    "starts_at": _l("start"), "ends_at": _l("slutt"), "venue_name": _l("sted"),
    "venue_address": _l("adresse"),
    "mode": _l("deltakelse"), "online_capacity": _l("antall digitale plasser"),
    "meeting_url": _l("møtelenke"), "meeting_details": _l("møteinformasjon"),
}

# Who an announcement goes to.
AUDIENCE_LABELS = {
    Audience.CONFIRMED: _l("Påmeldte med plass"),
    Audience.WAITING: _l("Ventelisten"),
    Audience.MAILING_LIST: _l("E-postlisten (nyhetsbrevet)"),
}

# --- calendar replies ---------------------------------------------------------------------------

# A reply's answer (PARTSTAT) and what became of it, in words; an answer not listed is shown as
# it came.
ANSWER_LABELS = {"ACCEPTED": _l("Godtatt"), "TENTATIVE": _l("Foreløpig"), "DECLINED": _l("Avslått")}
REPLY_OUTCOME_LABELS = {
    ReplyOutcome.APPLIED: _l("Brukt"),
    ReplyOutcome.IGNORED: _l("Ikke brukt"),
    ReplyOutcome.HELD: _l("Til vurdering"),
    ReplyOutcome.REJECTED: _l("Avvist"),
}

# --- mail: its kind, its state in the outbox, why it was not delivered --------------------------

KIND_LABELS = {
    "confirmation": _l("Bekreftelse med kalenderinvitasjon"),
    "waiting_list": _l("Plass på venteliste"),
    "promotion": _l("Fått plass, med kalenderinvitasjon"),
    "cancellation": _l("Avmelding"),
    "already_registered": _l("Allerede påmeldt (lenken på nytt)"),
    "new_link": _l("Ny lenke til påmeldingen"),
    "reminder": _l("Påminnelse"),
    "reconfirm_reminder": _l("Kan du fortsatt komme?"),
    "feedback_survey": _l("Spørreundersøkelse etter samlingen"),
    "gathering_moved": _l("Ny tid eller nytt sted"),
    "gathering_postponed": _l("Utsatt"),
    "gathering_rescheduled": _l("Ny dato"),
    "gathering_cancelled": _l("Avlyst"),
    "announcement": _l("Kunngjøring"),
    "announcement_list": _l("Nyhetsbrev"),
    "mailing_list_confirm": _l("Bekreft nyhetsbrev"),
    "details_changed": _l("Navnet endret, oppdatert kalenderinvitasjon"),
    "address_corrected": _l("Adressen rettet: invitasjon og ny lenke til den nye"),
    "address_withdrawn": _l("Adressen rettet: invitasjonen trukket tilbake fra den gamle"),
    "meeting_changed": _l("Ny møtelenke, oppdatert kalenderinvitasjon"),
    "mode_changed": _l("Endret deltakelse, oppdatert kalenderinvitasjon"),
}

MAIL_STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Venter på sending"),
    OutboxStatus.SENT: _l("Sendt"),
    OutboxStatus.FAILED: _l("Feilet"),
}

# Why a message was not delivered (outcomes.py's kinds), in words an organiser can act on; the
# server's own code and words are shown beside.
MAIL_OUTCOME_LABELS = {
    outcomes.NO_SUCH_RECIPIENT: _l("Mottakeradressen finnes ikke"),
    outcomes.MAILBOX_FULL: _l("Mottakerens postkasse er full"),
    outcomes.POLICY: _l("Avvist som søppelpost eller av mottakerens regler"),
    outcomes.REFUSED: _l("Mottakerens e-posttjener avviste e-posten"),
    outcomes.UTF8_ADDRESS: _l("Adressen har tegn før @ som e-posttjeneren ikke kan levere til "
                              "(krever SMTPUTF8)"),
    outcomes.UTF8_HEADERS: _l("E-posten har tegn i toppfeltene som e-posttjeneren ikke kan ta "
                              "imot (krever SMTPUTF8)"),
    outcomes.BAD_ADDRESS: _l("Adressen kan ikke brukes i e-post"),
    outcomes.ERROR: _l("Uventet feil i utsendingen (se loggen til arbeidsprosessen)"),
    outcomes.TRY_LATER: _l("E-posttjeneren ba oss prøve igjen senere"),
    outcomes.UNREACHABLE: _l("Fikk ikke kontakt med e-posttjeneren"),
    outcomes.TIMEOUT: _l("E-posttjeneren svarte ikke i tide"),
    outcomes.CONNECTION_LOST: _l("Forbindelsen til e-posttjeneren brøt"),
    outcomes.TLS: _l("Fikk ikke en sikker forbindelse (TLS) til e-posttjeneren"),
    outcomes.SENDER_REFUSED: _l("E-posttjeneren avviste avsenderadressen vår (feil i oppsettet)"),
    outcomes.LOGIN_REFUSED: _l("E-posttjeneren godtok ikke innloggingen vår (feil i oppsettet)"),
}


# --- webhooks (webhooks/) -----------------------------------------------------------------------

# The events an endpoint subscribes to (webhooks.EVENTS), and the test event.
WEBHOOK_EVENT_LABELS = {
    "registration.created": _l("Ny påmelding"),
    "registration.cancelled": _l("Avmelding"),
    "registration.promoted": _l("Fått plass fra ventelisten"),
    "registration.checked_in": _l("Sjekket inn"),
    "gathering.changed": _l("Samling flyttet, utsatt, gitt ny dato, avlyst eller endret"),
    "ping": _l("Testhendelse"),
}

# An endpoint's fields, where a change to them is told (the audit log).
WEBHOOK_FIELD_LABELS = {"url": _l("adresse"), "description": _l("beskrivelse"),
                        "events": _l("hendelser")}

# Why a delivery did not go (webhooks/delivery.py's kinds); the technical words are shown beside.
WEBHOOK_ERROR_LABELS = {
    "http_status": _l("Mottakeren svarte med en feilkode"),
    "timeout": _l("Mottakeren svarte ikke i tide"),
    "connection": _l("Fikk ikke kontakt med mottakeren"),
    "refused_address": _l("Adressen peker til et internt eller privat nett"),
    "tls": _l("Fikk ikke en sikker forbindelse (TLS) til mottakeren"),
    "error": _l("Uventet feil i utsendingen (se loggen til arbeidsprosessen)"),
}

# --- seat rules (issue 16) ------------------------------------------------------------------------

# The rule an organiser gave a seat past (the audit log: "forbi grensen per virksomhet").
SEAT_RULE_LABELS = {
    "organisation_cap": _l("Grensen per virksomhet"),
    "held": _l("Plassene holdt av for en sektor"),
}

# What kind of answer an organiser's own question takes (questions.py, models.QuestionKind).
QUESTION_KIND_LABELS = {
    "short_text": _l("Kort tekst"),
    "long_text": _l("Lang tekst"),
    "one_choice": _l("Ett valg (radioknapper)"),
    "several_choices": _l("Flere valg (avkrysningsbokser)"),
    "yes_no": _l("Ja eller nei"),
}

# --- participation modes (participation.py) ---------------------------------------------------

# How a gathering is held, as its page and the organisers' pages say it.
GATHERING_MODE_LABELS = {
    GatheringMode.IN_PERSON: _l("Fysisk"),
    GatheringMode.ONLINE: _l("Digitalt"),
    GatheringMode.HYBRID: _l("Hybrid: i salen eller digitalt"),
}

# How one person attends.
ATTENDANCE_MODE_LABELS = {
    AttendanceMode.IN_PERSON: _l("I salen"),
    AttendanceMode.ONLINE: _l("Digitalt"),
}
