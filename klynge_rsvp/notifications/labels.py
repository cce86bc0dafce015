"""What each kind of email, each state of one in the outbox, and each reason one was not
delivered are called on organisers' pages.

One list for the mail log and a registration's page; a kind not listed is shown as it is stored.
"""

from flask_babel import lazy_gettext as _l

from ..mail import outcomes
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
    "details_changed": _l("Navnet endret, oppdatert kalenderinvitasjon"),
    "address_corrected": _l("Adressen rettet: invitasjon og ny lenke til den nye"),
    "address_withdrawn": _l("Adressen rettet: invitasjonen trukket tilbake fra den gamle"),
}

MAIL_STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Venter på sending"),
    OutboxStatus.SENT: _l("Sendt"),
    OutboxStatus.FAILED: _l("Feilet"),
}

# Why a message was not delivered (outcomes.py's kinds), in words an organiser can act on; the
# server's own code and words are shown beside.
OUTCOME_LABELS = {
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
