"""Views of the provider area."""

from flask import render_template
from flask_login import current_user

from voucher.blueprints.common import role_required
from voucher.blueprints.provider import bp
from voucher.models import Role


@bp.route("/")
@role_required(Role.PROVIDER)
def home():
    """The provider's organisation and the alliances it works with."""
    return render_template("provider/home.html", organisation=current_user.organisation)
