"""What a failed form tells the person: each field with an error, as a link to that field.

Every form's error summary (the `error_summary` macro in templates/_macros.html) and the page
title ("Feil: …", base.html) are drawn from here, so a field's error is found the same way on
every form, whether the validators put it there or the view did after validation (a limit that
stopped the form): the fields are read, never `form.errors`, which WTForms computes once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from wtforms import Field, FieldList, FormField, RadioField
from wtforms.form import BaseForm
from wtforms.widgets import CheckboxInput


@dataclass(frozen=True)
class ErrorLink:
    target: str  # the id of the element the link moves focus to
    label: str
    message: str


def _target(field: Field) -> str:
    # A group of radios (or of checkboxes, questions.py) is reached at its first one (GOV.UK's
    # rule).
    grouped = isinstance(field, RadioField) or isinstance(
        getattr(field, "option_widget", None), CheckboxInput)
    return f"{field.id}-0" if grouped else field.id


def _label(prefix: str, field: Field) -> str:
    # A label that is a sentence ("Jeg samtykker … over.") loses its full stop before the
    # message's colon; an abbreviation ("Starter kl.") keeps it.
    label = str(field.label.text).rstrip(" :")
    if label.endswith(".") and len(label.split()) >= 4:
        label = label[:-1]
    return f"{prefix}{label}"


def _messages(field: Field) -> list[str]:
    # A field's errors are strings (lazy ones from _l among them); a list's are lists.
    return [str(message) for message in field.errors if not isinstance(message, list | dict)]


def error_links(form, prefix: str = "") -> list[ErrorLink]:
    """The fields of `form` that have an error, in the form's order (the CSRF token excepted:
    an expired form is said in words above the list). A row of a list of sub-forms is named by
    the sub-form's `row_label` ("Kollega %(number)s") before the field's own label."""
    if not isinstance(form, BaseForm):  # a page's `form` may be something else, or None
        return []
    links: list[ErrorLink] = []
    for field in form:
        if field.type == "CSRFTokenField":
            continue
        if isinstance(field, FieldList):
            for number, entry in enumerate(field, start=1):
                if isinstance(entry, FormField):
                    row_label = getattr(entry.form, "row_label", None)
                    row = str(row_label) % {"number": number} if row_label else ""
                    links += error_links(entry.form, prefix=f"{prefix}{row}: " if row else prefix)
                elif messages := _messages(entry):
                    links.append(ErrorLink(_target(entry), _label(prefix, field), messages[0]))
        elif isinstance(field, FormField):
            links += error_links(field.form, prefix)
        elif messages := _messages(field):
            links.append(ErrorLink(_target(field), _label(prefix, field), messages[0]))
    return links


def has_errors(form) -> bool:
    """Whether the page shows `form` after a failed submit (for the page title)."""
    if not isinstance(form, BaseForm):
        return False
    csrf = getattr(form, "csrf_token", None)
    return bool(getattr(form, "form_errors", None) or error_links(form)
                or (csrf is not None and csrf.errors))


def init_app(app: Flask) -> None:
    app.add_template_global(error_links, "form_error_links")
    app.add_template_global(has_errors, "form_has_errors")
