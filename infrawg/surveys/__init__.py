"""The annual survey, the goals the chair publishes, and project milestones (R15)."""

from flask import Blueprint

bp = Blueprint("surveys", __name__)
