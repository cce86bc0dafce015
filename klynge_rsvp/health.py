"""/healthz for load balancers and monitoring: the database, and how the outbox is doing."""

import sqlalchemy as sa
from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .clock import utcnow
from .extensions import db, limiter
from .models import OutboxMessage, OutboxStatus

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """200 with outbox figures when the database answers; 503 when it does not."""
    try:
        pending, oldest = db.session.execute(
            sa.select(sa.func.count(), sa.func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status == OutboxStatus.PENDING)
        ).one()
        failed = db.session.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.FAILED))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    if oldest is not None and oldest.tzinfo is None:  # SQLite returns the raw text's datetime
        oldest = OutboxMessage.created_at.type.process_result_value(oldest, None)
    age = (utcnow() - oldest).total_seconds() if oldest else 0
    response = jsonify(status="ok", database="ok",
                       outbox={"pending": pending, "failed": failed,
                               "oldest_pending_seconds": round(age, 1)})
    response.headers["Cache-Control"] = "no-store"
    return response
