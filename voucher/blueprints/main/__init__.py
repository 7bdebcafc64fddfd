"""Public pages: the home page and the health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from voucher.blueprints.main import views  # noqa: E402, F401  (registers the routes)
