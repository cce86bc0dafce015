"""The organisers' overview, and the audit log of who did what."""

import sqlalchemy as sa
from flask import render_template, request

from .. import participation, statistics
from ..clock import utcnow
from ..extensions import db
from ..labels import ACTION_LABELS, GATHERING_STATUS_LABELS
from ..models import AuditEntry, Gathering, GatheringMode
from . import bp

AUDIT_PAGE_SIZE = 50




@bp.get("/")
def index():
    """Upcoming gatherings and how full they are, attendance, reach, and mail that failed."""
    now = utcnow()
    upcoming = statistics.upcoming_fill(now)
    past = statistics.past_attendance(now, limit=statistics.PAST_ON_OVERVIEW)
    reach = statistics.recent_reach(now)
    organisations_chart, people_chart = statistics.sector_charts(reach)
    return render_template(
        "admin/index.html", now=now, upcoming=upcoming, past=past, reach=reach,
        statuses=GATHERING_STATUS_LABELS, past_limit=statistics.PAST_ON_OVERVIEW,
        failed_mail=statistics.failed_mail_count(),
        fill_chart=statistics.svg(statistics.fill_chart(upcoming)),
        attendance_chart=statistics.svg(statistics.attendance_chart(past)),
        organisations_chart=statistics.svg(organisations_chart),
        people_chart=statistics.svg(people_chart),
        modes=_counts_by_mode([row.gathering_id for row in upcoming]),
    )


def _counts_by_mode(gathering_ids: list[int]) -> dict:
    """Gathering id → its counts per mode (participation.counts_by_mode), for hybrid ones."""
    hybrid = db.session.scalars(sa.select(Gathering).where(
        Gathering.id.in_(gathering_ids), Gathering.mode == GatheringMode.HYBRID))
    return {gathering.id: participation.counts_by_mode(gathering) for gathering in hybrid}


@bp.get("/revisjonslogg")
def audit_log():
    """Every organiser action, newest first; filter by gathering and by kind of action (an
    organiser API key writes a line per request, which would bury the rest)."""
    gathering_id = request.args.get("samling", type=int)
    action = request.args.get("handling", "")
    action = action if action in ACTION_LABELS else ""
    query = (sa.select(AuditEntry).options(sa.orm.joinedload(AuditEntry.gathering))
             .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    if gathering_id:
        query = query.where(AuditEntry.gathering_id == gathering_id)
    if action:
        query = query.where(AuditEntry.action == action)
    page = db.paginate(query, page=request.args.get("side", 1, type=int),
                       per_page=AUDIT_PAGE_SIZE, error_out=False)
    gatherings = db.session.execute(
        sa.select(Gathering.id, Gathering.title, Gathering.starts_at)
        .order_by(Gathering.starts_at.desc())
    ).all()
    return render_template("admin/audit/index.html", page=page, gatherings=gatherings,
                           gathering_id=gathering_id, action=action, labels=ACTION_LABELS)
