"""Providers of time-saving services: their services and bookings."""

from flask import Blueprint

bp = Blueprint("provider", __name__, url_prefix="/provider")

from voucher.blueprints.provider import views  # noqa: E402, F401  (registers the routes)
