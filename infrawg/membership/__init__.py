"""Membership: joining through the list's link, accounts, the member dashboard."""

from flask import Blueprint

bp = Blueprint("membership", __name__)
auth_bp = Blueprint("auth", __name__)
