"""Download a gathering's registrations as CSV or Excel (with the list's filters, if any).

Both stream: rows are read from the database a batch at a time (rsvp.registration_batches),
with their answers per batch, and written out as they come; the Excel file is built in a
temporary file, which is sent and then gone. A download of 50,000 people takes the same
memory as one of 50 (issue 20; bench/growth.py measures it).
"""

import tempfile

from flask import Response, stream_with_context

from .. import exports, history, participation, questions, rsvp
from ..clock import utcnow
from ..database import begin_writing
from ..extensions import db
from ..stored_text import said
from . import bp
from .gatherings import get_gathering_or_404, me, zone
from .registrations import all_filters

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_STORE = {"Cache-Control": "no-store"}
CHUNK = 64 * 1024
# Rows read from the database at a time (and their answers with them).
BATCH = 500


@bp.get("/samlinger/<int:gathering_id>/pameldinger.csv", endpoint="export_csv")
def export_csv(gathering_id):
    """The registrations as semicolon-separated CSV (UTF-8 with BOM, for Excel)."""
    gathering = get_gathering_or_404(gathering_id)
    header, batches = _table(gathering, "csv")
    return Response(stream_with_context(exports.csv_chunks(batches, header)),
                    mimetype="text/csv; charset=utf-8", headers={
                        **NO_STORE, "Content-Disposition":
                        f'attachment; filename="pameldinger-{gathering.slug}.csv"'})


@bp.get("/samlinger/<int:gathering_id>/pameldinger.xlsx", endpoint="export_xlsx")
def export_xlsx(gathering_id):
    """The registrations as an Excel workbook."""
    gathering = get_gathering_or_404(gathering_id)
    header, batches = _table(gathering, "xlsx")
    workbook = tempfile.TemporaryFile()  # noqa: SIM115 (closed once sent, and then gone)
    try:
        exports.write_xlsx(workbook, batches, header)
        workbook.seek(0)
    except BaseException:
        workbook.close()
        raise

    def chunks():
        with workbook:
            while chunk := workbook.read(CHUNK):
                yield chunk

    response = Response(chunks(), mimetype=XLSX, headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="pameldinger-{gathering.slug}.xlsx"'})
    response.call_on_close(workbook.close)  # also when the download is broken off
    return response


def _table(gathering, extension):
    """The header, and the rows in batches (read as they are asked for), after the audit line
    that says who took them."""
    filters = all_filters(gathering)
    with_mode = participation.asks_mode(gathering)
    asked = questions.questions_of(gathering)
    # Personal data leaving the system: the audit log says who took it, and when.
    count = rsvp.count_rows(gathering.id, **filters)
    begin_writing()
    history.audit("export", by=me(), now=utcnow(), gathering=gathering,
                  summary=said("exported", count=count, format=extension.upper()))
    db.session.commit()
    places, where = rsvp.waiting_places(gathering), zone()
    labels = exports.translated_labels()

    def batches():
        for found in rsvp.registration_batches(gathering.id, exports.COLUMNS, places=places,
                                               size=BATCH, **filters):
            table = exports.rows(found, zone=where, with_mode=with_mode, labels=labels)
            # A column per question of the organisers', after the standard ones.
            answers = questions.answer_table(gathering.id, [row.id for row in found]) if asked else {}
            yield exports.with_answers(table, [row.id for row in found], asked, answers)

    return exports.header_with_questions(asked, with_mode=with_mode), batches()
