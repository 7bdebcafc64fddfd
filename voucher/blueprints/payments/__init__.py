"""Card payments: Stripe's webhook and the pages Stripe Checkout sends the worker back to."""

from flask import Blueprint

bp = Blueprint("payments", __name__, url_prefix="/payments")

from voucher.blueprints.payments import views  # noqa: E402, F401  (registers the routes)
