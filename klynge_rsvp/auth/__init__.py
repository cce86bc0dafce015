"""Organisers log in and out."""

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from .. import organisers
from ..clock import utcnow
from ..extensions import db, limiter, login_manager
from ..models import Organiser
from ..redirects import same_site_path

bp = Blueprint("auth", __name__, url_prefix="/arrangor")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-post"), validators=[
        DataRequired(_l("Skriv inn e-postadressen din.")),
        Length(max=254, message=_l("E-postadressen er for lang.")),
    ], render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Passord"), validators=[
        DataRequired(_l("Skriv inn passordet ditt.")),
        Length(max=500, message=_l("Passordet er for langt.")),
    ], render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Logg inn"))


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect to somewhere else.
    return same_site_path(target, url_for("admin.index"))


@bp.route("/innlogging", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        organiser = organisers.authenticate(form.email.data, form.password.data, now=utcnow())
        if organiser is not None:
            db.session.commit()
            login_user(organiser)
            return redirect(_safe_next(request.args.get("next")))
        # One message whether the address or the password was wrong.
        form.form_errors.append(_("Feil e-postadresse eller passord."))
    return render_template("auth/login.html", form=form), 422 if form.errors else 200


@bp.post("/utlogging")
@login_required
def logout():
    """Log out (POST with CSRF, so a link on another site cannot log you out)."""
    logout_user()
    flash(_("Du er logget ut."), "success")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Flask-Login and Flask-Limiter set-up."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Logg inn for å se denne siden.")
    login_manager.localize_callback = str  # the lazy message, in the language of the request
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    limiter.init_app(app)

    @login_manager.user_loader
    def load_organiser(organiser_id: str):
        return db.session.get(Organiser, int(organiser_id))

    @app.errorhandler(429)
    def too_many_requests(error):
        return render_template("errors/429.html"), 429

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("errors/403.html"), 403
