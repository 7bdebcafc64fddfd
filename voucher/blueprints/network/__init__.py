"""ATS network officers: read-only oversight of their network's alliances."""

from flask import Blueprint

bp = Blueprint("network", __name__, url_prefix="/network")

from voucher.blueprints.network import (  # noqa: E402, F401  (registers the routes)
    claims,
    reports,
    views,
)
