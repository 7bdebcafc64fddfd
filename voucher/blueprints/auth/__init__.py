"""Authentication: register (workers), login, logout, password reset."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from voucher.blueprints.auth import views  # noqa: E402, F401  (registers the routes)
