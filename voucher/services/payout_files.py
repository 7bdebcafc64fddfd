"""The files a payout is handed to the bank and the treasury as.

- a SEPA credit-transfer initiation (pain.001.001.03) built with ``sepaxml`` and validated
  against the XSD it ships;
- an XLSX payment list (one row per transfer) for public treasuries that work from lists.

Both are deterministic: the same payout gives the same bytes every time, so a file can be
regenerated, compared and archived without doubt about which one the bank received.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from sepaxml import SepaTransfer
from sepaxml.validation import try_valid_xml

from voucher.models import Payout
from voucher.services.payouts import in_file, total_cents
from voucher.services.spreadsheets import workbook_bytes

SCHEMA = "pain.001.001.03"


class _FixedTransfer(SepaTransfer):
    """sepaxml's transfer with its clock and random ids replaced by the payout's own."""

    def __init__(self, config: dict, created: datetime, reference: str) -> None:
        # Set before the parent's __init__, which writes the group header.
        self._created = created
        self._reference = reference
        super().__init__(config, schema=SCHEMA, clean=True)
        self.msg_id = reference

    def _create_header(self) -> None:
        super()._create_header()
        header = self._xml.find("CstmrCdtTrfInitn/GrpHdr")
        header.find("MsgId").text = self._reference
        header.find("CreDtTm").text = self._created.strftime("%Y-%m-%dT%H:%M:%S")

    def _finalize_batch(self) -> None:
        super()._finalize_batch()
        for number, node in enumerate(self._xml.iter("PmtInfId"), start=1):
            node.text = f"{self._reference}-{number}"


def _created(payout: Payout) -> datetime:
    created = payout.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC)


def sepa_xml(payout: Payout) -> bytes:
    """The pain.001.001.03 file of ``payout``, validated against the schema."""
    config = {
        "name": payout.debtor_name,
        "IBAN": payout.debtor_iban,
        "batch": True,
        "currency": "EUR",
    }
    if payout.debtor_bic:
        config["BIC"] = payout.debtor_bic
    transfer = _FixedTransfer(config, _created(payout), payout.reference)
    for line in in_file(payout):
        transfer.add_payment(
            {
                "name": line.creditor_name,
                "IBAN": line.creditor_iban,
                "amount": line.amount_cents,
                "execution_date": payout.requested_execution_date,
                # The remittance information the worker reads on their statement.
                "description": f"Rimborso voucher conciliazione - richiesta {line.claim_id}",
                "endtoend_id": line.end_to_end_id,
            }
        )
    # Validate here as well as in export(): the bytes we return are the ones checked.
    out = transfer.export(validate=False)
    try_valid_xml(out, SCHEMA)
    return out


def payment_list_xlsx(payout: Payout) -> bytes:
    """The payout as a spreadsheet: one row per transfer, with the total."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Payments")
    bold = Font(bold=True)
    project = payout.project
    header = [
        (_("Payout"), payout.reference),
        (_("Project"), project.title),
        (_("Debtor"), payout.debtor_name),
        (_("Debtor IBAN"), payout.debtor_iban),
        (_("Requested execution date"), payout.requested_execution_date),
    ]
    for label, value in header:
        sheet.append([label, value])
        sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.append([])
    columns = [
        _("No."),
        _("End-to-end id"),
        _("Request"),
        _("Beneficiary"),
        _("IBAN"),
        _("Amount (EUR)"),
        _("Status"),
        _("Reason"),
    ]
    sheet.append(columns)
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for number, line in enumerate(in_file(payout), start=1):
        sheet.append(
            [
                number,
                line.end_to_end_id,
                line.claim_id,
                line.creditor_name,
                line.creditor_iban,
                Decimal(line.amount_cents) / 100,
                _status(line.status.value),
                line.failure_reason,
            ]
        )
        sheet.cell(row=sheet.max_row, column=6).number_format = "#,##0.00"
    sheet.append([])
    sheet.append(["", "", "", "", _("Total"), Decimal(total_cents(payout)) / 100])
    sheet.cell(row=sheet.max_row, column=5).font = bold
    sheet.cell(row=sheet.max_row, column=6).number_format = "#,##0.00"
    for letter, width in zip("ABCDEFGH", (6, 22, 10, 32, 30, 14, 12, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    return workbook_bytes(workbook, _created(payout))


def _status(value: str) -> str:
    labels = {
        "pending": _("to be paid"),
        "paid": _("paid"),
        "failed": _("failed"),
    }
    return labels.get(value, value)
