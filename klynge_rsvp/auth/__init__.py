"""Organisers log in (the password, then a code where a second factor is set up) and out, and
look after their own account: password, second factor, recovery codes."""

import logging
import os
from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from .. import database, organisers, two_factor
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db, limiter, login_manager
from ..login_throttle import LockedOut
from ..models import Organiser
from ..redirects import same_site_path
from . import oidc, sessions
from .forms import CodeForm, EnrolForm, PasswordChangeForm, RecoveryCodesForm

log = logging.getLogger(__name__)

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


# Per client address, one count for every step that checks a secret (password, code, the
# current password before a change), in RATELIMIT_STORAGE_URI: shared by all servers with Redis.
login_attempts = limiter.shared_limit(_login_limit, scope="organiser-login", methods=["POST"])


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect to somewhere else.
    return same_site_path(target, url_for("admin.index"))


@bp.route("/innlogging", methods=["GET", "POST"])
@login_attempts
def login():
    """Log in with email and password (then a code, where a second factor is set up)."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    password_login = current_app.config["KLYNGE_PASSWORD_LOGIN"]
    if request.method == "POST" and not password_login:
        form.form_errors.append(_("Innlogging med passord er slått av. Logg inn med kontoen "
                                  "fra arbeidsgiveren din."))
        return _login_page(form, 403)
    if form.validate_on_submit():
        session.pop(sessions.SIGN_IN_KEY, None)
        now = utcnow()
        try:
            organiser = organisers.authenticate(form.email.data, form.password.data, now=now)
        except LockedOut as error:
            return _locked_out("auth/login.html", form, error)
        step = _second_step(organiser) if organiser is not None else None
        if step is not None:
            sessions.begin_pending(session, organiser, step, now=now)
            target = ".login_code" if step == sessions.CODE else ".two_factor_setup"
            return redirect(url_for(target, next=request.args.get("next")))
        if organiser is not None:
            organisers.complete_login(organiser, now=now)
            db.session.commit()
            _log_in(organiser)
            return redirect(_safe_next(request.args.get("next")))
        db.session.commit()  # the failed attempt counts
        # One message whether the address or the password was wrong.
        form.form_errors.append(_("Feil e-postadresse eller passord."))
    return _login_page(form, 422 if form.errors else 200)


def _login_page(form, status: int):
    return render_template("auth/login.html", form=form, providers=oidc.providers(),
                           password_login=current_app.config["KLYNGE_PASSWORD_LOGIN"]), status


@bp.route("/innlogging/kode", methods=["GET", "POST"])
@login_attempts
def login_code():
    """The second step: the code from the app, or a recovery code."""
    now = utcnow()
    organiser = _pending(sessions.CODE)
    if organiser is None:
        return _start_over()
    form = CodeForm()
    if form.validate_on_submit():
        try:
            kind = organisers.check_second_factor(organiser, form.code.data, now=now)
        except LockedOut as error:
            return _locked_out("auth/login_code.html", form, error)
        if kind is not None:
            organisers.complete_login(organiser, now=now)
            left = two_factor.recovery_codes_left(organiser)
            db.session.commit()
            _log_in(organiser)
            if kind == "recovery":
                flash(_("Du logget inn med en gjenopprettingskode, og har %(num)s igjen. Du kan "
                        "lage nye under Min konto.", num=left), "info")
            return redirect(_safe_next(request.args.get("next")))
        db.session.commit()  # the failed attempt counts
        form.code.errors.append(_("Koden stemmer ikke, eller den er brukt før. Vent på neste "
                                  "kode i appen, eller bruk en gjenopprettingskode."))
    return render_template("auth/login_code.html", form=form), 422 if form.errors else 200


@bp.post("/utlogging")
@login_required
def logout():
    """Log out (POST with CSRF, so a link on another site cannot log you out). Every session
    of the account ends, on every server, so a copy of the cookie is worth nothing."""
    organisers.end_sessions(current_user._get_current_object())
    db.session.commit()
    sign_in = session.get(sessions.SIGN_IN_KEY)
    logout_user()
    sessions.end(session)
    flash(_("Du er logget ut."), "success")
    at_provider = oidc.logout_target(sign_in)
    if at_provider is not None:
        # A page, not a redirect: the form's CSP (form-action 'self') would stop a redirect
        # to another site. The page sends the browser on at once, with a link as well.
        return render_template("auth/provider_logout.html", url=at_provider,
                               provider=oidc.display_name(sign_in["provider"]))
    return redirect(url_for("auth.login"))


# --- signing in with the employer's account (OpenID Connect, auth/oidc.py) ------------------


@bp.get("/innlogging/sso/<name>")
def sign_in_start(name: str):
    """Off to the provider. A link, not a form, starts it: a form's CSP (form-action 'self')
    would stop the redirect to another site."""
    provider = oidc.provider_named(name)
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    sessions.end(session)
    session[oidc.NEXT_KEY] = request.args.get("next") or ""
    try:
        return oidc.start(provider)
    except oidc.PROTOCOL_ERRORS as error:
        log.warning("sign-in with %s could not start: %r", provider.name, error)
        flash(_("Vi fikk ikke kontakt med %(provider)s. Prøv igjen om litt, eller logg inn på "
                "en annen måte.", provider=provider.display_name), "error")
        return redirect(url_for(".login"))


@bp.get("/innlogging/sso/<name>/svar")
def sign_in_callback(name: str):
    """Back from the provider: the answer and its ID token checked, then who may enter, then
    our second factor unless the provider's MFA stands in for it."""
    provider = oidc.provider_named(name)
    try:
        identity, id_token = oidc.finish(provider)
    except organisers.SignInRefused as error:
        return _sign_in_refused(provider, str(error))
    except oidc.PROTOCOL_ERRORS as error:
        log.warning("sign-in with %s refused: %r", provider.name, error)
        return _sign_in_refused(provider, _(
            "Innloggingen med %(provider)s kunne ikke godtas. Start på nytt fra "
            "innloggingssiden.", provider=provider.display_name))
    now = utcnow()
    try:
        organiser = organisers.sign_in_with_provider(identity, auto_create=provider.auto_create,
                                                     now=now)
    except organisers.SignInRefused as error:
        db.session.rollback()
        return _sign_in_refused(provider, str(error))
    next_path = session.pop(oidc.NEXT_KEY, "") or None
    session[sessions.SIGN_IN_KEY] = {"provider": provider.name, "id_token": id_token}
    if oidc.used_mfa(provider, identity):
        organisers.complete_login(organiser, now=now)
        db.session.commit()
        _log_in(organiser, provider_mfa=True)
        return redirect(_safe_next(next_path))
    step = _second_step(organiser)
    if step is not None:
        db.session.commit()  # the link and the acr/amr, before the code
        sessions.begin_pending(session, organiser, step, now=now)
        target = ".login_code" if step == sessions.CODE else ".two_factor_setup"
        return redirect(url_for(target, next=next_path))
    organisers.complete_login(organiser, now=now)
    db.session.commit()
    _log_in(organiser)
    return redirect(_safe_next(next_path))


