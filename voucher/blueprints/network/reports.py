"""Network officers' reports: indicators, charts and every project's rendicontazione.

Read-only, like the rest of the area: the only forms are GET filters. Everything is loaded
through the access rules, so a project of another network answers 404.
"""

from __future__ import annotations

from voucher.blueprints import reporting
from voucher.blueprints.common import role_required
from voucher.blueprints.network import bp
from voucher.models import Role


@bp.route("/projects/<int:project_id>", endpoint="project")
@role_required(Role.NETWORK)
def project(project_id: int):
    """One project of the network, read-only: money per measure, activity, charts, indicators."""
    return reporting.render_project("network", project_id)


@bp.route("/reports")
@role_required(Role.NETWORK)
def reports():
    """The Region's indicators with their charts, and every project's downloads."""
    return reporting.render_reports("network", with_overview=False)


@bp.route("/reports/<int:project_id>.xlsx")
@role_required(Role.NETWORK)
def report_xlsx(project_id: int):
    """The project's rendicontazione workbook."""
    return reporting.send_xlsx(project_id)


@bp.route("/reports/<int:project_id>.pdf")
@role_required(Role.NETWORK)
def report_pdf(project_id: int):
    """The project's rendicontazione summary as PDF."""
    return reporting.send_pdf(project_id)


@bp.route("/reports/<int:project_id>/<name>.csv")
@role_required(Role.NETWORK)
def report_csv(project_id: int, name: str):
    """One list of the project's rendicontazione as CSV."""
    return reporting.send_csv(project_id, name)
