"""Organisers' pages for webhooks: the endpoints, adding and changing one, turning it off and
on, deleting it (after a confirmation), its secret (shown when made, and on request), a test
event, and its delivery log with "send again". Every change is audited (webhooks.py)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from .. import webhooks
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import no_invisible_characters, single_line, strip
from ..labels import WEBHOOK_ERROR_LABELS, WEBHOOK_EVENT_LABELS
from ..models import WebhookDelivery, WebhookEndpoint
from . import bp
from .once import done_before, once_field, remember_done

PAGE_SIZE = 50


class EndpointForm(FlaskForm):
    url = StringField(_l("Adresse (URL)"), filters=[strip], validators=[
        DataRequired(_l("Skriv inn adressen webhooken skal sendes til.")),
        Length(max=2000, message=_l("Adressen kan være høyst 2000 tegn."))],
        render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"})
    description = StringField(_l("Beskrivelse (valgfritt)"), filters=[strip], validators=[
        Length(max=200, message=_l("Beskrivelsen kan være høyst 200 tegn.")), single_line,
        no_invisible_characters])
    events = SelectMultipleField(
        _l("Hendelser"), widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[DataRequired(_l("Velg minst én hendelse webhooken skal sendes for."))])
    submit = SubmitField(_l("Lagre"))
    once = once_field()  # a reload of the secret's page makes no second endpoint (once.py)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events.choices = [(event, WEBHOOK_EVENT_LABELS[event]) for event in webhooks.EVENTS]


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    return db.session.get(WebhookEndpoint, endpoint_id) or abort(404)


def _me():
    return current_user._get_current_object()


def _secret_page(endpoint: WebhookEndpoint, secret: str, *, new: bool):
    """The one page that shows a secret: never cached, never in a redirect or a cookie."""
    response = render_template("admin/webhooks/secret.html", endpoint=endpoint, secret=secret,
                               new=new)
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/webhooker", endpoint="webhooks")
def list_endpoints():
    return render_template("admin/webhooks/index.html", endpoints=webhooks.endpoints(),
                           event_labels=WEBHOOK_EVENT_LABELS)


@bp.route("/webhooker/ny", methods=["GET", "POST"], endpoint="webhook_new")
def new_endpoint():
    form = EndpointForm()
    if form.validate_on_submit():
        if done_before(form.once.data):  # the secret's page reloaded
            flash(_("Webhooken er allerede lagt til. Hemmeligheten vises bare én gang, men du kan "
                    "lage en ny på siden til webhooken."), "info")
            return redirect(url_for(".webhooks"), 303)
        try:
            endpoint, secret = webhooks.create(url=form.url.data,
                                               description=form.description.data or "",
                                               events=form.events.data, now=utcnow(), by=_me())
        except DomainError as error:
            db.session.rollback()
            form.url.errors.append(str(error))
        else:
            db.session.commit()
            remember_done(form.once.data)
            return _secret_page(endpoint, secret, new=True)
    return render_template("admin/webhooks/form.html", form=form, endpoint=None), \
        422 if form.errors else 200


@bp.get("/webhooker/<int:endpoint_id>", endpoint="webhook")
def show_endpoint(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    page = db.paginate(webhooks.deliveries_query(endpoint),
                       page=request.args.get("side", 1, type=int), per_page=PAGE_SIZE,
                       error_out=False)
    return render_template("admin/webhooks/show.html", endpoint=endpoint, page=page,
                           event_labels=WEBHOOK_EVENT_LABELS, error_labels=WEBHOOK_ERROR_LABELS)


@bp.route("/webhooker/<int:endpoint_id>/endre", methods=["GET", "POST"], endpoint="webhook_edit")
def edit_endpoint(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    form = EndpointForm(data=None if request.method == "POST" else {
        "url": endpoint.url, "description": endpoint.description, "events": endpoint.events})
    if form.validate_on_submit():
        try:
            changed = webhooks.update(endpoint, url=form.url.data,
                                      description=form.description.data or "",
                                      events=form.events.data, now=utcnow(), by=_me())
        except DomainError as error:
            db.session.rollback()
            form.url.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Endringene er lagret.") if changed else _("Ingenting var endret."),
                  "success" if changed else "info")
            return redirect(url_for(".webhook", endpoint_id=endpoint.id), 303)
    return render_template("admin/webhooks/form.html", form=form, endpoint=endpoint), \
        422 if form.errors else 200


@bp.post("/webhooker/<int:endpoint_id>/aktiv", endpoint="webhook_active")
def set_active(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    active = request.form.get("active") == "1"
    webhooks.set_active(endpoint, active, now=utcnow(), by=_me())
    db.session.commit()
    flash(_("Webhooken er slått på.") if active else
          _("Webhooken er slått av. Ingenting sendes til den før den slås på igjen."), "success")
    return redirect(url_for(".webhook", endpoint_id=endpoint.id), 303)


@bp.route("/webhooker/<int:endpoint_id>/slett", methods=["GET", "POST"], endpoint="webhook_delete")
def delete_endpoint(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    form = FlaskForm()
    if form.validate_on_submit():
        url = endpoint.url
        webhooks.delete(endpoint, now=utcnow(), by=_me())
        db.session.commit()
        flash(_("Webhooken til %(url)s er slettet.", url=url), "success")
        return redirect(url_for(".webhooks"), 303)
    return render_template("admin/webhooks/delete.html", endpoint=endpoint, form=form)


@bp.post("/webhooker/<int:endpoint_id>/hemmelighet", endpoint="webhook_secret")
def reveal_secret(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    secret = webhooks.reveal_secret(endpoint, now=utcnow(), by=_me())
    db.session.commit()
    return _secret_page(endpoint, secret, new=False)


@bp.post("/webhooker/<int:endpoint_id>/ny-hemmelighet", endpoint="webhook_rotate")
def rotate_secret(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    secret = webhooks.rotate_secret(endpoint, now=utcnow(), by=_me())
    db.session.commit()
    return _secret_page(endpoint, secret, new=True)


@bp.post("/webhooker/<int:endpoint_id>/test", endpoint="webhook_test")
def send_test(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    try:
        webhooks.send_test(endpoint, now=utcnow(), by=_me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(_("En testhendelse er lagt i køen. Se loggen under om litt."), "success")
    return redirect(url_for(".webhook", endpoint_id=endpoint.id), 303)


@bp.post("/webhooker/leveranser/<int:delivery_id>/send-igjen", endpoint="webhook_resend")
def resend(delivery_id):
    sent = db.session.get(WebhookDelivery, delivery_id) or abort(404)
    try:
        webhooks.resend(sent, now=utcnow(), by=_me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(_("Hendelsen er lagt i køen igjen."), "success")
    return redirect(url_for(".webhook", endpoint_id=sent.endpoint_id), 303)
