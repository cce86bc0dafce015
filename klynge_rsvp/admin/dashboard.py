"""The organisers' overview, and the audit log of who did what."""

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import lazy_gettext as _l

from .. import statistics
from ..clock import utcnow
from ..extensions import db
from ..models import AuditEntry, Gathering, GatheringStatus
from . import bp

AUDIT_PAGE_SIZE = 50

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
    "organiser_create_sign_in": _l("Opprettet arrangørkonto ved første innlogging"),
    "organiser_totp_reset": _l("Nullstilte tofaktor for arrangørkonto"),
    "organiser_unlock": _l("Låste opp innlogging for arrangørkonto"),
}

# A gathering's status on the overview (upcoming gatherings are never "held").
GATHERING_STATUS_LABELS = {
    GatheringStatus.DRAFT: _l("Utkast"),
    GatheringStatus.PUBLISHED: _l("Publisert"),
    GatheringStatus.POSTPONED: _l("Utsatt"),
    GatheringStatus.CANCELLED: _l("Avlyst"),
}


@bp.get("/")
def index():
    """Upcoming gatherings and how full they are, attendance, reach, and mail that failed."""
    now = utcnow()
    upcoming = statistics.upcoming_fill(now)
    past = statistics.past_attendance(now)
    reach = statistics.recent_reach(now)
    organisations_chart, people_chart = statistics.sector_charts(reach)
    return render_template(
        "admin/index.html", now=now, upcoming=upcoming, past=past, reach=reach,
        statuses=GATHERING_STATUS_LABELS,
        failed_mail=statistics.failed_mail_count(),
        fill_chart=statistics.svg(statistics.fill_chart(upcoming)),
        attendance_chart=statistics.svg(statistics.attendance_chart(past)),
        organisations_chart=statistics.svg(organisations_chart),
        people_chart=statistics.svg(people_chart),
    )


@bp.get("/revisjonslogg")
def audit_log():
    """Every organiser action, newest first; filter by gathering."""
    gathering_id = request.args.get("samling", type=int)
    query = (sa.select(AuditEntry).options(sa.orm.joinedload(AuditEntry.gathering))
             .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    if gathering_id:
        query = query.where(AuditEntry.gathering_id == gathering_id)
    page = db.paginate(query, page=request.args.get("side", 1, type=int),
                       per_page=AUDIT_PAGE_SIZE, error_out=False)
    gatherings = db.session.execute(
        sa.select(Gathering.id, Gathering.title, Gathering.starts_at)
        .order_by(Gathering.starts_at.desc())
    ).all()
    return render_template("admin/audit/index.html", page=page, gatherings=gatherings,
                           gathering_id=gathering_id, labels=ACTION_LABELS)
