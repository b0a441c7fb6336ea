"""Forms of the archive pages; every field has a label."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from infrawg.archives.models import Visibility
from infrawg.forms import options

INHERIT = "inherit"


class SearchForm(FlaskForm):
    """The search box and its filters; read from the query string, no CSRF (a GET)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=200)])
    list = SelectField("List", choices=options([("", "All lists")]), validate_choice=False)
    sender = StringField("Sender", validators=[Optional(), Length(max=200)])
    since = DateField("From", validators=[Optional()])
    until = DateField("Until", validators=[Optional()])


class DescriptionForm(FlaskForm):
    """What a list is for, shown to its readers."""

    description = TextAreaField("What this list is for", validators=[Optional(), Length(max=500)])


class VisibilityForm(FlaskForm):
    """A list's or thread's level (R16), with the reason that goes to the audit trail."""

    level = SelectField("Who may read it", choices=Visibility.choices())
    reason = TextAreaField(
        "Reason (required to make it public, or to take that back)",
        validators=[Optional(), Length(max=2000)],
    )


class ThreadVisibilityForm(VisibilityForm):
    level = SelectField(
        "Who may read this thread",
        choices=[*options([(INHERIT, "As its list")]), *Visibility.choices()],
    )
