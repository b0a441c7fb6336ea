"""The DNS kind's forms: what a request asks, and the record editor. Values are parsed again by
dnspython in the service functions."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length


class ZoneParametersForm(FlaskForm):
    """What a request for a DNS zone asks (added to the generic request form)."""

    zone = StringField("DNS zone (for example docs.example.org)", validators=[Length(max=255)])
    dnssec = BooleanField("Sign the zone with DNSSEC")


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
