"""Views of the public pages."""

from __future__ import annotations

from flask import jsonify, render_template
from sqlalchemy import func, select, text

from voucher import faults
from voucher.blueprints.main import bp
from voucher.extensions import db
from voucher.models import Alliance, Measure, Network


@bp.route("/")
def index():
    """The public home page: what the programme offers and how to take part."""
    counts = {
        "networks": db.session.scalar(select(func.count()).select_from(Network)),
        "alliances": db.session.scalar(select(func.count()).select_from(Alliance)),
        "measures": db.session.scalar(select(func.count()).select_from(Measure)),
    }
    return render_template("main/index.html", counts=counts)


@bp.route("/healthz")
def healthz():
    """Liveness and database reachability, for load balancers and monitoring."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not ready"
        db.session.rollback()
        response = jsonify(status="unavailable", database="unreachable")
        response.status_code = 503
        response.headers["Retry-After"] = str(faults.RETRY_AFTER)
        return response
    return jsonify(status="ok", database="ok")


@bp.route("/privacy")
def privacy():
    """The privacy notice (GDPR art. 13) that workers accept when registering."""
    return render_template("main/privacy.html")
