"""Alliance operators: applications, claims, budgets and payouts of their alliance."""

from flask import Blueprint

bp = Blueprint("operator", __name__, url_prefix="/operator")

from voucher.blueprints.operator import (  # noqa: E402, F401  (registers the routes)
    applications,
    claims,
    measures,
    payouts,
    reports,
    statements,
    views,
)
