"""Report pages and downloads shared by the network and operator areas (read-only).

The network blueprint (``/network/``, ``/network/projects/<id>``, ``/network/reports…``)
and the operator blueprint (``/operator/reports…``) register thin routes that call these
helpers with their ``area``; the access rules scope everything to the person (a project of
another network or alliance answers 404). The only forms are GET filters.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.utils import secure_filename

from voucher.blueprints.common import current_actor, get_visible_or_404
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import Project
from voucher.services import audit, charts, exports, indicators, reports
from voucher.services.clock import today
from voucher.services.labels import MEASURE_KIND_LABELS
from voucher.services.review import STATUS_LABELS as CLAIM_STATUS_LABELS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def current_filter() -> tuple[reports.ReportFilter, list[Any]]:
    """The programme and period of the query string, and what could not be read."""
    return reports.read_filter(request.args)


def _common(
    area: str, flt: reports.ReportFilter, errors: list[Any], endpoint: str, **endpoint_args: Any
) -> dict:
    """What every report page needs: the filter (its form posts back to ``endpoint``)."""
    return {
        "area": area,
        "flt": flt,
        "filter_errors": errors,
        "filter_url": url_for(endpoint, **endpoint_args),
        "programmes": reports.programmes_for(db.session, current_user),
        "claim_statuses": reports.CLAIM_STATUSES,
        "claim_status_labels": CLAIM_STATUS_LABELS,
        "kind_labels": MEASURE_KIND_LABELS,
        "small": indicators.SMALL_CELL,
    }


def overview_context(area: str, endpoint: str) -> dict:
    """What an overview of every project in scope shows, for the filter of the query string."""
    flt, errors = current_filter()
    overview = reports.overview(db.session, current_user, flt)
    project_ids = [p.project.id for p in overview.projects]
    return {
        **_common(area, flt, errors, endpoint),
        "overview": overview,
        "spending_chart": spending_chart(
            "spending-by-kind",
            _l("Spent by kind of measure"),
            [(MEASURE_KIND_LABELS[k], v) for k, v in reports.spending_by_kind(overview.projects)],
        ),
        "burn_chart": burn_down_chart(
            "burn-down",
            _l("Budget burn-down of every project"),
            reports.burn_down(db.session, current_user, flt, project_ids, today()),
        ),
    }


def render_reports(area: str, *, with_overview: bool) -> str:
    """Indicators with their charts and the downloads of every project in scope."""
    endpoint = f"{area}.reports"
    flt, errors = current_filter()
    context = overview_context(area, endpoint) if with_overview else {}
    result = indicators.indicators(db.session, current_user, flt, today())
    projects = (
        context["overview"].projects
        if with_overview
        else reports.project_reports(db.session, current_user, flt)
    )
    context.update(_common(area, flt, errors, endpoint))
    return render_template(
        "reports/index.html",
        **context,
        indicators=result,
        indicator_charts=indicator_charts(result),
        projects=projects,
        with_overview=with_overview,
        csv_lists=exports.CSV_LISTS,
    )


def render_project(area: str, project_id: int) -> str:
    """One project read-only: money per measure, activity, timings, charts, indicators."""
    project = get_visible_or_404(Project, project_id)
    flt, errors = current_filter()
    report = reports.project_report(db.session, current_user, project, flt)
    result = indicators.indicators(db.session, current_user, flt, today(), [project.id])
    return render_template(
        "reports/project.html",
        **_common(area, flt, errors, f"{area}.project", project_id=project.id),
        report=report,
        indicators=result,
        indicator_charts=indicator_charts(result),
        spending_chart=spending_chart(
            f"spending-{project.id}",
            _l("Spent by measure"),
            [(m.measure.title, m.money.spent_cents) for m in report.measures],
        ),
        burn_chart=burn_down_chart(
            f"burn-down-{project.id}",
            _l("Budget burn-down"),
            reports.burn_down(db.session, current_user, flt, [project.id], today()),
        ),
        csv_lists=exports.CSV_LISTS,
    )


# --- downloads ----------------------------------------------------------------------------


def _summary(project: Project, flt: reports.ReportFilter) -> exports.ProjectSummary:
    """The project's summary as of now."""
    return exports.project_summary(
        db.session, current_user, project, flt, today(), datetime.now(UTC)
    )


