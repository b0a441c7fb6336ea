"""The service layer: providers, the service catalogue, requests and jobs."""

from flask import Blueprint

bp = Blueprint("provisioning", __name__)
