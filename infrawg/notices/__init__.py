"""Notices: mail to people (and, in development, the outbox that shows it)."""

from flask import Blueprint

bp = Blueprint("notices", __name__)
