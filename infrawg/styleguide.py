"""The living style guide, ``/dev/components`` (staff and the chair): every component of the
design system (``templates/_macros.html``, ``static/app.css``) rendered with real states."""

from __future__ import annotations

from importlib import import_module

from flask import Blueprint, Flask
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField

from infrawg import web
from infrawg.policy import Permission, requires
from infrawg.ui import TONES, NavGroup, NavLink, Tone

bp = Blueprint("dev", __name__)

# Where each state enum of TONES is declared (imported only to show its members).
STATE_MODULES = (
    "infrawg.membership.models",
    "infrawg.governance.models",
    "infrawg.tenants.models",
    "infrawg.provisioning.models",
    "infrawg.jobs.models",
    "infrawg.status.models",
    "infrawg.surveys.models",
    "infrawg.notices.models",
    "infrawg.archives.models",
)


class ExampleForm(FlaskForm):
    """A form shown with errors, for the error summary and the fields."""

    class Meta:
        csrf = False

    name = StringField("Organisation name")
    email = EmailField("Contact email")


def state_enums() -> list[type]:
    """Every state enum that has tones, in the order of TONES."""
    found: dict[str, type] = {}
    for module_name in STATE_MODULES:
        module = import_module(module_name)
        for name in TONES:
            enum = getattr(module, name, None)
            if isinstance(enum, type):
                found[name] = enum
    return [found[name] for name in TONES if name in found]


@bp.get("/dev/components")
@requires(Permission.COMPONENTS_READ)
def components():
    form = ExampleForm(formdata=None)
    form.name.errors = ["Give the organisation's name."]
    form.email.errors = ["That is not an email address."]
    form.form_errors.append("An organisation of that name applied already.")
    enums = state_enums()
    return web.render(
        "styleguide/components.html",
        form=form,
        enums=enums,
        states={enum.__name__: enum for enum in enums},
        tones=list(Tone),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    web.add_nav_link(
        app,
        NavLink(
            NavGroup.SITE,
            "Components",
            "dev.components",
            web.permitted(Permission.COMPONENTS_READ),
            order=90,
        ),
    )
