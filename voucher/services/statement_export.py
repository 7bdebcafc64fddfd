"""A provider's monthly statement as a spreadsheet, for the alliance to pay from.

The same statement always gives the same bytes (``spreadsheets.workbook_bytes``), so a
file sent to a treasury can be checked against a new download.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import format_date
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from voucher.models import Booking, ProviderStatement
from voucher.services.bookings import ROME, as_utc
from voucher.services.catalogue import UNIT_LABELS
from voucher.services.spreadsheets import workbook_bytes

EURO = '#,##0.00 "€"'


def statement_bookings(session: Session, statement: ProviderStatement) -> list[Booking]:
    """The statement's bookings in order of delivery, with what the export shows."""
    return list(
        session.scalars(
            select(Booking)
            .where(Booking.statement_id == statement.id)
            .options(
                joinedload(Booking.service),
                joinedload(Booking.worker),
                joinedload(Booking.slot),
            )
            .order_by(Booking.delivered_at, Booking.id)
        ).all()
    )


def statement_xlsx(session: Session, statement: ProviderStatement) -> bytes:
    """The statement as an XLSX workbook: a header, then one row per delivered booking."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Statement")[:31]
    bold = Font(bold=True)
    organisation = statement.organisation
    header = [
        (_("Provider"), organisation.name),
        (_("Codice fiscale"), organisation.tax_code),
        (_("Alliance"), statement.alliance.name),
        (_("Month"), format_date(statement.month, "MMMM yyyy")),
        (_("Statement number"), statement.id),
        (_("Bookings"), statement.booking_count),
        (_("Total to pay (voucher shares)"), statement.total_cents / 100),
    ]
    for label, value in header:
        sheet.append([label, value])
        sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.cell(row=sheet.max_row, column=2).number_format = EURO
    sheet.append([])
    columns = [
        _("Booking"),
        _("Delivered on"),
        _("Slot"),
        _("Service"),
        _("Quantity"),
        _("Unit"),
        _("Unit price"),
        _("Total"),
        _("Paid by the voucher"),
        _("Co-payment by the worker"),
        _("Worker"),
    ]
    sheet.append(columns)
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for booking in statement_bookings(session, statement):
        delivered = as_utc(booking.delivered_at).astimezone(ROME).replace(tzinfo=None)  # type: ignore[arg-type]
        slot = as_utc(booking.slot.starts_at).astimezone(ROME).replace(tzinfo=None)
        sheet.append(
            [
                booking.id,
                delivered.date(),
                slot,
                booking.service.title,
                booking.quantity,
                str(UNIT_LABELS[booking.service.unit]),
                booking.unit_price_cents / 100,
                booking.total_cents / 100,
                booking.voucher_cents / 100,
                booking.copay_cents / 100,
                booking.worker.full_name,
            ]
        )
        row = sheet.max_row
        sheet.cell(row=row, column=2).number_format = "DD/MM/YYYY"
        sheet.cell(row=row, column=3).number_format = "DD/MM/YYYY HH:MM"
        for column in (7, 8, 9, 10):
            sheet.cell(row=row, column=column).number_format = EURO
    for letter, width in zip(
        "ABCDEFGHIJK", (28, 14, 18, 30, 10, 10, 12, 12, 16, 16, 28), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    # The statement's own issue time: the same statement, the same file.
    return workbook_bytes(workbook, _created(statement))


def _created(statement: ProviderStatement) -> datetime:
    return as_utc(statement.created_at).astimezone(ROME)
