"""The worker's area: profile, family, measures, applications, claims."""

from flask import Blueprint

bp = Blueprint("worker", __name__, url_prefix="/worker")

from voucher.blueprints.worker import views  # noqa: E402, F401  (registers the routes)
