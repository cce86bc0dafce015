"""Organisers' view of a gathering's survey answers: the distribution, the comments, and CSV.

The answers carry no person (feedback.py), so nothing here can show who said what.
"""

from flask import Response, render_template
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from .. import exports, feedback
from ..clock import utcnow
from . import bp
from .gatherings import get_gathering_or_404

CSV_HEADER = [_l("Dato"), _l("Vurdering (1–5)"), _l("Hva var nyttig?"), _l("Hva bør vi endre?"),
              _l("Ønskede temaer")]


@bp.get("/samlinger/<int:gathering_id>/tilbakemeldinger", endpoint="feedback")
def results(gathering_id):
    gathering = get_gathering_or_404(gathering_id)
    now = utcnow()
    found = feedback.results(gathering)
    mean = format_decimal(found.mean, "0.0") if found.mean is not None else ""
    return render_template("admin/feedback/index.html", gathering=gathering,
                           results=found, mean=mean,
                           open=feedback.is_open(gathering, now=now),
                           ended=gathering.is_past(now), closes_at=feedback.closes_at(gathering))


@bp.get("/samlinger/<int:gathering_id>/tilbakemeldinger.csv", endpoint="feedback_csv")
def results_csv(gathering_id):
    """The answers as CSV, through the registrations export's formula-safe writer."""
    gathering = get_gathering_or_404(gathering_id)
    table = [[answer.created_on.strftime("%d.%m.%Y"), answer.rating,
              exports.neutralise(answer.useful), exports.neutralise(answer.change),
              exports.neutralise(answer.wishes)]
             for answer in feedback.results(gathering).answers]
    return Response(exports.csv_bytes(table, header=CSV_HEADER),
                    mimetype="text/csv; charset=utf-8", headers={
                        "Content-Disposition":
                            f'attachment; filename="tilbakemeldinger-{gathering.slug}.csv"',
                        "Cache-Control": "no-store"})
