"""Rendicontazione of a project for a period: one XLSX, one PDF summary and a CSV per list.

- XLSX sheets: summary, per measure, reimbursed expenses (one row per receipt: supplier
  VAT number, document number and date, amount, reimbursed amount, claim id), indicators.
- PDF: the summary, per measure and the indicators (the expenses are in the XLSX/CSV).
- CSV: ``measures``, ``expenses`` and ``indicators``; UTF-8 with a byte-order mark (so
  spreadsheets read accents), comma-separated, amounts in euros with a dot, ISO dates.

No worker is named: a row carries a pseudonymous worker id (:func:`pseudonym`), the same
in every export as long as the SECRET_KEY stays. Money figures come from the ledger
(``reports.measure_money``), so they equal it by construction; the expense list reads the
claims decided in the period and apportions each claim's approved amount over its receipts
so that the list adds up to the approvals to the cent.

The expense list is streamed: rows are read ``YIELD_PER`` at a time and written out as they
come (CSV to the response, XLSX through openpyxl's write-only mode, which keeps each sheet
in a temporary file), so a list of 100,000 claims fits in a few megabytes of memory.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import IO, Any

from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voucher.i18n import current_language, format_money
from voucher.models import Claim, Measure, Project, Receipt, ReceiptStatus, User, Voucher
from voucher.services import indicators as indicators_service
from voucher.services import reports
from voucher.services.access import visible
from voucher.services.labels import MEASURE_KIND_LABELS
from voucher.services.review import STATUS_LABELS as CLAIM_STATUS_LABELS

YIELD_PER = 1000
# CSV text is handed to the response in pieces of about this many rows.
CSV_BATCH = 500
FONT_DIR = Path(__file__).resolve().parent.parent / "resources" / "fonts"
MONEY_FORMAT = '"€" #,##0.00'
CSV_LISTS = ("measures", "expenses", "indicators")


def pseudonym(key: str, worker_id: int) -> str:
    """A stable, non-reversible id for a worker in exports: a keyed hash, never the DB id."""
    # 12 hex digits (48 bits): no two of even a million workers are likely to share one.
    digest = hmac.new(key.encode(), f"worker:{worker_id}".encode(), hashlib.sha256).hexdigest()
    return f"W-{digest[:12]}"


def hidden_text() -> str:
    """What a suppressed count reads as."""
    return _("fewer than %(count)d", count=indicators_service.SMALL_CELL)


# --- what every export says ---------------------------------------------------------------


@dataclass
class ProjectSummary:
    """Everything the summary of a project's report says, for one filter."""

    report: reports.ProjectReport
    flt: reports.ReportFilter
    indicators: indicators_service.Indicators
    beneficiaries_by_measure: dict[int, int | None]
    generated_at: datetime

    @property
    def project(self) -> Project:
        return self.report.project

    @property
    def money(self) -> reports.Money:
        return self.report.money


def project_summary(
    session: Session,
    user: User,
    project: Project,
    flt: reports.ReportFilter,
    today: date,
    generated_at: datetime,
) -> ProjectSummary:
    """The summary of ``project`` (loaded through the access rules) for the period."""
    flt = reports.ReportFilter(None, flt.date_from, flt.date_to)
    report = reports.project_report(session, user, project, flt)
    per_measure = {
        measure_id: int(count)
        for measure_id, count in session.execute(
            indicators_service.beneficiary_vouchers(user, flt, [project.id])
            .with_only_columns(Voucher.measure_id, func.count(func.distinct(Voucher.worker_id)))
            .group_by(Voucher.measure_id)
        ).all()
    }
    return ProjectSummary(
        report=report,
        flt=flt,
        indicators=indicators_service.indicators(session, user, flt, today, [project.id]),
        beneficiaries_by_measure={
            m.measure.id: indicators_service.suppress(per_measure.get(m.measure.id, 0))
            for m in report.measures
        },
        generated_at=generated_at,
    )


