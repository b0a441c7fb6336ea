"""Forms of the tenants area; every field has a label."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField, TextAreaField, URLField
from wtforms.validators import URL as IsURL
from wtforms.validators import DataRequired, Length, Optional, Regexp

from infrawg.tenants.service import MAX_TEXT

SLUG_MESSAGE = "Use lower-case letters, digits and dashes, e.g. packaging-wg."
MISSION_MESSAGE = (
    "Say how these services further the foundation's mission: the chair and the board decide on it."
)


class _Organisation(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Give the organisation's name."), Length(max=200)]
    )
    slug = StringField(
        "Short name (for its address on this site)",
        validators=[
            DataRequired(SLUG_MESSAGE),
            Length(max=80),
            Regexp(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", message=SLUG_MESSAGE),
        ],
    )
    description = TextAreaField("Description", validators=[Length(max=MAX_TEXT)])
    website = URLField(
        "Website (optional)",
        validators=[Optional(), IsURL(message="Give a full address, https://…"), Length(max=500)],
    )


class WorkingGroupForm(_Organisation):
    mission = TextAreaField("Mission", validators=[Length(max=MAX_TEXT)])
    approval_ref = StringField(
        "Reference of the membership's approval",
        validators=[
            DataRequired("Give the reference of the membership's approval of the WG."),
            Length(max=200),
        ],
    )


class _Application(FlaskForm):
    services = TextAreaField(
        "Services asked for (domains, DNS, certificates, servers, application hosting)",
        validators=[
            DataRequired("Name the services the organisation asks for."),
            Length(max=MAX_TEXT),
        ],
    )
    mission_statement = TextAreaField(
        "How these services further the foundation's mission",
        validators=[DataRequired(MISSION_MESSAGE), Length(max=MAX_TEXT)],
    )


class COApplicationForm(_Organisation, _Application):
    pass


class BecomeCOForm(_Application):
    pass


class ReasonForm(FlaskForm):
    """A decision or a destructive act; ``confirmed`` is set by the confirmation step."""

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=MAX_TEXT)])
    confirmed = HiddenField()


class InviteForm(FlaskForm):
    email = EmailField(
        "Email of the person to invite", validators=[DataRequired("Give their email.")]
    )


class HandoverForm(FlaskForm):
    email = EmailField(
        "Email of your successor", validators=[DataRequired("Give your successor's email.")]
    )
