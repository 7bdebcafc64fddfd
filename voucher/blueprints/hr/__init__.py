"""Company HR: confirms or denies the employment people declare."""

from flask import Blueprint

bp = Blueprint("hr", __name__, url_prefix="/hr")

from voucher.blueprints.hr import views  # noqa: E402, F401  (registers the routes)
