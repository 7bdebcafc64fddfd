"""Views of the network officer's area."""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.network import bp
from voucher.extensions import db
from voucher.models import Role
from voucher.services import overview


@bp.route("/")
@role_required(Role.NETWORK)
def home():
    """The network's alliances and their projects' budgets, read-only."""
    return render_template(
        "network/home.html",
        alliances=overview.alliances_for(db.session, current_user),
        projects=overview.project_budgets(db.session, current_user),
    )
