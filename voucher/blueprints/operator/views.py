"""The operator's dashboard: budgets of the alliance's projects and what waits in the queues."""

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from voucher.blueprints.common import role_required
from voucher.blueprints.operator import bp
from voucher.blueprints.operator.applications import counts
from voucher.extensions import db
from voucher.models import Claim, ClaimStatus, Role, User
from voucher.services import overview
from voucher.services.access import visible


def claims_waiting(user: User) -> int:
    """How many of the user's reimbursement requests wait for review."""
    return int(
        db.session.scalar(
            visible(Claim, user, select(func.count(Claim.id))).where(
                Claim.status == ClaimStatus.SUBMITTED
            )
        )
        or 0
    )


@bp.route("/")
@role_required(Role.OPERATOR)
def home():
    """Per project: allocated, reserved, spent, paid, available; applications and claims waiting."""
    return render_template(
        "operator/home.html",
        alliances=overview.alliances_for(db.session, current_user),
        projects=overview.project_budgets(db.session, current_user),
        waiting=counts(current_user),
        claims_waiting=claims_waiting(current_user),
    )
