"""Tenant organisations (WG and CO), their tenant members, applications and requests."""

from flask import Blueprint

bp = Blueprint("tenants", __name__)
