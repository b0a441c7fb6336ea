"""Forms of the service layer; every field has a label. Values are checked again (and for
DNS, parsed by dnspython) in the service functions."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

# The capacity column is a 32-bit INTEGER; a larger number is a form error, not a 500.
MAX_CAPACITY = 2**31 - 1


class ServiceTypeForm(FlaskForm):
    name = StringField("Name of the service type", validators=[DataRequired(), Length(max=200)])
    provider = SelectField("Provided by", validators=[DataRequired()])
    description = TextAreaField("What tenants get", validators=[Length(max=4000)])
    capacity = IntegerField(
        "Capacity (how many may be in use; empty for no limit)",
        validators=[Optional(), NumberRange(min=0, max=MAX_CAPACITY)],
    )


class CapacityForm(FlaskForm):
    capacity = IntegerField(
        "Capacity (empty for no limit)",
        validators=[Optional(), NumberRange(min=0, max=MAX_CAPACITY)],
    )
    active = BooleanField("Offered in the catalogue")


class RequestForm(FlaskForm):
    organisation = SelectField("For the organisation", coerce=int, validators=[DataRequired()])
    service_type = SelectField("Service", coerce=int, validators=[DataRequired()])
    zone = StringField("DNS zone (for example docs.example.org)", validators=[Length(max=255)])
    dnssec = BooleanField("Sign the zone with DNSSEC")
    purpose = TextAreaField("What it is for (optional)", validators=[Length(max=4000)])


class DecisionForm(FlaskForm):
    reason = TextAreaField("Reason (required to decline)", validators=[Length(max=4000)])
    override = BooleanField("Approve beyond the capacity of this service type")
    override_reason = TextAreaField(
        "Why the capacity may be exceeded", validators=[Length(max=4000)]
    )


class RecordForm(FlaskForm):
    name = StringField("Name (@ for the zone itself)", validators=[Length(max=255)])
    rdtype = StringField("Type", validators=[Length(max=16)])
    ttl = StringField("TTL (seconds)", default="3600", validators=[Length(max=12)])
    values = TextAreaField("Values, one a line", validators=[Length(max=20000)])


class RecordEditForm(FlaskForm):
    ttl = StringField("TTL (seconds)", validators=[Length(max=12)])
    values = TextAreaField("Values, one a line", validators=[Length(max=20000)])


class DnssecForm(FlaskForm):
    dnssec = BooleanField("Sign this zone with DNSSEC")


class ApplyForm(FlaskForm):
    reviewed = HiddenField(validators=[DataRequired()])
