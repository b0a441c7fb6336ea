"""Forms of the membership area; every field has a label."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from infrawg.membership.passwords import MIN_LENGTH
from infrawg.notices.mail import has_line_break


class SingleLine:
    """Refuses line breaks in a field that ends up in a mail header (a name in a subject):
    header injection is refused on the form, never after the act has committed."""

    def __init__(self, message: str = "Use one line: no line breaks.") -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field) -> None:
        if field.data and has_line_break(str(field.data)):
            raise ValidationError(self.message)


NAME_ON_ONE_LINE = SingleLine("Your name must be on one line: no line breaks.")
EMAIL_ON_ONE_LINE = SingleLine("An email address has no line breaks.")


class JoinForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200), NAME_ON_ONE_LINE])
    email = EmailField(
        "Email",
        validators=[DataRequired(), Length(max=320), EMAIL_ON_ONE_LINE],
    )
    password = PasswordField(
        f"Password (at least {MIN_LENGTH} characters)",
        validators=[DataRequired(), Length(min=MIN_LENGTH, max=200)],
    )
    foundation_member = BooleanField(
        "I am a member of the foundation",
        validators=[
            DataRequired("Membership is open to foundation members: confirm that you are one.")
        ],
    )


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in on this device")


class ResetRequestForm(FlaskForm):
    email = EmailField(
        "Email of your account",
        validators=[DataRequired(), EMAIL_ON_ONE_LINE],
    )


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        f"New password (at least {MIN_LENGTH} characters)",
        validators=[DataRequired(), Length(min=MIN_LENGTH, max=200)],
    )
    confirm = PasswordField(
        "New password again", validators=[DataRequired(), EqualTo("password", "The two differ.")]
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField("Current password", validators=[Optional()])


class ProfileForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200), NAME_ON_ONE_LINE])


class LeaveForm(FlaskForm):
    reason = TextAreaField("Why are you leaving? (optional)", validators=[Length(max=2000)])


class DecisionForm(FlaskForm):
    reason = TextAreaField("Reason (required to decline)", validators=[Length(max=2000)])


class RosterForm(FlaskForm):
    roster = FileField(
        "CSV of foundation-member emails",
        validators=[FileRequired(), FileAllowed(["csv", "txt"], "Upload a .csv file.")],
    )


class DriftActionForm(FlaskForm):
    """One drift row's repair: the address, the action (a button's value), a reason."""

    email = HiddenField(validators=[DataRequired(), Length(max=320)])
    action = HiddenField(validators=[DataRequired(), Length(max=20)])
    reason = TextAreaField("Reason (required for a known exception)", validators=[Length(max=2000)])


class SecondFactorForm(FlaskForm):
    """The second step of signing in: a code, or a security key's answer."""

    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[Optional(), Length(max=40)],
    )
    credential = HiddenField(validators=[Optional(), Length(max=20000)])


class TotpSetupForm(FlaskForm):
    code = StringField(
        "The six-digit code the app shows", validators=[DataRequired(), Length(max=12)]
    )


class SecurityKeyForm(FlaskForm):
    name = StringField(
        "A name for the key", validators=[DataRequired(), Length(max=100), SingleLine()]
    )
    credential = HiddenField(validators=[DataRequired(), Length(max=20000)])
