"""The worker's dashboard and notifications."""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.worker import bp
from voucher.extensions import db
from voucher.models import Role
from voucher.services import notifications, overview


@bp.route("/")
@role_required(Role.WORKER)
def home():
    """The worker's dashboard: what is in progress and the next step for each."""
    latest, unread = notifications.latest_and_unread(db.session, current_user, limit=3)
    return render_template(
        "worker/home.html",
        dash=overview.worker_dashboard(db.session, current_user),
        latest=latest,
        unread=unread,
    )


@bp.route("/notifications")
@role_required(Role.WORKER)
def notifications_list():
    """Every message for the worker; opening the page marks them as read."""
    items = notifications.latest(db.session, current_user, limit=100)
    unread_ids = {n.id for n in items if n.read_at is None}
    # Rendered before the commit, which would expire what the page shows and load it again.
    page = render_template("worker/notifications.html", items=items, unread_ids=unread_ids)
    notifications.mark_all_read(db.session, current_user)
    db.session.commit()
    return page
