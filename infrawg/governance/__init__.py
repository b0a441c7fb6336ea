"""Governance: roles and their authority, the chair and board, the audit trail."""

from flask import Blueprint

bp = Blueprint("governance", __name__)
