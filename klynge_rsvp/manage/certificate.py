"""The attendance certificate: its download behind the manage link, and the public page that
verifies it (/bevis/<code>). The words and the PDF are made in `certificates.py`."""

from flask import Blueprint, Response, current_app, render_template
from sqlalchemy.exc import IntegrityError

from .. import certificates
from ..clock import utcnow
from ..extensions import db, limiter
from ..i18n import current_language
from ..links import absolute_url
from . import bp
from .views import get_registration_or_404

verify_bp = Blueprint("certificates", __name__)


def _verify_limit() -> str:
    return current_app.config["CERTIFICATE_VERIFY_RATE_LIMIT"]


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/<token>/deltakerbevis.pdf")
def certificate(token):
    """The person's certificate as a PDF, in the language they registered in; a clear page
    (403) while they have none: not checked in, no seat, or the gathering not yet started."""
    registration = get_registration_or_404(token)
    now = utcnow()
    if not certificates.available(registration, now=now):
        return _private(Response(render_template(
            "manage/certificate_unavailable.html", registration=registration,
            gathering=registration.gathering), status=403))
    try:
        issued = certificates.issue(registration, now=now)
        db.session.commit()
    except IntegrityError:  # two first downloads at once: the other one made it; use that
        db.session.rollback()
        issued = certificates.issue(registration, now=now)
    content = certificates.content_for(
        registration, verify_url=absolute_url("certificates.verify", code=issued.code),
        network=current_app.config["KLYNGE_NETWORK_NAME"])
    body = certificates.render_pdf(content, created=issued.issued_at)
    return _private(Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="deltakerbevis.pdf"'}))


@verify_bp.get("/bevis/<code>")
@limiter.limit(_verify_limit)
def verify(code):
    """Whether a certificate is genuine, showing no more than the certificate itself shows."""
    result = certificates.verify(code, now=utcnow())
    status = {certificates.Validity.VALID: 200, certificates.Validity.REVOKED: 410,
              certificates.Validity.UNKNOWN: 404}[result.validity]
    registration = result.registration
    return _private(Response(render_template(
        "certificates/verify.html", validity=result.validity.value, registration=registration,
        gathering=registration.gathering if registration else None,
        hours=certificates.hours_text(certificates.hours(registration), current_language())
        if registration else None), status=status))


@bp.app_template_global("certificate_available")
def certificate_available(registration) -> bool:
    """For the manage page's one link to the certificate (templates/manage/show.html)."""
    return certificates.available(registration, now=utcnow())
