"""Views of the operator area."""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.operator import bp
from voucher.extensions import db
from voucher.models import Role
from voucher.services import overview


@bp.route("/")
@role_required(Role.OPERATOR)
def home():
    """The operator's dashboard: the alliance's projects and their budgets."""
    return render_template(
        "operator/home.html",
        alliances=overview.alliances_for(db.session, current_user),
        projects=overview.project_budgets(db.session, current_user),
    )