def _download_name(project: Project, flt: reports.ReportFilter, suffix: str) -> str:
    """rendicontazione_<code>_<from>_<to><suffix>, safe as a file name."""
    parts = ["rendicontazione", project.code or str(project.id)]
    if flt.date_from:
        parts.append(flt.date_from.isoformat())
    if flt.date_to:
        parts.append(flt.date_to.isoformat())
    return secure_filename("_".join(parts) + suffix)


def _audit_export(project: Project, flt: reports.ReportFilter, kind: str) -> None:
    """Downloads carry pseudonymous personal data: who took which, and when, is logged."""
    audit.record(
        db.session,
        "report.export",
        project,
        current_actor(),
        format=kind,
        date_from=flt.date_from.isoformat() if flt.date_from else None,
        date_to=flt.date_to.isoformat() if flt.date_to else None,
    )
    db.session.commit()


def send_xlsx(project_id: int) -> Response:
    """The project's workbook (summary, measures, expenses, indicators)."""
    project = get_visible_or_404(Project, project_id)
    flt, _errors = current_filter()
    summary = _summary(project, flt)
    # On disk, not in memory: the expense list may be long.
    out = tempfile.TemporaryFile()  # noqa: SIM115  (send_file closes it)
    exports.write_xlsx(
        out, db.session, current_user, project, summary, current_app.config["SECRET_KEY"]
    )
    out.seek(0)
    _audit_export(project, flt, "xlsx")
    return _private(
        send_file(
            out,
            mimetype=XLSX,
            as_attachment=True,
            download_name=_download_name(project, flt, ".xlsx"),
        )
    )


def send_pdf(project_id: int) -> Response:
    """The project's PDF summary."""
    project = get_visible_or_404(Project, project_id)
    flt, _errors = current_filter()
    data = exports.pdf_bytes(_summary(project, flt))
    _audit_export(project, flt, "pdf")
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_download_name(project, flt, ".pdf")}"'
    )
    return _private(response)


def send_csv(project_id: int, name: str) -> Response:
    """One list of the project as CSV, streamed as it is read."""
    if name not in exports.CSV_LISTS:
        abort(404)
    project = get_visible_or_404(Project, project_id)
    flt, _errors = current_filter()
    user = current_actor()
    key = current_app.config["SECRET_KEY"]
    _audit_export(project, flt, f"csv:{name}")
    lines = exports.csv_export(
        name, db.session, user, project, flt, key, lambda: _summary(project, flt)
    )
    response = Response(stream_with_context(lines), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_download_name(project, flt, f"_{name}.csv")}"'
    )
    return _private(response)


def _private(response: Response) -> Response:
    """Personal data: neither cached nor sniffed."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- charts -------------------------------------------------------------------------------


def spending_chart(chart_id: str, title: Any, items: list[tuple[Any, int]]) -> charts.BarChart:
    """Bars of money spent."""
    return charts.bar_chart(chart_id, title, items, format_money, exports.hidden_text())


def burn_down_chart(
    chart_id: str, title: Any, points: list[reports.BurnPoint]
) -> dict[str, Any] | None:
    """The burn-down line chart and its points (for the data table), or None with no data."""
    chart = charts.line_chart(
        chart_id,
        title,
        [p.month for p in points],
        [
            ("app-chart-line-remaining", _("Not yet spent"), [p.remaining_cents for p in points]),
            ("app-chart-line-spent", _("Spent so far"), [p.spent_cents for p in points]),
        ],
        format_money,
    )
    if chart is None:
        return None
    return {"chart": chart, "points": points}


def indicator_charts(result: indicators.Indicators) -> dict[str, charts.BarChart]:
    """One bar chart per indicator, suppressed cells drawn as no bar with “fewer than 5”."""
    return {
        b.key: charts.bar_chart(
            f"indicator-{b.key}",
            b.title,
            [(cell.label, cell.count) for cell in b.cells],
            str,
            exports.hidden_text(),
        )
        for b in result.breakdowns
    }
