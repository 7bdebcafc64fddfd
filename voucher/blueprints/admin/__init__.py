"""Administrators: set up programmes, networks, alliances, organisations, projects, users."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from voucher.blueprints.admin import views  # noqa: E402, F401  (registers the routes)
