"""The baselines' web app: bare Flask endpoints doing the least the real pages must do.

Served like the real app (gunicorn, gunicorn.conf.py, same worker count, same database and
SQLite settings): `gunicorn bench.baseline_app:app` with DATABASE_URL set.

    POST /insert           insert one row (the registration baseline)
    GET  /row              read one row, render it in a tiny template (the page baseline)
    GET  /export.csv?g=ID  a gathering's registrations with one SQL query, through csv.writer
    GET  /export.xlsx?g=ID the same through XlsxWriter in constant-memory mode
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, Response, render_template_string, request

from klynge_rsvp.database import configure_engine, deferred_transactions

metadata = sa.MetaData()
rows = sa.Table(
    "bench_baseline", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

EXPORT_SQL = sa.text(
    "SELECT r.name, r.email, r.job_title, o.name, o.sector, r.status, r.created_at, r.needs,"
    " r.comment FROM registrations r JOIN organisations o ON o.id = r.organisation_id"
    " WHERE r.gathering_id = :g ORDER BY r.name, r.id"
)
HEADER = ["Navn", "E-post", "Stilling", "Virksomhet", "Sektor", "Status", "Påmeldt", "Behov",
          "Kommentar"]


def make_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    configure_engine(engine)  # the same SQLite pragmas and write transactions as the app
    return engine


def create_table(url: str) -> None:
    """Made by the harness before the server starts (two workers must not race to make it)."""
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()


app = Flask(__name__)
# Under gunicorn DATABASE_URL is set; the harness imports this module only for create_table.
engine = make_engine(os.environ["DATABASE_URL"]) if "DATABASE_URL" in os.environ else None


@app.get("/healthz")
def healthz():
    return "ok"


@app.post("/insert")
def insert():
    with engine.begin() as connection:
        connection.execute(rows.insert().values(email=request.form["email"],
                                                created_at=datetime.now(UTC)))
    return "ok", 201


@app.get("/row")
def row():
    deferred_transactions.set(True)
    try:
        with engine.connect() as connection:
            found = connection.execute(sa.select(rows).order_by(rows.c.id).limit(1)).first()
    finally:
        deferred_transactions.set(False)
    return render_template_string("<!doctype html><title>rad</title><p>{{ row }}</p>", row=found)


def _export_rows() -> list:
    deferred_transactions.set(True)
    try:
        with engine.connect() as connection:
            return connection.execute(EXPORT_SQL, {"g": request.args.get("g", type=int)}).all()
    finally:
        deferred_transactions.set(False)


@app.get("/export.csv")
def export_csv():
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(HEADER)
    writer.writerows(_export_rows())
    return Response(("\ufeff" + out.getvalue()).encode(), mimetype="text/csv")


@app.get("/export.xlsx")
def export_xlsx():
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True})
    sheet = workbook.add_worksheet("Påmeldinger")
    sheet.write_row(0, 0, HEADER)
    for number, found in enumerate(_export_rows(), start=1):
        sheet.write_row(number, 0, [value.replace(tzinfo=None) if isinstance(value, datetime)
                                    else value for value in found])
    workbook.close()
    return Response(out.getvalue(), mimetype="application/octet-stream")
