"""Forms of the governance area; every field has a label."""

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from infrawg.text import MAX_TEXT


class StaffRequestForm(FlaskForm):
    motivation = TextAreaField(
        "Why do you ask for staff status? (a few sentences)",
        validators=[
            DataRequired("Say in a few words why you ask for staff status."),
            Length(max=MAX_TEXT),
        ],
    )


class DecisionForm(FlaskForm):
    """A decision on a row; ``confirmed`` is set by the confirmation step."""

    reason = TextAreaField("Reason", validators=[Optional(), Length(max=MAX_TEXT)])
    confirmed = HiddenField()


class GrantStaffForm(FlaskForm):
    email = EmailField("Email of the member", validators=[DataRequired("Give the member's email.")])
    reason = TextAreaField(
        "Reason for the grant",
        validators=[
            DataRequired("Say why: the grant records the chair's decision."),
            Length(max=MAX_TEXT),
        ],
    )


class StepDownForm(FlaskForm):
    reason = TextAreaField("Why are you stepping down? (optional)", validators=[Length(max=2000)])


class AppointChairForm(FlaskForm):
    email = EmailField(
        "Email of the new chair (a member of the group)",
        validators=[DataRequired("Give the email of the new chair.")],
    )
    resolution_ref = StringField(
        "Reference of the board's resolution",
        validators=[
            DataRequired("Give the reference of the board's resolution (e.g. 2026-05-12-03)."),
            Length(max=200),
        ],
    )
    resolution_date = DateField(
        "Date of the resolution",
        validators=[DataRequired("Give the date of the board's resolution (YYYY-MM-DD).")],
    )
    reason = TextAreaField("Note (optional)", validators=[Length(max=MAX_TEXT)])
    confirmed = HiddenField()
