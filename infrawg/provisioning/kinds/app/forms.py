"""The app kind's forms: what a request asks, the tenant's description of the application
(a simple form, parsed into an AppSpec by versions.spec_fields) and staff's review comment."""

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length


class AppParametersForm(FlaskForm):
    """What a request for an application asks (added to the generic request form)."""

    cookbook = StringField(
        "Cookbook name (lower-case letters, digits and _, such as docs_site)",
        validators=[Length(max=60)],
    )
    vm = StringField("The VM it runs on (its host name)", validators=[Length(max=255)])


class AppEditForm(FlaskForm):
    description = StringField("What the application is", validators=[Length(max=500)])
    packages = TextAreaField("Debian packages, one a line", validators=[Length(max=5000)])
    command = StringField("The command the service runs", validators=[Length(max=1000)])
    user = StringField("The account it runs as", default="root", validators=[Length(max=32)])
    ports = StringField(
        "Ports it listens on (such as 8080, 8125/udp)", validators=[Length(max=500)]
    )
    template_path = StringField(
        "Configuration file path (such as /etc/app/app.conf)", validators=[Length(max=255)]
    )
    template_content = TextAreaField(
        "Its template: text, with <%= @name %> where an attribute's value goes",
        validators=[Length(max=65536)],
    )
    attributes = TextAreaField(
        "Attributes, name=value one a line (numbers and true/false are typed)",
        validators=[Length(max=20000)],
    )


class ReviewForm(FlaskForm):
    comment = TextAreaField("Comment for the tenant", validators=[Length(max=5000)])
