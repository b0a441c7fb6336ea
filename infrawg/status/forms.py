"""Forms of the status area; every field has a label."""

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from infrawg.status.models import NoticeKind
from infrawg.status.service import MAX_TEXT

WHEN = "%Y-%m-%dT%H:%M"


class ServicesField(SelectMultipleField):
    """The services a notice is about, as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NoticeForm(FlaskForm):
    kind = SelectField("Kind", choices=NoticeKind.choices(), default=NoticeKind.MAINTENANCE.value)
    title = StringField(
        "Title (in the mail's subject)",
        validators=[DataRequired("Give the notice a title."), Length(max=200)],
    )
    what = TextAreaField(
        "What will be done",
        validators=[DataRequired("Say what will be done."), Length(max=MAX_TEXT)],
    )
    expected_impact = TextAreaField(
        "Expected impact",
        validators=[DataRequired("Say what the tenants should expect."), Length(max=MAX_TEXT)],
    )
    public_summary = StringField(
        "Public summary (on the public status page: name no organisation or service)",
        validators=[
            DataRequired("Give the summary everyone may read on the status page."),
            Length(max=300),
        ],
    )
    starts_at = DateTimeLocalField(
        "Starts (UTC)", format=WHEN, validators=[DataRequired("Give the start, in UTC.")]
    )
    ends_at = DateTimeLocalField("Ends (UTC, optional)", format=WHEN, validators=[Optional()])
    services = ServicesField(
        "Services impacted", coerce=int, validators=[DataRequired("Choose the services.")]
    )


class UpdateForm(FlaskForm):
    body = TextAreaField(
        "Update", validators=[DataRequired("Write the update."), Length(max=MAX_TEXT)]
    )
    ends_at = DateTimeLocalField("New end (UTC, optional)", format=WHEN, validators=[Optional()])


class AllClearForm(FlaskForm):
    body = TextAreaField(
        "All clear",
        validators=[DataRequired("Say that the service is back to normal."), Length(max=MAX_TEXT)],
    )
