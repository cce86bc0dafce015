"""Organisers' pages for organisations: the list, one organisation's name, sector,
organisasjonsnummer and place on the public list, and merging two into one (with a
confirmation step)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import organisations, registry
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..fields import no_invisible_characters, single_line, strip
from ..labels import SECTOR_LABELS
from ..models import Organisation, Sector
from ..organisations import clean_org_number, is_valid_org_number
from ..person_fields import SECTOR_CHOICES
from ..public.views import forget_suggestions
from . import bp


class OrganisationForm(FlaskForm):
    name = StringField(_l("Navn"), filters=[strip], validators=[
        DataRequired(_l("Skriv inn navnet på virksomheten.")),
        Length(max=200, message=_l("Navnet kan være høyst 200 tegn.")), single_line,
        no_invisible_characters])
    sector = RadioField(_l("Sektor"), choices=SECTOR_CHOICES, validators=[
        InputRequired(_l("Velg hvilken sektor virksomheten hører til."))])
    org_number = StringField(_l("Organisasjonsnummer (valgfritt)"), filters=[strip], validators=[
        Optional(), Length(max=20, message=_l("Organisasjonsnummeret er for langt."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    listed = BooleanField(_l("Foreslå navnet i påmeldingsskjemaet (virksomheten står på "
                             "nettverkets offentlige liste)"))
    submit = SubmitField(_l("Lagre"))

    def validate_org_number(self, field):
        number = clean_org_number(field.data)
        if number and not is_valid_org_number(number):
            raise ValidationError(
                _("Organisasjonsnummeret må ha 9 siffer og være gyldig (sjekk sifrene)."))


class MergeForm(FlaskForm):
    other = SelectField(_l("Virksomheten som skal bli en del av denne"), coerce=int,
                        validators=[InputRequired(_l("Velg virksomheten som skal slås sammen "
                                                     "med denne."))])
    confirm = BooleanField()
    submit = SubmitField(_l("Gå videre"))

    def fill(self, organisation: Organisation, everyone: list[tuple[Organisation, int]]):
        self.other.choices = [(-1, _("Velg virksomhet"))] + [
            (other.id, ngettext("%(name)s (%(num)s påmelding)", "%(name)s (%(num)s påmeldinger)",
                                count, name=other.name))
            for other, count in everyone if other.id != organisation.id]
        return self

    def validate_other(self, field):
        if field.data == -1:
            raise ValidationError(_("Velg virksomheten som skal slås sammen med denne."))


class RegistryForm(FlaskForm):
    """"Hent fra Enhetsregisteret": the name and sector the register gives for the number."""

    submit = SubmitField(_l("Hent fra Enhetsregisteret"))


def _get_or_404(organisation_id: int) -> Organisation:
    return db.session.get(Organisation, organisation_id) or abort(404)


def _me():
    return current_user._get_current_object()


@bp.get("/virksomheter", endpoint="organisations")
def list_organisations():
    """Every organisation with its sector, number and registrations."""
    return render_template("admin/organisations/index.html", rows=organisations.listing(),
                           sector_labels=SECTOR_LABELS)


@bp.route("/virksomheter/<int:organisation_id>", methods=["GET", "POST"],
          endpoint="organisation")
def edit_organisation(organisation_id):
    """One organisation: its details (saved here), and merging another into it."""
    organisation = _get_or_404(organisation_id)
    form = OrganisationForm(data={
        "name": organisation.name, "sector": organisation.sector.value,
        "org_number": organisation.org_number or "", "listed": organisation.listed,
    } if not _posted() else None)
    if form.validate_on_submit():
        try:
            changed = organisations.update(
                organisation, name=form.name.data, sector=Sector(form.sector.data),
                org_number=form.org_number.data, listed=form.listed.data, now=utcnow(), by=_me())
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            forget_suggestions()
            flash(_("Endringene er lagret.") if changed else _("Ingenting var endret."),
                  "success" if changed else "info")
            return redirect(url_for(".organisation", organisation_id=organisation.id), 303)
    return _page(organisation, form, _merge_form(organisation))


def _posted() -> bool:
    return request.method == "POST"


def _merge_form(organisation: Organisation, **kwargs) -> MergeForm:
    return MergeForm(prefix="merge", **kwargs).fill(organisation, organisations.listing())


def _page(organisation, form, merge_form, status=None):
    errors = bool(form.errors or form.form_errors or merge_form.errors)
    return render_template(
        "admin/organisations/show.html", organisation=organisation, form=form,
        merge_form=merge_form, count=organisations.registration_count(organisation),
        registry_form=RegistryForm(prefix="registry"),
    ), status or (422 if errors else 200)


@bp.post("/virksomheter/<int:organisation_id>/enhetsregisteret", endpoint="organisation_registry")
def fill_from_registry(organisation_id):
    """Set the organisation's name and sector from Enhetsregisteret (audited as a change)."""
    organisation = _get_or_404(organisation_id)
    if not RegistryForm(prefix="registry").validate_on_submit():
        abort(400)
    try:
        changed = registry.fill_organisation(organisation, now=utcnow(), by=_me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        forget_suggestions()
        flash(_("Navnet og sektoren er hentet fra Enhetsregisteret: «%(name)s», %(sector)s.",
                name=organisation.name, sector=SECTOR_LABELS[organisation.sector])
              if changed else _("Navnet og sektoren var allerede som i Enhetsregisteret."),
              "success" if changed else "info")
    return redirect(url_for(".organisation", organisation_id=organisation.id), 303)


@bp.post("/virksomheter/<int:organisation_id>/sla-sammen", endpoint="organisation_merge")
def merge_organisation(organisation_id):
    """Merge another organisation into this one: first a page that says what will happen, then
    (with `confirm`) the merge."""
    organisation = _get_or_404(organisation_id)
    merge_form = _merge_form(organisation)
    if not merge_form.validate_on_submit():
        return _page(organisation, OrganisationForm(formdata=None, data={
            "name": organisation.name, "sector": organisation.sector.value,
            "org_number": organisation.org_number or "", "listed": organisation.listed}),
            merge_form)
    other = _get_or_404(merge_form.other.data)
    if not merge_form.confirm.data:
        return render_template("admin/organisations/merge.html", organisation=organisation,
                               other=other, merge_form=merge_form,
                               count=organisations.registration_count(other))
    gone_name = other.name
    try:
        moved = organisations.merge(organisation, other, now=utcnow(), by=_me())
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".organisation", organisation_id=organisation.id), 303)
    db.session.commit()
    forget_suggestions()
    flash(ngettext("«%(gone)s» er slått sammen med «%(kept)s». %(num)s påmelding ble flyttet.",
                   "«%(gone)s» er slått sammen med «%(kept)s». %(num)s påmeldinger ble flyttet.",
                   moved, gone=gone_name, kept=organisation.name), "success")
    return redirect(url_for(".organisation", organisation_id=organisation.id), 303)
