"""Confidential list archives (R16): members only unless an explicit act says otherwise."""

from flask import Blueprint

bp = Blueprint("archives", __name__)
