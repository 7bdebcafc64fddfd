"""Views of the HR area."""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.hr import bp
from voucher.extensions import db
from voucher.models import Role
from voucher.services import overview


@bp.route("/")
@role_required(Role.HR)
def home():
    """HR's queue: declarations of employment waiting for a decision."""
    pending, counts = overview.hr_declarations(db.session, current_user)
    return render_template("hr/home.html", pending=pending, counts=counts)