def period_text(flt: reports.ReportFilter) -> str:
    """The period in words."""
    if flt.date_from and flt.date_to:
        return _(
            "from %(start)s to %(end)s",
            start=format_date(flt.date_from, "medium"),
            end=format_date(flt.date_to, "medium"),
        )
    if flt.date_from:
        return _("from %(start)s", start=format_date(flt.date_from, "medium"))
    if flt.date_to:
        return _("until %(end)s", end=format_date(flt.date_to, "medium"))
    return _("since the start")


def _days(value: float | None) -> str:
    """Average days with one decimal, in the reader's locale."""
    return format_decimal(round(value, 1), "#,##0.0") if value is not None else "—"


def summary_facts(summary: ProjectSummary) -> list[tuple[str, Any]]:
    """The summary as (label, value) lines: texts in the reader's language, amounts as
    :class:`Cents` and counts as numbers (each writer formats them)."""
    p = summary.project
    money, activity = summary.money, summary.report.activity
    facts = [
        (_("Project"), p.title),
        (_("Project code"), p.code or "—"),
        (_("Alliance"), p.alliance.name),
        (_("Programme"), f"{p.programme.name} ({p.programme.legal_reference})"),
        (_("Period"), period_text(summary.flt)),
        (_("Project total"), Cents(p.total_cents)),
        (_("Regional share"), Cents(p.regional_share_cents)),
        (_("Co-funding by the partners"), Cents(p.cofunding_cents)),
        (_("Allocated (at the end of the period)"), Cents(money.allocated_cents)),
        (_("Reserved (at the end of the period)"), Cents(money.reserved_cents)),
        (_("Spent in the period"), Cents(money.spent_cents)),
        (_("of which reimbursement requests"), Cents(money.spent_on_claims_cents)),
        (_("Paid in the period"), Cents(money.paid_cents)),
        (_("Available"), Cents(money.available_cents)),
        (_("Applications sent"), activity.applications),
        (_("Vouchers granted"), activity.vouchers),
        (_("Beneficiaries"), _count_text_or_int(summary.indicators.beneficiaries)),
    ]
    for status in reports.CLAIM_STATUSES:
        facts.append(
            (
                _("Requests: %(status)s", status=CLAIM_STATUS_LABELS[status]),
                activity.claims.get(status, 0),
            )
        )
    facts += [
        (_("Average days from request to decision"), _days(activity.days_to_decision)),
        (_("Average days from request to payment"), _days(activity.days_to_payment)),
        (_("Generated on"), format_date(summary.generated_at, "medium")),
    ]
    return facts


def _count_text(value: int | None) -> str:
    """A suppressed count as words, else the number as text."""
    return hidden_text() if value is None else str(value)


def measure_header() -> list[str]:
    """Column names of the per-measure list."""
    return [
        _("Measure id"),
        _("Measure"),
        _("Kind of measure"),
        _("Allocated"),
        _("Reserved"),
        _("Spent"),
        _("of which reimbursement requests"),
        _("Paid"),
        _("Available"),
        _("Beneficiaries"),
    ]


def measure_rows(summary: ProjectSummary) -> Iterator[list[Any]]:
    """One row per measure: amounts in cents (the writers format them), beneficiaries."""
    for m in summary.report.measures:
        money = m.money
        yield [
            m.measure.id,
            m.measure.title,
            str(MEASURE_KIND_LABELS[m.measure.kind]),
            Cents(money.allocated_cents),
            Cents(money.reserved_cents),
            Cents(money.spent_cents),
            Cents(money.spent_on_claims_cents),
            Cents(money.paid_cents),
            Cents(money.available_cents),
            _count_text_or_int(summary.beneficiaries_by_measure.get(m.measure.id)),
        ]


def _count_text_or_int(value: int | None) -> int | str:
    """A suppressed count as words, else the number."""
    return hidden_text() if value is None else value


def indicator_header() -> list[str]:
    """Column names of the indicators list."""
    return [_("Indicator"), _("Category"), _("People")]


