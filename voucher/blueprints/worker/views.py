"""Views of the worker's area."""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.worker import bp
from voucher.extensions import db
from voucher.models import Role
from voucher.services import overview


@bp.route("/")
@role_required(Role.WORKER)
def home():
    """The worker's dashboard: employment declarations and family members."""
    employments, dependants = overview.worker_summary(db.session, current_user)
    return render_template("worker/home.html", employments=employments, dependants=dependants)
