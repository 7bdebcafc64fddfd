"""Views of the admin area."""

from flask import render_template
from sqlalchemy import func, select

from voucher.blueprints.admin import bp
from voucher.blueprints.common import role_required
from voucher.extensions import db
from voucher.models import Alliance, Measure, Network, Organisation, Programme, Project, Role, User


@bp.route("/")
@role_required(Role.ADMIN)
def home():
    """The admin dashboard: how much of each thing exists, with links to manage them."""
    counts = {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (
            ("programmes", Programme),
            ("networks", Network),
            ("organisations", Organisation),
            ("alliances", Alliance),
            ("projects", Project),
            ("measures", Measure),
            ("users", User),
        )
    }
    return render_template("admin/home.html", counts=counts)
