"""Providers of time-saving services: their services and bookings."""

from flask import Blueprint

bp = Blueprint("provider", __name__, url_prefix="/provider")

# Each module registers the routes of one part of the area.
from voucher.blueprints.provider import bookings, catalogue, views  # noqa: E402, F401
