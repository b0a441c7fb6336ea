"""The Flask extensions, created unbound here and initialised in create_app().

The OpenID Connect client is made per app in membership/auth_views.register_oidc.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import Enum, Insert, MetaData
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Models subclass ``Model``: Flask-SQLAlchemy's ``db.Model`` (table names, binds) at run
# time, and for the type checker the typed declarative base it is built from.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
mail = Mail()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
htmx = Htmx()


def init_limiter(app: Flask) -> None:
    """Bind the limiter; warn when its counts live in this one process's memory."""
    limiter.init_app(app)
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if storage.startswith("memory://") and not (app.testing or app.debug):
        # Each worker process keeps its own counts: behind gunicorn -w 4 an attacker gets
        # four times the limit, and a restart forgets it.
        app.logger.warning(
            "Rate limits are kept in memory, per process. When the site runs in several "
            "processes, set INFRAWG_RATELIMIT_STORAGE_URI to a shared store "
            "(e.g. redis://localhost:6379)."
        )


def enum_type(enum_cls: type[StrEnum]) -> Enum:
    """Store a StrEnum by value as a plain string (no native enum to migrate)."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=max(len(m.value) for m in enum_cls) + 10,
        values_callable=lambda cls: [m.value for m in cls],
    )


def insert_ignoring(model: type[Base], conflict_on: list[str], **values: Any) -> Insert:
    """``INSERT … ON CONFLICT (conflict_on) DO NOTHING`` of one row of ``model``, on either
    database: two sessions writing the same row at once store it once, and neither fails.
    Add ``.returning(…)`` to learn whether this one wrote it."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict_on)
