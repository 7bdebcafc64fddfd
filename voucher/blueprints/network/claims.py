"""Network officers: their network's reimbursement requests, read-only.

The same pages as the operator's (``voucher.blueprints.operator.claims``) without any form:
network officers oversee and never decide. Everything is loaded through the access rules,
so a request of another network is not found (404).
"""

from __future__ import annotations

from voucher.blueprints.common import get_visible_or_404, role_required
from voucher.blueprints.network import bp
from voucher.blueprints.operator.claims import (
    claim_for_page,
    render_claim,
    render_claim_list,
    send_receipt,
)
from voucher.models import Receipt, Role


@bp.route("/claims", endpoint="claims")
@role_required(Role.NETWORK)
def claims_list():
    """The network's reimbursement requests, those under review first, oldest first."""
    return render_claim_list(
        read_only=True, list_endpoint="network.claims", detail_endpoint="network.claim"
    )


@bp.route("/claims/<int:claim_id>")
@role_required(Role.NETWORK)
def claim(claim_id: int):
    """One request with its voucher, receipts, flags and history; no decisions."""
    return render_claim(claim_for_page(claim_id), read_only=True, prefix="network")


@bp.route("/receipts/<int:receipt_id>/file")
@role_required(Role.NETWORK)
def receipt_file(receipt_id: int):
    """The receipt's file, as a download (its opening is audited)."""
    return send_receipt(get_visible_or_404(Receipt, receipt_id), thumbnail=False)


@bp.route("/receipts/<int:receipt_id>/thumbnail")
@role_required(Role.NETWORK)
def receipt_thumbnail(receipt_id: int):
    """A small preview of a photographed receipt."""
    return send_receipt(get_visible_or_404(Receipt, receipt_id), thumbnail=True)
