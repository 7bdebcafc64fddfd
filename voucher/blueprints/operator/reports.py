"""Operators' reports: the alliance's projects, indicators and rendicontazione downloads.

The same pages as the network officers' (``voucher.blueprints.reporting``), limited by the
access rules to the operator's alliance: another alliance's project answers 404.
"""

from __future__ import annotations

from voucher.blueprints import reporting
from voucher.blueprints.common import role_required
from voucher.blueprints.operator import bp
from voucher.models import Role


@bp.route("/reports")
@role_required(Role.OPERATOR)
def reports():
    """The alliance's projects with money and activity, indicators, charts and downloads."""
    return reporting.render_reports("operator", with_overview=True)


@bp.route("/reports/projects/<int:project_id>", endpoint="project")
@role_required(Role.OPERATOR)
def project(project_id: int):
    """One project of the alliance: money per measure, activity, charts, indicators."""
    return reporting.render_project("operator", project_id)


@bp.route("/reports/<int:project_id>.xlsx")
@role_required(Role.OPERATOR)
def report_xlsx(project_id: int):
    """The project's rendicontazione workbook."""
    return reporting.send_xlsx(project_id)


@bp.route("/reports/<int:project_id>.pdf")
@role_required(Role.OPERATOR)
def report_pdf(project_id: int):
    """The project's rendicontazione summary as PDF."""
    return reporting.send_pdf(project_id)


@bp.route("/reports/<int:project_id>/<name>.csv")
@role_required(Role.OPERATOR)
def report_csv(project_id: int, name: str):
    """One list of the project's rendicontazione as CSV."""
    return reporting.send_csv(project_id, name)
