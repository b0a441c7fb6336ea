"""Forms of the service layer; every field has a label. Values are checked again in the
service functions. Each kind's own forms live in its folder (kinds/<kind>/forms.py)."""

from typing import Any

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
    """The generic request; `request_form_for(kind)` adds the kind's ParametersForm fields."""

    organisation = SelectField("For the organisation", coerce=int, validators=[DataRequired()])
    service_type = SelectField("Service", coerce=int, validators=[DataRequired()])
    purpose = TextAreaField("What it is for (optional)", validators=[Length(max=4000)])


class DecisionForm(FlaskForm):
    reason = TextAreaField("Reason (required to decline)", validators=[Length(max=4000)])
    override = BooleanField("Approve beyond the capacity of this service type")
    override_reason = TextAreaField(
        "Why the capacity may be exceeded", validators=[Length(max=4000)]
    )


class ApplyForm(FlaskForm):
    reviewed = HiddenField(validators=[DataRequired()])


class SuspendForm(FlaskForm):
    reason = TextAreaField("Reason (the tenant members receive it)", validators=[Length(max=4000)])


class DecommissionForm(FlaskForm):
    reviewed = HiddenField(validators=[DataRequired()])
    reason = TextAreaField("Why it is decommissioned (optional)", validators=[Length(max=4000)])


# The fields of RequestForm itself; every other field of a built request form is the kind's.
GENERIC_REQUEST_FIELDS = ("csrf_token", "organisation", "service_type", "purpose")


def request_form_for(parameters_form: type[FlaskForm] | None) -> type[RequestForm]:
    """The request form of a kind: the generic fields, then the kind's parameter fields."""
    if parameters_form is None:
        return RequestForm
    fields: dict[str, Any] = {
        name: value
        for name, value in vars(parameters_form).items()
        if hasattr(value, "field_class")  # wtforms' unbound fields
    }
    return type(f"{parameters_form.__name__}Request", (RequestForm,), fields)
