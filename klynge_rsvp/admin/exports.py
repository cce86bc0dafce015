"""Download a gathering's registrations as CSV or Excel (with the list's filters, if any)."""

from flask import Response

from .. import exports, history, participation, questions, rsvp
from ..clock import utcnow
from ..database import begin_writing
from ..extensions import db
from ..stored_text import said
from . import bp
from .gatherings import get_gathering_or_404, me, zone
from .registrations import filtered_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/samlinger/<int:gathering_id>/pameldinger.csv", endpoint="export_csv")
def export_csv(gathering_id):
    """The registrations as semicolon-separated CSV (UTF-8 with BOM, for Excel)."""
    return _download(gathering_id, "csv", exports.csv_bytes, "text/csv; charset=utf-8")


@bp.get("/samlinger/<int:gathering_id>/pameldinger.xlsx", endpoint="export_xlsx")
def export_xlsx(gathering_id):
    """The registrations as an Excel workbook."""
    return _download(gathering_id, "xlsx", exports.xlsx_bytes, XLSX)


def _download(gathering_id, extension, build, mimetype):
    gathering = get_gathering_or_404(gathering_id)
    found = filtered_rows(gathering, exports.COLUMNS)
    with_mode = participation.asks_mode(gathering)
    table = exports.rows(found, waiting_positions=rsvp.waiting_positions(gathering), zone=zone(),
                         with_mode=with_mode)
    # A column per question of the organisers', after the standard ones.
    asked = questions.questions_of(gathering)
    answers = questions.answer_table(gathering.id) if asked else {}
    table = exports.with_answers(table, [row.id for row in found], asked, answers)
    header = exports.header_with_questions(asked, with_mode=with_mode)
    # Personal data leaving the system: the audit log says who took it, and when.
    begin_writing()
    history.audit("export", by=me(), now=utcnow(), gathering=gathering,
                  summary=said("exported", count=len(table), format=extension.upper()))
    db.session.commit()
    return Response(build(table, header), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="pameldinger-{gathering.slug}.{extension}"',
        "Cache-Control": "no-store",
    })