def indicator_rows(result: indicators_service.Indicators) -> Iterator[list[Any]]:
    """One row per category of every indicator, suppressed counts as words."""
    yield [_("Beneficiaries"), _("All"), _count_text_or_int(result.beneficiaries)]
    for breakdown in result.breakdowns:
        for cell in breakdown.cells:
            yield [str(breakdown.title), str(cell.label), _count_text_or_int(cell.count)]
    saved = result.hours_saved
    if saved is not None:
        hours = round(saved.hours, 1) if saved.hours is not None else hidden_text()
        yield [
            _("Time-saving services"),
            _("People who saved time"),
            _count_text_or_int(saved.people),
        ]
        yield [_("Time-saving services"), _("Hours saved"), hours]


# --- the expense list -----------------------------------------------------------------------


class Cents(int):
    """An amount in cents in a row: each writer shows it its own way (euros)."""


@dataclass(frozen=True)
class Expense:
    """One receipt of a reimbursed claim, as the rendicontazione lists it."""

    claim_id: int
    worker: str
    measure: str
    supplier_vat: str
    document_number: str
    issued_on: date
    amount_cents: int
    reimbursed_cents: int
    decided_on: date | None
    paid_on: date | None
    status: str


def expense_header() -> list[str]:
    """Column names of the expense list."""
    return [
        _("Claim id"),
        _("Worker (pseudonymous id)"),
        _("Measure"),
        _("Supplier VAT number"),
        _("Document number"),
        _("Document date"),
        _("Amount"),
        _("Reimbursed amount"),
        _("Decided on"),
        _("Paid on"),
        _("Status"),
    ]


