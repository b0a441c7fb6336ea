"""What a VM request asks (added to the generic request form, whose `purpose` it uses).

The generic layer copies these unbound fields into its request form, so the choices are
callables read when a form is built (the site's VM_SIZES and VM_IMAGES at that moment)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length

from infrawg.provisioning.kinds.vm import catalogue


def size_choices() -> list[tuple[str, str]]:
    return [(s.key, s.description) for s in catalogue.sizes().values()]


def image_choices() -> list[tuple[str, str]]:
    return [(i.key, i.label) for i in catalogue.images().values()]


class VmParametersForm(FlaskForm):
    hostname = StringField("Hostname (for example web1)", validators=[Length(max=63)])
    # The kind checks the choice (with a message naming the field); the form does not.
    size = SelectField("Size", choices=size_choices, validate_choice=False)
    image = SelectField("Distribution", choices=image_choices, validate_choice=False)
    ssh_keys = TextAreaField(
        "SSH public keys for root, one a line (ssh-ed25519 ... or ssh-rsa ...)",
        validators=[Length(max=20000)],
    )
