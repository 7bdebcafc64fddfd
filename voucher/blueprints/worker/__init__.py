"""The worker's area: profile, family, measures, applications, claims."""

from flask import Blueprint

bp = Blueprint("worker", __name__, url_prefix="/worker")

# Each module registers the routes of one part of the journey.
from voucher.blueprints.worker import (  # noqa: E402, F401
    applications,
    bookings,
    claims,
    family,
    privacy,
    profile,
    views,
)