def apportion(total: int, amounts: Sequence[int]) -> list[int]:
    """Split ``total`` cents in proportion to ``amounts``, adding up to ``total`` exactly."""
    # Largest remainder: everyone gets the floor of their share, and the cents left over go
    # to the largest fractions (the earlier one first on a tie).
    weight = sum(amounts)
    if weight <= 0:
        return [total] + [0] * (len(amounts) - 1) if amounts else []
    shares = [total * a // weight for a in amounts]
    remainders = [total * a % weight for a in amounts]
    left = total - sum(shares)
    for index in sorted(range(len(amounts)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def _local_day(value: datetime | None) -> date | None:
    """The Italian calendar day of a stored timestamp."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back UTC without its zone
        value = value.replace(tzinfo=UTC)
    return value.astimezone(reports.ROME).date()


def expenses(
    session: Session, user: User, project: Project, flt: reports.ReportFilter, key: str
) -> Iterator[Expense]:
    """The receipts of the claims approved in the period, streamed, claim by claim."""
    # Rejected receipts did not count towards the approval and are left out.
    stmt = (
        visible(
            Receipt,
            user,
            select(
                Claim.id,
                Claim.worker_id,
                Claim.approved_cents,
                Claim.decided_at,
                Claim.paid_at,
                Claim.status,
                Measure.title,
                Receipt.supplier_vat,
                Receipt.document_number,
                Receipt.issued_on,
                Receipt.amount_cents,
            ).select_from(Receipt),
        )
        .join(Claim, Claim.id == Receipt.claim_id)
        .join(Voucher, Voucher.id == Claim.voucher_id)
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(
            Measure.project_id == project.id,
            Claim.status.in_(reports.REIMBURSED_STATUSES),
            Receipt.status != ReceiptStatus.REJECTED,
            flt.within(Claim.decided_at),
        )
        .order_by(Claim.id, Receipt.id)
        .execution_options(yield_per=YIELD_PER)
    )
    result = session.execute(stmt)
    names: dict[int, str] = {}
    # Translated once, not once per row: a long list would spend seconds in gettext.
    statuses = {status: str(label) for status, label in CLAIM_STATUS_LABELS.items()}
    for claim_id, group in groupby(result, key=lambda row: row[0]):
        rows = list(group)
        first = rows[0]
        worker_id = first[1]
        if worker_id not in names:
            # One worker's claims are rarely far apart; the cache only saves hashing.
            if len(names) > 10_000:
                names.clear()
            names[worker_id] = pseudonym(key, worker_id)
        shares = apportion(int(first[2] or 0), [int(r[10]) for r in rows])
        status = statuses[first[5]]
        for row, share in zip(rows, shares, strict=True):
            yield Expense(
                claim_id=claim_id,
                worker=names[worker_id],
                measure=row[6],
                supplier_vat=row[7],
                document_number=row[8],
                issued_on=row[9],
                amount_cents=int(row[10]),
                reimbursed_cents=share,
                decided_on=_local_day(row[3]),
                paid_on=_local_day(row[4]),
                status=status,
            )


def expense_rows(expense_list: Iterable[Expense]) -> Iterator[list[Any]]:
    """The expense list as rows of values (amounts as :class:`Cents`)."""
    for e in expense_list:
        yield [
            e.claim_id,
            e.worker,
            e.measure,
            e.supplier_vat,
            e.document_number,
            e.issued_on,
            Cents(e.amount_cents),
            Cents(e.reimbursed_cents),
            e.decided_on,
            e.paid_on,
            e.status,
        ]


# --- CSV ------------------------------------------------------------------------------------


def euros(cents: int) -> str:
    """Cents as euros with a dot and two decimals ("1234.50"), for CSV."""
    return str(Decimal(cents).scaleb(-2))


def _csv_value(value: Any) -> Any:
    """A value as CSV writes it: euros, ISO dates, empty for none."""
    if isinstance(value, Cents):
        return euros(value)
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """A CSV file as pieces of text, a batch of rows at a time (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(v) for v in row])
        if count % CSV_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_export(
    name: str,
    session: Session,
    user: User,
    project: Project,
    flt: reports.ReportFilter,
    key: str,
    summary: Callable[[], ProjectSummary],
) -> Iterator[str]:
    """The CSV list ``name`` (one of CSV_LISTS) of the project, as streamed text."""
    if name == "expenses":
        return csv_lines(expense_header(), expense_rows(expenses(session, user, project, flt, key)))
    if name == "measures":
        return csv_lines(measure_header(), measure_rows(summary()))
    if name == "indicators":
        return csv_lines(indicator_header(), indicator_rows(summary().indicators))
    raise ValueError(name)


# --- XLSX -----------------------------------------------------------------------------------


def _sheet_title(text: str) -> str:
    """A valid worksheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in text)
    return cleaned[:31] or "Sheet"


def _xlsx_cell(sheet: Any, value: Any, bold: Font | None = None) -> Any:
    """A value as a write-only row takes it (amounts as euros with a format)."""
    # Dates get openpyxl's date format by themselves; only amounts need a cell object.
    if isinstance(value, Cents):
        cell = WriteOnlyCell(sheet, value=Decimal(value).scaleb(-2))
        cell.number_format = MONEY_FORMAT
        return cell
    if bold is not None:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = bold
        return cell
    return value


def _write_list(
    workbook: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """A worksheet with a bold header and ``rows``, written as they come."""
    sheet = workbook.create_sheet(_sheet_title(title))
    bold = Font(bold=True)
    sheet.append([_xlsx_cell(sheet, h, bold) for h in header])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, v) for v in row])


def write_xlsx(
    out: IO[bytes],
    session: Session,
    user: User,
    project: Project,
    summary: ProjectSummary,
    key: str,
) -> None:
    """Write the project's workbook to ``out`` (a file: openpyxl seeks in it)."""
    workbook = Workbook(write_only=True)
    # Fixed properties: the same report gives the same workbook metadata.
    stamp = summary.generated_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.creator = "Conciliazione voucher"
    workbook.properties.title = _("Rendicontazione of %(title)s", title=summary.project.title)
    _write_list(workbook, _("Summary"), [_("Item"), _("Value")], summary_facts(summary))
    _write_list(workbook, _("Measures"), measure_header(), measure_rows(summary))
    _write_list(
        workbook,
        _("Expenses"),
        expense_header(),
        expense_rows(expenses(session, user, project, summary.flt, key)),
    )
    _write_list(workbook, _("Indicators"), indicator_header(), indicator_rows(summary.indicators))
    workbook.save(out)


# --- PDF ------------------------------------------------------------------------------------


class _SummaryPDF(FPDF):
    """A4 portrait with a footer that numbers the pages."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=7)
        self.cell(
            0,
            5,
            f"{self.footer_text} · {self.page_no()}/{{nb}}",
            align="C",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


def pdf_bytes(summary: ProjectSummary) -> bytes:
    """The PDF summary of the project's report (same report and date: same bytes)."""
    pdf = _SummaryPDF(orientation="portrait", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_creation_date(summary.generated_at.astimezone(UTC).replace(microsecond=0))
    title = _("Rendicontazione of %(title)s", title=summary.project.title)
    pdf.set_title(title)
    pdf.set_creator("Conciliazione voucher")
    pdf.set_author(summary.project.alliance.name)
    pdf.set_lang(current_language())
    pdf.footer_text = title
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()

    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", size=9)
    pdf.multi_cell(
        0,
        5,
        f"{summary.project.alliance.name} · {period_text(summary.flt)}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(3)

    _pdf_heading(pdf, _("Summary"))
    facts = [(label, _pdf_value(value)) for label, value in summary_facts(summary)]
    _pdf_table(pdf, [_("Item"), _("Value")], facts, (110, 70), right=(1,))

    _pdf_heading(pdf, _("Per measure"))
    header = [_("Measure"), _("Allocated"), _("Spent"), _("Paid"), _("Available"), _("People")]
    rows = []
    for row in measure_rows(summary):
        rows.append(
            [row[1], *(format_money(int(v)) for v in (row[3], row[5], row[7], row[8])), row[9]]
        )
    money = summary.money
    rows.append(
        [
            _("Total"),
            format_money(money.allocated_cents),
            format_money(money.spent_cents),
            format_money(money.paid_cents),
            format_money(money.available_cents),
            _count_text(summary.indicators.beneficiaries),
        ]
    )
    _pdf_table(pdf, header, rows, (50, 28, 28, 28, 28, 18), right=(1, 2, 3, 4, 5), bold_last=True)

    _pdf_heading(pdf, _("Indicators"))
    indicator_list = list(indicator_rows(summary.indicators))
    if summary.indicators.beneficiaries is None:
        pdf.set_font("DejaVu", size=9)
        pdf.multi_cell(
            0,
            5,
            _(
                "Fewer than %(count)d beneficiaries: no indicator is shown, so that nobody "
                "can be recognised.",
                count=indicators_service.SMALL_CELL,
            ),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    else:
        _pdf_table(pdf, indicator_header(), indicator_list, (75, 80, 25), right=(2,))
    pdf.ln(2)
    pdf.set_font("DejaVu", size=7)
    pdf.multi_cell(
        0,
        4,
        _(
            "Counts of fewer than %(count)d people are not shown, nor any count from which "
            "they could be worked out. Amounts come from the budget ledger: spent and paid "
            "in the period, allocated and reserved at its end.",
            count=indicators_service.SMALL_CELL,
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    return bytes(pdf.output())


def _pdf_value(value: Any) -> str:
    """A summary value as the PDF prints it: amounts with the euro sign."""
    return format_money(int(value)) if isinstance(value, Cents) else str(value)


def _pdf_heading(pdf: FPDF, text: str) -> None:
    """A section heading of the PDF."""
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pdf_table(
    pdf: FPDF,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int],
    right: Sequence[int] = (),
    bold_last: bool = False,
) -> None:
    """A table with a bold header (and total line), amounts aligned right."""
    rows = list(rows)
    bold = FontFace(emphasis="BOLD")
    pdf.set_font("DejaVu", size=8)
    alignment = tuple("RIGHT" if i in right else "LEFT" for i in range(len(widths)))
    with pdf.table(
        col_widths=widths,
        text_align=alignment,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=5,
        headings_style=bold,
    ) as table:
        heading = table.row()
        for text in header:
            heading.cell(str(text))
        for index, values in enumerate(rows):
            last = bold_last and index == len(rows) - 1
            row = table.row(style=bold if last else None)
            for value in values:
                row.cell(str(value))
    pdf.ln(2)
