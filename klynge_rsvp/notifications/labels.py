"""What each kind of email, and each state of one in the outbox, is called on organisers' pages.

One list for the mail log and a registration's page; a kind not listed is shown as it is stored.
"""

from flask_babel import lazy_gettext as _l

from ..models import OutboxStatus

KIND_LABELS = {
    "confirmation": _l("Bekreftelse med kalenderinvitasjon"),
    "waiting_list": _l("Plass på venteliste"),
    "promotion": _l("Fått plass, med kalenderinvitasjon"),
    "cancellation": _l("Avmelding"),
    "already_registered": _l("Allerede påmeldt (lenken på nytt)"),
    "new_link": _l("Ny lenke til påmeldingen"),
    "reminder": _l("Påminnelse"),
    "reconfirm_reminder": _l("Kan du fortsatt komme?"),
    "gathering_moved": _l("Ny tid eller nytt sted"),
    "gathering_postponed": _l("Utsatt"),
    "gathering_rescheduled": _l("Ny dato"),
    "gathering_cancelled": _l("Avlyst"),
    "announcement": _l("Kunngjøring"),
    "announcement_list": _l("Nyhetsbrev"),
    "mailing_list_confirm": _l("Bekreft nyhetsbrev"),
}

MAIL_STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Venter på sending"),
    OutboxStatus.SENT: _l("Sendt"),
    OutboxStatus.FAILED: _l("Feilet"),
}
