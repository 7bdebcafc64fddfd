"""The operator's claim review through HTTP, and the network officer's read-only view of it.

Each request runs in its own application context (see ``IsolatedClient``): the test
commits before a request and reads the committed state after it.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.test_review import (
    TODAY,
    alliance_of,
    balanced,
    operator_of,
    reload,
    spend_entries,
    submitted_claim,
)
from voucher.models import (
    AuditEvent,
    Claim,
    ClaimStatus,
    Receipt,
    ReceiptStatus,
    Role,
    Voucher,
)
from voucher.services import claims, review

SECURE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'",
}


@pytest.fixture
def folder(app, tmp_path):
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


@pytest.fixture
def claim(db, folder) -> Claim:
    """A sent claim: receipts of EUR 100 and EUR 50 at 80%, so EUR 120 reimbursable."""
    sent = submitted_claim(db, folder)
    db.commit()
    return sent


def login_operator(login_as, claim: Claim):
    return login_as(Role.OPERATOR, all_=alliance_of(claim))


def english(client) -> None:
    """Switch the session to English, so assertions read like the source strings."""
    client.get("/?lang=en")


def post_forms(html: str) -> list[str]:
    return re.findall(r'<form method="post" action="([^"]+)"', html)


# --- the queue --------------------------------------------------------------------------


def test_queue_lists_the_alliance_claims_to_review_first_oldest_first(
    client, db, folder, login_as, claim
):
    mine = claim
    # A decided claim, an older one to review, a draft, and another alliance's claim.
    measure = mine.voucher.measure
    decided = submitted_claim(db, folder, amounts=(10_00,), meas=measure, voucher_cents=50_00)
    review.reject(db, decided, operator_of(db, decided), "No")
    other_measure = factories.measure(db, mine.voucher.measure.project)
    later = submitted_claim(db, folder, amounts=(20_00,), meas=other_measure)
    draft_voucher = factories.voucher(db, meas=measure, amount_cents=50_00)
    draft = claims.open_claim(db, draft_voucher.worker, draft_voucher, TODAY)
    foreign = submitted_claim(db, folder, amounts=(30_00,))
    db.commit()
    login_operator(login_as, mine)
    english(client)

    html = client.get("/operator/claims").get_data(as_text=True)
    links = [int(n) for n in re.findall(r'href="/operator/claims/(\d+)"', html)]
    assert links == [mine.id, later.id, decided.id]
    assert draft.id not in links and foreign.id not in links

    html = client.get("/operator/claims?status=rejected").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'href="/operator/claims/(\d+)"', html)] == [decided.id]
    html = client.get(f"/operator/claims?measure={other_measure.id}").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'href="/operator/claims/(\d+)"', html)] == [later.id]
    # Another alliance's measure filters to nothing, rather than showing its claims.
    foreign_measure = foreign.voucher.measure_id
    html = client.get(f"/operator/claims?measure={foreign_measure}").get_data(as_text=True)
    assert re.findall(r'href="/operator/claims/(\d+)"', html) == []


def test_queue_is_paged_by_50(client, db, folder, login_as, claim):
    measure = claim.voucher.measure
    for _ in range(50):
        voucher = factories.voucher(db, meas=measure, amount_cents=10_00)
        sent = Claim(
            voucher=voucher,
            worker=voucher.worker,
            status=ClaimStatus.SUBMITTED,
            requested_cents=5_00,
            submitted_at=claim.submitted_at,
        )
        db.add(sent)
    db.commit()
    login_operator(login_as, claim)
    first = client.get("/operator/claims").get_data(as_text=True)
    second = client.get("/operator/claims?page=2").get_data(as_text=True)
    assert len(re.findall(r'href="/operator/claims/(\d+)"', first)) == 50
    assert len(re.findall(r'href="/operator/claims/(\d+)"', second)) == 1
    assert 'rel="next"' in first
    # Filtered by measure and status, and past the end: the count still leads back.
    filtered = f"/operator/claims?measure={measure.id}&status=submitted"
    assert len(re.findall(r'href="/operator/claims/(\d+)"', client.get(filtered).text)) == 50
    beyond = client.get(filtered + "&page=9").get_data(as_text=True)
    assert not re.findall(r'href="/operator/claims/(\d+)"', beyond)
    assert "(51)" in beyond
    other = client.get("/operator/claims?status=approved").get_data(as_text=True)
    assert not re.findall(r'href="/operator/claims/(\d+)"', other)


def test_queue_shows_second_review_needed(client, db, login_as, claim):
    claim.voucher.measure.four_eyes_threshold_cents = 100_00
    first = operator_of(db, claim)
    review.approve(db, claim, first, today=TODAY)
    db.commit()
    login_operator(login_as, claim)
    english(client)
    html = client.get("/operator/claims").get_data(as_text=True)
    assert "Second review needed" in html


# --- the detail page --------------------------------------------------------------------


def test_detail_shows_voucher_receipts_flags_forms_and_history(client, db, login_as, claim):
    claim.voucher.valid_from = claim.receipts[0].issued_on.replace(day=25)
    db.commit()
    login_operator(login_as, claim)
    english(client)
    response = client.get(f"/operator/claims/{claim.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert claim.worker.full_name in html
    assert "Reimbursement rate" in html and "80%" in html
    for receipt in claim.receipts:
        assert f"/operator/receipts/{receipt.id}/thumbnail" in html
        assert f"/operator/receipts/{receipt.id}/file" in html
    assert html.count('data-flag="outside_validity"') == 2
    forms = post_forms(html)
    for action in ("approve", "info", "reject"):
        assert f"/operator/claims/{claim.id}/{action}" in forms
    for receipt in claim.receipts:
        assert f"/operator/claims/{claim.id}/receipts/{receipt.id}/accept" in forms
        assert f"/operator/claims/{claim.id}/receipts/{receipt.id}/reject" in forms
    # History: who, with which role, did what.
    assert "Request sent" in html and "Receipt added" in html
    assert "Worker" in html


# --- decisions --------------------------------------------------------------------------


def test_approve_in_full_through_the_form(client, db, login_as, claim):
    operator = login_operator(login_as, claim)
    response = client.post(
        f"/operator/claims/{claim.id}/approve", data={"approve-amount_cents": ""}
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/operator/claims/{claim.id}")
    claim = reload(db, Claim, claim.id)
    assert (claim.status, claim.approved_cents) == (ClaimStatus.APPROVED, 120_00)
    assert claim.decided_by_id == operator.id
    assert claim.voucher.used_cents == 120_00
    assert len(spend_entries(db, claim)) == 1
    assert balanced(db, claim.voucher.budget_line_id)


def test_an_approval_takes_nine_statements_and_no_reload_after_commit(
    client, db, login_as, claim, count_queries
):
    """The approval POST is the programme's hottest write: the user, the claim with what
    the rules read, the guarded claim, voucher and budget updates, the receipts' statuses,
    and the audit, ledger and notification rows. Nothing reads the user back after the
    commit (the response headers and the request log used to)."""
    login_operator(login_as, claim)
    url = f"/operator/claims/{claim.id}/approve"
    with count_queries() as log:
        response = client.post(url, data={"approve-amount_cents": ""})
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    # In tests jobs run inline: the e-mail's outbox row is the job's, not the request's
    # (in production it is a job on the queue).
    statements = [s for s in log.statements if "outbox_emails" not in s]
    assert len(statements) <= 9, str(log)
    assert statements[-1].lstrip().upper().startswith("INSERT"), str(log)
    assert reload(db, Claim, claim.id).status is ClaimStatus.APPROVED


def test_approve_a_lower_amount_with_a_message(client, db, login_as, claim):
    login_operator(login_as, claim)
    response = client.post(
        f"/operator/claims/{claim.id}/approve",
        data={"approve-amount_cents": "75,50", "approve-note": "Una ricevuta è parziale."},
    )
    assert response.status_code == 302
    claim = reload(db, Claim, claim.id)
    assert (claim.status, claim.approved_cents) == (ClaimStatus.PARTIALLY_APPROVED, 75_50)
    assert claim.operator_message == "Una ricevuta è parziale."


@pytest.mark.parametrize("amount", ["120,01", "abc", "0"])
def test_approve_refuses_a_bad_amount_and_keeps_the_input(client, db, login_as, claim, amount):
    login_operator(login_as, claim)
    response = client.post(
        f"/operator/claims/{claim.id}/approve", data={"approve-amount_cents": amount}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "is-invalid" in html and f'value="{amount}"' in html
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert spend_entries(db, claim) == []


def test_a_second_decision_answers_409_and_spends_nothing_more(client, db, login_as, claim):
    login_operator(login_as, claim)
    english(client)
    assert client.post(f"/operator/claims/{claim.id}/approve").status_code == 302

    for path, data in (
        ("approve", {}),
        ("approve", {"approve-amount_cents": "10"}),
        ("reject", {"reject-reason": "Ci ho ripensato"}),
        ("info", {"info-message": "Serve altro"}),
        (f"receipts/{claim.receipts[0].id}/reject", {"reason": "no"}),
    ):
        response = client.post(f"/operator/claims/{claim.id}/{path}", data=data)
        assert response.status_code == 409, path
        html = response.get_data(as_text=True)
        assert "already been decided" in html
        assert post_forms(html) == []  # no decision is possible any more

    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.APPROVED
    assert len(spend_entries(db, claim)) == 1
    assert balanced(db, claim.voucher.budget_line_id)


def test_ask_for_information_then_the_worker_sends_it_again(client, db, auth, login_as, claim):
    login_operator(login_as, claim)
    response = client.post(f"/operator/claims/{claim.id}/info", data={"info-message": ""})
    assert response.status_code == 200 and "is-invalid" in response.get_data(as_text=True)
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED

    response = client.post(
        f"/operator/claims/{claim.id}/info", data={"info-message": "Allegare la fattura"}
    )
    assert response.status_code == 302
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.NEEDS_INFO
    assert claim.operator_message == "Allegare la fattura"

    auth.logout()
    auth.login(claim.worker)
    assert client.post(f"/worker/claims/{claim.id}/submit").status_code == 302
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED


def test_reject_needs_a_reason(client, db, login_as, claim):
    login_operator(login_as, claim)
    response = client.post(f"/operator/claims/{claim.id}/reject", data={"reject-reason": " "})
    assert response.status_code == 200 and "is-invalid" in response.get_data(as_text=True)
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED

    response = client.post(
        f"/operator/claims/{claim.id}/reject", data={"reject-reason": "Spesa non ammessa"}
    )
    assert response.status_code == 302
    claim = reload(db, Claim, claim.id)
    assert (claim.status, claim.operator_message) == (ClaimStatus.REJECTED, "Spesa non ammessa")
    assert spend_entries(db, claim) == []


def test_reject_a_receipt_then_approve_in_part(client, db, login_as, claim):
    login_operator(login_as, claim)
    small = claim.receipts[1]
    path = f"/operator/claims/{claim.id}/receipts/{small.id}"
    response = client.post(f"{path}/reject", data={"reason": ""})
    assert response.status_code == 200
    assert f'id="receipt-{small.id}-error"' in response.get_data(as_text=True)
    assert reload(db, Receipt, small.id).status is ReceiptStatus.PENDING

    assert client.post(f"{path}/reject", data={"reason": "Illeggibile"}).status_code == 302
    small = reload(db, Receipt, small.id)
    assert (small.status, small.rejection_reason) == (ReceiptStatus.REJECTED, "Illeggibile")
    first = claim.receipts[0]
    accept = f"/operator/claims/{claim.id}/receipts/{first.id}/accept"
    assert client.post(accept).status_code == 302
    assert reload(db, Receipt, first.id).status is ReceiptStatus.ACCEPTED

    assert client.post(f"/operator/claims/{claim.id}/approve").status_code == 302
    claim = reload(db, Claim, claim.id)
    assert (claim.status, claim.approved_cents) == (ClaimStatus.PARTIALLY_APPROVED, 80_00)


def test_a_receipt_of_another_claim_is_not_found(client, db, folder, login_as, claim):
    other = submitted_claim(
        db, folder, amounts=(10_00,), meas=claim.voucher.measure, voucher_cents=50_00
    )
    db.commit()
    login_operator(login_as, claim)
    wrong = f"/operator/claims/{claim.id}/receipts/{other.receipts[0].id}"
    assert client.post(f"{wrong}/reject", data={"reason": "x"}).status_code == 404
    assert client.post(f"{wrong}/accept").status_code == 404
    assert reload(db, Receipt, other.receipts[0].id).status is ReceiptStatus.PENDING


def test_four_eyes_through_the_pages(client, db, auth, login_as, claim):
    claim.voucher.measure.four_eyes_threshold_cents = 100_00
    db.commit()
    first = login_operator(login_as, claim)
    english(client)
    assert client.post(f"/operator/claims/{claim.id}/approve").status_code == 302
    assert reload(db, Claim, claim.id).first_review_by_id == first.id
    html = client.get(f"/operator/claims/{claim.id}").get_data(as_text=True)
    assert "You gave the first approval" in html
    assert f"/operator/claims/{claim.id}/approve" not in post_forms(html)

    # Approving again anyway is refused, with a message, and nothing is spent.
    response = client.post(f"/operator/claims/{claim.id}/approve", follow_redirects=True)
    assert "a different operator" in response.get_data(as_text=True)
    assert reload(db, Claim, claim.id).status is ClaimStatus.SUBMITTED
    assert spend_entries(db, claim) == []

    auth.logout()
    second = login_operator(login_as, claim)
    english(client)
    html = client.get(f"/operator/claims/{claim.id}").get_data(as_text=True)
    assert "Second review needed" in html and "Confirm the approval" in html
    assert client.post(f"/operator/claims/{claim.id}/approve").status_code == 302
    claim = reload(db, Claim, claim.id)
    assert (claim.status, claim.decided_by_id) == (ClaimStatus.APPROVED, second.id)
    assert len(spend_entries(db, claim)) == 1


# --- who sees what ----------------------------------------------------------------------


def test_another_alliance_operator_gets_404_and_nothing_changes(client, db, login_as, claim):
    login_as(Role.OPERATOR)
    assert client.get(f"/operator/claims/{claim.id}").status_code == 404
    for path, data in (
        ("approve", {}),
        ("reject", {"reject-reason": "x"}),
        ("info", {"info-message": "x"}),
        (f"receipts/{claim.receipts[0].id}/accept", {}),
        (f"receipts/{claim.receipts[0].id}/reject", {"reason": "x"}),
    ):
        assert client.post(f"/operator/claims/{claim.id}/{path}", data=data).status_code == 404
    html = client.get("/operator/claims").get_data(as_text=True)
    assert f"/operator/claims/{claim.id}" not in html
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert {r.status for r in claim.receipts} == {ReceiptStatus.PENDING}


def test_receipt_files_go_to_the_alliance_operator_only(client, db, auth, login_as, claim):
    receipt = claim.receipts[0]
    file_url = f"/operator/receipts/{receipt.id}/file"
    thumb_url = f"/operator/receipts/{receipt.id}/thumbnail"
    operator = login_operator(login_as, claim)
    response = client.get(file_url)
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.data.startswith(b"\xff\xd8\xff")
    assert response.headers["Content-Disposition"].startswith("attachment")
    for name, value in SECURE_HEADERS.items():
        assert response.headers[name] == value
    response.close()
    thumb = client.get(thumb_url)
    assert thumb.status_code == 200 and thumb.data.startswith(b"\xff\xd8\xff")
    for name, value in SECURE_HEADERS.items():
        assert thumb.headers[name] == value
    thumb.close()
    # Opening the file is in the audit trail (a receipt may reveal health data).
    viewed = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "claim.receipt_view", AuditEvent.entity_id == claim.id
        )
    ).all()
    assert [(e.actor_id, e.details["receipt_id"]) for e in viewed] == [(operator.id, receipt.id)]

    other_worker = factories.user(db, Role.WORKER)
    db.commit()
    strangers = [
        lambda: login_as(Role.OPERATOR),
        lambda: login_as(Role.NETWORK),
        lambda: login_as(Role.NETWORK, net=alliance_of(claim).network),  # not the operator's URL
        lambda: login_as(Role.HR),
        lambda: auth.login(other_worker),
    ]
    for log_in in strangers:
        auth.logout()
        log_in()
        assert client.get(file_url).status_code == 404
        assert client.get(thumb_url).status_code == 404
    # Nor through the network officers' URL, for an officer of another network.
    auth.logout()
    login_as(Role.NETWORK)
    assert client.get(f"/network/receipts/{receipt.id}/file").status_code == 404
    assert client.get(f"/network/receipts/{receipt.id}/thumbnail").status_code == 404


def test_network_officer_sees_the_claim_read_only(client, db, login_as, claim):
    network = alliance_of(claim).network
    login_as(Role.NETWORK, net=network)
    english(client)

    html = client.get("/network/claims").get_data(as_text=True)
    assert f'href="/network/claims/{claim.id}"' in html
    assert "Read-only" in html
    response = client.get(f"/network/claims/{claim.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert claim.worker.full_name in html
    assert post_forms(html) == []
    assert f"/network/receipts/{claim.receipts[0].id}/thumbnail" in html
    file = client.get(f"/network/receipts/{claim.receipts[0].id}/file")
    assert file.status_code == 200
    for name, value in SECURE_HEADERS.items():
        assert file.headers[name] == value
    file.close()

    # The operator's pages and decisions are not theirs: 404 and nothing changes.
    assert client.get(f"/operator/claims/{claim.id}").status_code == 404
    for path, data in (
        ("approve", {}),
        ("reject", {"reject-reason": "x"}),
        ("info", {"info-message": "x"}),
        (f"receipts/{claim.receipts[0].id}/reject", {"reason": "x"}),
    ):
        assert client.post(f"/operator/claims/{claim.id}/{path}", data=data).status_code == 404
    assert client.post(f"/network/claims/{claim.id}", data={}).status_code == 405
    claim = reload(db, Claim, claim.id)
    assert claim.status is ClaimStatus.SUBMITTED
    assert reload(db, Voucher, claim.voucher_id).used_cents == 0


def test_network_officer_of_another_network_gets_404(client, db, login_as, claim):
    login_as(Role.NETWORK)
    assert client.get(f"/network/claims/{claim.id}").status_code == 404
    html = client.get("/network/claims").get_data(as_text=True)
    assert f"/network/claims/{claim.id}" not in html
