"""The domain kind's forms: what a request asks (R10), payment, the board's decision, and the
staff's record of the registrar task. Values are checked again in registrations.py."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from infrawg.forms import options
from infrawg.provisioning.kinds.domain.models import DomainMode, Payer


class DomainParametersForm(FlaskForm):
    """What a request for a domain asks (added to the generic request form)."""

    domain = StringField("Domain (for example example.org)", validators=[Length(max=255)])
    mode = SelectField(
        "What to do", choices=DomainMode.choices(), default=DomainMode.REGISTER.value
    )
    registrar = StringField("Registrar (when known)", validators=[Length(max=200)])
    expires_on = StringField(
        "Current expiry, YYYY-MM-DD (transfer or track)", validators=[Length(max=10)]
    )
    auto_renew = BooleanField("Renew automatically")
    contacts = TextAreaField("Registrant and contacts", validators=[Length(max=4000)])
    payer = SelectField("Who pays", choices=Payer.choices(), default=Payer.TENANT.value)
    foundation_reason = TextAreaField(
        "Why the foundation should pay (the board decides)", validators=[Length(max=4000)]
    )
    paid_by = StringField("Paid by (tenant)", validators=[Length(max=200)])
    payment_method = StringField("How (card, invoice...)", validators=[Length(max=200)])
    payment_reference = StringField("Payment reference", validators=[Length(max=200)])


class PaymentForm(FlaskForm):
    paid_by = StringField("Paid by", validators=[Length(max=200)])
    payment_method = StringField("How", validators=[Length(max=200)])
    payment_reference = StringField("Reference", validators=[Length(max=200)])


class FoundationForm(FlaskForm):
    reason = TextAreaField("Why the foundation should pay", validators=[Length(max=4000)])


class BoardDecisionForm(FlaskForm):
    decision = SelectField(
        "Decision", choices=options([("approve", "Approve"), ("decline", "Decline")])
    )
    resolution = StringField("Board resolution reference", validators=[Length(max=200)])


class TaskDoneForm(FlaskForm):
    expires_on = StringField("New expiry (YYYY-MM-DD)", validators=[Length(max=10)])
    registrar = StringField("Registrar", validators=[Length(max=200)])
