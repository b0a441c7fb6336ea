"""The TLS kind's request form: the names, one a line (checked by spec.parse_names)."""

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length


class CertificateParametersForm(FlaskForm):
    names = TextAreaField(
        "Names in the certificate, one a line (*.example.org for a wildcard)",
        validators=[Length(max=5000)],
    )
