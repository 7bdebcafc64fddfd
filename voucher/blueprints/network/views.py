"""Views of the network officer's area: everything of the network's alliances, read-only.

The application pages are the operator's, rendered with ``read_only``: no decision form,
and the decision endpoints (under /operator) let in operators only.
"""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.network import bp
from voucher.blueprints.operator import applications as operator_applications
from voucher.blueprints.operator.views import claims_waiting
from voucher.extensions import db
from voucher.models import Role
from voucher.services import overview


@bp.route("/")
@role_required(Role.NETWORK)
def home():
    """The network's alliances, their projects' budgets, the applications and claims waiting."""
    return render_template(
        "network/home.html",
        alliances=overview.alliances_for(db.session, current_user),
        projects=overview.project_budgets(db.session, current_user),
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
