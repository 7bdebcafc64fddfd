"""Views of the network officer's area: everything of the network's alliances, read-only.

The application pages are the operator's, rendered with ``read_only``: no decision form,
and the decision endpoints (under /operator) let in operators only.
"""

from flask import render_template
from flask_login import current_user

from voucher.blueprints import reporting
from voucher.blueprints.common import role_required
from voucher.blueprints.network import bp
from voucher.blueprints.operator import applications as operator_applications
from voucher.blueprints.operator.views import claims_waiting
from voucher.models import Role


@bp.route("/")
@role_required(Role.NETWORK)
def home():
    """Every alliance and project of the network with money, activity and timings, filtered
    by programme and period; charts; what waits for the operators."""
    return render_template(
        "network/home.html",
        **reporting.overview_context("network", "network.home"),
        waiting=operator_applications.counts(current_user),
        claims_waiting=claims_waiting(current_user),
    )


@bp.route("/applications")
@role_required(Role.NETWORK)
def applications():
    """The applications of the network's alliances, oldest sent first, read-only."""
    return operator_applications.queue("network", read_only=True)


@bp.route("/applications/<int:application_id>")
@role_required(Role.NETWORK)
def application(application_id: int):
    """One application with its checks and history, read-only."""
    return operator_applications.detail(
        operator_applications.load(application_id), "network", read_only=True
    )