def _sign_in_refused(provider: oidc.ProviderSettings, message: str):
    sessions.end(session)
    session.pop(oidc.NEXT_KEY, None)
    log.info("sign-in with %s refused: %s", provider.name, message)
    flash(message, "error")
    return redirect(url_for(".login"))


# --- the organiser's own account ------------------------------------------------------------


@bp.get("/konto")
@login_required
def account():
    """Your account: password, second factor, recovery codes."""
    me = current_user._get_current_object()
    return render_template("auth/account.html", me=me,
                           codes_left=two_factor.recovery_codes_left(me),
                           required=organisers.needs_second_factor(me, _policy()),
                           recovery_form=RecoveryCodesForm())


@bp.route("/konto/passord", methods=["GET", "POST"])
@login_required
@login_attempts
def change_password():
    """Change your own password (the current one is asked for again)."""
    me = current_user._get_current_object()
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            organisers.change_password(me, form.current.data, form.password.data, now=utcnow())
        except LockedOut as error:
            return _locked_out("auth/password.html", form, error,
                               min_length=current_app.config["PASSWORD_MIN_LENGTH"])
        except organisers.WrongPassword as error:
            db.session.commit()  # the failed attempt counts
            form.current.errors.append(str(error))
        except DomainError as error:
            db.session.rollback()
            form.password.errors.append(str(error))
        else:
            db.session.commit()
            sessions.renew(session, me)
            flash(_("Passordet er byttet. Du er logget ut alle andre steder."), "success")
            return redirect(url_for(".account"), 303)
    return render_template("auth/password.html", form=form,
                           min_length=current_app.config["PASSWORD_MIN_LENGTH"]), \
        422 if form.errors else 200


@bp.route("/konto/tofaktor", methods=["GET", "POST"])
@login_attempts
def two_factor_setup():
    """Set up the second factor: scan the QR code (or type the key), confirm with a code.
    Reached logged in, or between the password and the first login where it is required."""
    if current_user.is_authenticated:
        me, pending = current_user._get_current_object(), False
    else:
        me, pending = _pending(sessions.ENROL), True
        if me is None:
            return _start_over()
    if me.has_second_factor:
        flash(_("Tofaktor er allerede slått på."), "info")
        return redirect(url_for(".account"), 303)
    if me.totp_pending_secret is None:
        database.begin_writing()  # a GET that writes: SQLite's write lock first
    secret = two_factor.pending_secret(me)
    db.session.commit()
    form = EnrolForm()
    if form.validate_on_submit():
        now = utcnow()
        try:
            codes = two_factor.confirm(me, form.code.data, now=now)
        except DomainError as error:
            db.session.rollback()
            form.code.errors.append(str(error))
        else:
            if pending:
                organisers.complete_login(me, now=now)
            db.session.commit()
            if pending:
                _log_in(me)
            else:
                sessions.renew(session, me)
            return render_template("auth/recovery_codes.html", codes=codes, first=True,
                                   next=_safe_next(request.args.get("next")))
    uri = two_factor.provisioning_uri(secret, email=me.email,
                                      issuer=current_app.config["KLYNGE_NETWORK_NAME"])
    return render_template("auth/two_factor.html", form=form, pending=pending,
                           secret=two_factor.grouped(secret), email=me.email,
                           qr=two_factor.qr_svg_data_uri(uri)), 422 if form.errors else 200


