"""The floor (issue 20): the least a Flask + Flask-WTF app must do for the same journey.

A registration through it is what a registration through Klynge is, minus Klynge's own work:

    GET  /samlinger/<slug>              a form page with a CSRF token (Flask-WTF, session cookie)
    POST /samlinger/<slug>              validate the form and the token, insert the registration and
                                        one outbox row holding a prebuilt 8 KB message, commit, 303
    GET  /samlinger/<slug>/kvittering   a receipt page read back from the database

Served like the real app (gunicorn, gunicorn.conf.py, 2 sync workers, the same database and
SQLite settings) and driven by the same load client (bench/loadgen.py, mode `register`):
`gunicorn bench.floor_app:app` with DATABASE_URL and SECRET_KEY set. The harness makes its two
tables first (`create_tables`); they live beside the app's own in the same database.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, abort, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from jinja2 import DictLoader
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from klynge_rsvp.database import configure_engine, deferred_transactions

metadata = sa.MetaData()
registrations = sa.Table(
    "floor_registrations", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(80), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("job_title", sa.String(200), nullable=False),
    sa.Column("organisation", sa.String(200), nullable=False),
    sa.Column("sector", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
outbox = sa.Table(
    "floor_outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("registration_id", sa.Integer, nullable=False),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# The prebuilt message: 8 KB, about the size of Klynge's confirmation (text, HTML, calendar, QR).
MESSAGE = (b"From: klynge@bench.test\r\nSubject: Bekreftelse\r\n\r\n"
           + b"x" * 76 + b"\r\n") * 100
MESSAGE = MESSAGE[:8192]

PAGE = """<!doctype html><html lang="nb"><title>{{ slug }}</title>
<h1>Påmelding: {{ slug }}</h1>
<form method="post">{{ form.hidden_tag() }}
{% for field in [form.name, form.email, form.job_title, form.organisation, form.sector,
                 form.consent] %}<p>{{ field.label }} {{ field() }}
{% for error in field.errors %}<span>{{ error }}</span>{% endfor %}</p>{% endfor %}
<button>Meld meg på</button></form>"""
RECEIPT = """<!doctype html><html lang="nb"><title>Kvittering</title>
<h1>Takk, {{ row.name }}</h1><p>{{ row.email }}, {{ row.organisation }}</p>"""


class RegistrationForm(FlaskForm):
    name = StringField("Navn", validators=[DataRequired(), Length(max=200)])
    email = EmailField("E-post", validators=[DataRequired(), Email(check_deliverability=False)])
    job_title = StringField("Stilling", validators=[Length(max=200)])
    organisation = StringField("Virksomhet", validators=[DataRequired(), Length(max=200)])
    sector = SelectField("Sektor", choices=[SelectChoice("offentlig", "Offentlig"),
                                            SelectChoice("privat", "Privat")])
    consent = BooleanField("Samtykke", validators=[DataRequired()])


def make_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    configure_engine(engine)  # the same SQLite pragmas and write transactions as the app
    return engine


def create_tables(url: str) -> None:
    """Made by the harness before the server starts (two workers must not race to make them)."""
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()


app = Flask(__name__)
# Templates compiled once per process, as a real app's files are (render_template_string would
# compile them on every request).
app.jinja_loader = DictLoader({"page.html": PAGE, "receipt.html": RECEIPT})
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "floor")
# Under gunicorn DATABASE_URL is set; the harness imports this module only for create_tables.
engine = make_engine(os.environ["DATABASE_URL"]) if "DATABASE_URL" in os.environ else None


@app.get("/healthz")
def healthz():
    return "ok"


@app.route("/samlinger/<slug>", methods=["GET", "POST"])
def register(slug: str):
    form = RegistrationForm()
    if form.validate_on_submit():
        now = datetime.now(UTC)
        with engine.begin() as connection:
            registration_id = connection.execute(registrations.insert().values(
                slug=slug, name=form.name.data, email=form.email.data,
                job_title=form.job_title.data or "", organisation=form.organisation.data,
                sector=form.sector.data, created_at=now).returning(registrations.c.id)).scalar_one()
            connection.execute(outbox.insert().values(
                registration_id=registration_id, recipient=form.email.data, message=MESSAGE,
                created_at=now))
        session["receipt"] = registration_id
        return redirect(url_for("receipt", slug=slug), 303)
    return render_template("page.html", slug=slug, form=form)


@app.get("/samlinger/<slug>/kvittering")
def receipt(slug: str):
    if "receipt" not in session:
        abort(404)
    deferred_transactions.set(True)
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.select(registrations)
                                     .where(registrations.c.id == session["receipt"])).first()
    finally:
        deferred_transactions.set(False)
    if row is None:
        abort(404)
    return render_template("receipt.html", row=row)
