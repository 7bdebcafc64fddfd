"""Alliance operators: applications, claims, budgets and payouts of their alliance."""

from flask import Blueprint

bp = Blueprint("operator", __name__, url_prefix="/operator")

from voucher.blueprints.operator import applications, claims, measures, views  # noqa: E402, F401