@bp.post("/konto/gjenopprettingskoder")
@login_required
@login_attempts
def new_recovery_codes():
    """Ten new recovery codes (the old ones stop working), after the password again."""
    me = current_user._get_current_object()
    form = RecoveryCodesForm()
    if not me.has_second_factor:
        return redirect(url_for(".account"), 303)
    if form.validate_on_submit():
        now = utcnow()
        try:
            organisers.confirm_password(me, form.current.data, now=now)
        except LockedOut as error:
            db.session.rollback()
            flash(str(error), "error")
            return redirect(url_for(".account"), 303)
        except organisers.WrongPassword as error:
            db.session.commit()  # the failed attempt counts
            form.current.errors.append(str(error))
        else:
            codes = two_factor.new_recovery_codes(me, now=now)
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes, first=False,
                                   next=url_for(".account"))
    return render_template("auth/account.html", me=me, codes_left=two_factor.recovery_codes_left(me),
                           required=organisers.needs_second_factor(me, _policy()),
                           recovery_form=form), 422


# --- helpers ---------------------------------------------------------------------------------


def _policy() -> str:
    return current_app.config["KLYNGE_REQUIRE_TOTP"]


def _second_step(organiser: Organiser) -> str | None:
    """What comes after the right password: a code, setting up a second factor, or nothing."""
    if organiser.has_second_factor:
        return sessions.CODE
    if organisers.needs_second_factor(organiser, _policy()):
        return sessions.ENROL
    return None


def _pending(step: str) -> Organiser | None:
    """The account of a pending login at `step`, still in time; None otherwise."""
    config = current_app.config
    seconds = config["LOGIN_CODE_SECONDS"] if step == sessions.CODE \
        else config["LOGIN_ENROL_SECONDS"]
    found = sessions.pending(session, lambda id_: db.session.get(Organiser, id_)
                             if isinstance(id_, int) else None,
                             now=utcnow(), max_age=timedelta(seconds=seconds))
    return found[0] if found is not None and found[1] == step else None


def _start_over():
    sessions.end(session)
    flash(_("Logg inn på nytt: det gikk for lang tid, eller innloggingen ble avbrutt."), "info")
    return redirect(url_for(".login", next=request.args.get("next")))


def _log_in(organiser: Organiser, *, provider_mfa: bool = False) -> None:
    sessions.start(session, organiser, now=utcnow(), provider_mfa=provider_mfa)
    login_user(organiser)


def _locked_out(template: str, form, error: LockedOut, **context):
    db.session.rollback()
    form.form_errors.append(str(error))
    response = make_response(render_template(template, form=form, **context), 429)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def _limits() -> sessions.Limits:
    config = current_app.config
    return sessions.Limits(idle=timedelta(minutes=config["KLYNGE_SESSION_IDLE_MINUTES"]),
                           absolute=timedelta(hours=config["KLYNGE_SESSION_MAX_HOURS"]))


@bp.after_request
def _never_cached(response):
    # Codes, keys and login steps: nothing here belongs in a cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Flask-Login and Flask-Limiter set-up."""
    if app.config["KLYNGE_REQUIRE_TOTP"] not in organisers.TOTP_POLICIES:
        raise RuntimeError("KLYNGE_REQUIRE_TOTP must be 'administrators' or 'all', not "
                           f"{app.config['KLYNGE_REQUIRE_TOTP']!r}.")
    app.config.setdefault("KLYNGE_OIDC_PROVIDERS", oidc.settings_from_environment(os.environ))
    oidc.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Logg inn for å se denne siden.")
    login_manager.localize_callback = str  # the lazy message, in the language of the request
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    limiter.init_app(app)
    if app.config["RATELIMIT_STORAGE_URI"].startswith("memory://") and not (app.debug or
                                                                            app.testing):
        log.warning("RATELIMIT_STORAGE_URI is memory://: each process counts login attempts per "
                    "address on its own. With several processes, set it to a shared redis://.")

    @login_manager.user_loader
    def load_organiser(organiser_id: str):
        organiser = db.session.get(Organiser, int(organiser_id)) \
            if str(organiser_id).isdigit() else None
        now = utcnow()
        needed = organiser is not None and organisers.needs_second_factor(organiser, _policy())
        if not sessions.still_valid(session, organiser, now=now, limits=_limits(),
                                    second_factor_needed=needed):
            sessions.forget_login(session)
            return None
        sessions.touch(session, now=now)
        return organiser

    @app.errorhandler(429)
    def too_many_requests(error):
        return render_template("errors/429.html"), 429

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("errors/403.html"), 403
