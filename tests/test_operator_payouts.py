"""Payouts through HTTP, as an operator builds, downloads and records them; others get 404."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sepaxml.validation import try_valid_xml
from sqlalchemy import select

from tests import factories
from tests.test_payouts import DEBTOR_IBAN, WORKER_IBAN, approved_claim, pay_entries
from tests.test_review import reload
from voucher.models import (
    Claim,
    ClaimStatus,
    Payout,
    PayoutLine,
    PayoutLineStatus,
    PayoutStatus,
    Role,
)
from voucher.services.clock import today as programme_today


@pytest.fixture(autouse=True)
def folder(app, tmp_path):
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


@pytest.fixture
def world(db, folder):
    """Two approved claims of one project; the capofila's bank account is set."""
    first = approved_claim(db, folder)
    second = approved_claim(db, folder, meas=first.voucher.measure)
    project = first.voucher.measure.project
    project.alliance.lead.iban = DEBTOR_IBAN
    db.commit()
    return project, [first, second]


@pytest.fixture
def operator(world, login_as):
    project, _claims = world
    return login_as(Role.OPERATOR, all_=project.alliance)


def build(client, project, claims_) -> int:
    response = client.post(
        f"/operator/projects/{project.id}/payouts/new",
        data={
            "claim": [str(c.id) for c in claims_],
            "execution_date": programme_today().isoformat(),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


def test_operator_builds_downloads_and_executes_a_payout(client, db, world, operator):
    project, (first, second) = world
    listing = client.get("/operator/payouts").get_data(as_text=True)
    assert "Prepare a payout" in listing or "Prepara" in listing
    page = client.get(
        f"/operator/projects/{project.id}/payouts/new", headers={"Accept-Language": "en"}
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'value="{first.id}"' in text and "IBAN valid" in text
    assert DEBTOR_IBAN in text

    payout_id = build(client, project, [first, second])
    detail = client.get(f"/operator/payouts/{payout_id}").get_data(as_text=True)
    assert WORKER_IBAN in detail

    xml = client.get(f"/operator/payouts/{payout_id}/sepa.xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert "attachment" in xml.headers["Content-Disposition"]
    assert xml.headers["Cache-Control"] == "private, no-store"
    try_valid_xml(xml.data, "pain.001.001.03")
    assert client.get(f"/operator/payouts/{payout_id}/sepa.xml").data == xml.data
    sheet = client.get(f"/operator/payouts/{payout_id}/payments.xlsx")
    assert sheet.status_code == 200
    assert load_workbook(io.BytesIO(sheet.data)).active["B1"].value.startswith("CV-")

    payout = db.get(Payout, payout_id)
    rejected = payout.lines[1]
    response = client.post(
        f"/operator/payouts/{payout_id}/execute",
        data={
            "execute-executed_on": programme_today().isoformat(),
            "execute-bank_reference": "CRO 998877",
            "failed": [str(rejected.id)],
            f"reason-{rejected.id}": "IBAN inesistente",
        },
    )
    assert response.status_code == 302
    assert reload(db, Payout, payout_id).status is PayoutStatus.EXECUTED
    assert db.get(Claim, first.id).status is ClaimStatus.PAID
    assert db.get(Claim, second.id).status is ClaimStatus.APPROVED
    assert db.get(PayoutLine, rejected.id).failure_reason == "IBAN inesistente"
    assert pay_entries(db, db.get(Claim, first.id)) == [120_00]
    # Posting the execution again changes nothing.
    again = client.post(
        f"/operator/payouts/{payout_id}/execute",
        data={"execute-executed_on": programme_today().isoformat(), "execute-bank_reference": "x"},
    )
    assert again.status_code == 409
    assert pay_entries(db, db.get(Claim, first.id)) == [120_00]

    paid = payout.lines[0]
    returned = client.post(
        f"/operator/payouts/{payout_id}/lines/{paid.id}/return",
        data={"return-reason": "Conto estinto"},
    )
    assert returned.status_code == 302
    assert reload(db, Claim, first.id).status is ClaimStatus.APPROVED
    assert pay_entries(db, db.get(Claim, first.id)) == [120_00, -120_00]


def test_bad_input_is_explained_and_kept(client, db, world, operator):
    project, (first, _second) = world
    response = client.post(
        f"/operator/projects/{project.id}/payouts/new",
        data={"claim": [str(first.id)], "execution_date": "2020-01-01"},
        headers={"Accept-Language": "en"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "cannot be in the past" in text
    assert 'value="2020-01-01"' in text
    none = client.post(
        f"/operator/projects/{project.id}/payouts/new",
        data={"execution_date": programme_today().isoformat()},
        headers={"Accept-Language": "en"},
    )
    assert none.status_code == 400 and "at least one request" in none.get_data(as_text=True)
    assert db.scalar(select(Payout.id)) is None

    payout_id = build(client, project, [first])
    future = (programme_today() + timedelta(days=3)).isoformat()
    response = client.post(
        f"/operator/payouts/{payout_id}/execute",
        data={"execute-executed_on": future, "execute-bank_reference": ""},
        headers={"Accept-Language": "en"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "cannot be in the future" in text and "bank&#39;s reference" in text
    assert reload(db, Payout, payout_id).status is PayoutStatus.OPEN


def test_remove_and_cancel(client, db, world, operator):
    project, (first, second) = world
    payout_id = build(client, project, [first, second])
    line = db.scalar(select(PayoutLine).where(PayoutLine.claim_id == first.id))
    assert client.post(f"/operator/payouts/{payout_id}/lines/{line.id}/remove").status_code == 302
    assert reload(db, PayoutLine, line.id).status is PayoutLineStatus.CANCELLED
    refused = client.post(
        f"/operator/payouts/{payout_id}/cancel",
        data={"cancel-reason": ""},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 400 and "Say why" in refused.get_data(as_text=True)
    done = client.post(f"/operator/payouts/{payout_id}/cancel", data={"cancel-reason": "Errore"})
    assert done.status_code == 302
    assert reload(db, Payout, payout_id).status is PayoutStatus.CANCELLED


def test_bank_account_settings(client, db, world, operator):
    project, _claims = world
    response = client.post(
        "/operator/bank-account",
        data={"iban": "IT00 1234", "bic": "NOTABIC!"},
        headers={"Accept-Language": "en"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "not a valid IBAN" in text and "not a valid BIC" in text
    assert 'value="IT00 1234"' in text
    ok = client.post(
        "/operator/bank-account", data={"iban": "IT60 X054 2811 1010 0000 0123 456", "bic": ""}
    )
    assert ok.status_code == 302
    lead = reload(db, type(project.alliance.lead), project.alliance.lead_id)
    assert lead.iban == "IT60X0542811101000000123456" and lead.bic is None


def test_other_people_get_404_and_change_nothing(client, db, auth, world, operator):
    project, (first, second) = world
    payout_id = build(client, project, [first, second])
    line_id = db.scalar(select(PayoutLine.id).where(PayoutLine.claim_id == first.id))
    auth.logout()
    strangers = [
        factories.user(db, Role.OPERATOR),
        factories.user(db, Role.NETWORK, net=project.alliance.network),
        factories.user(db, Role.HR),
        first.worker,
    ]
    db.commit()
    urls_get = [
        f"/operator/payouts/{payout_id}",
        f"/operator/payouts/{payout_id}/sepa.xml",
        f"/operator/payouts/{payout_id}/payments.xlsx",
        f"/operator/projects/{project.id}/payouts/new",
    ]
    urls_post = [
        (f"/operator/payouts/{payout_id}/execute", {"execute-executed_on": "2026-06-15"}),
        (f"/operator/payouts/{payout_id}/cancel", {"cancel-reason": "x"}),
        (f"/operator/payouts/{payout_id}/lines/{line_id}/remove", {}),
        (f"/operator/payouts/{payout_id}/lines/{line_id}/return", {"return-reason": "x"}),
    ]
    for stranger in strangers:
        assert auth.login(stranger).status_code == 302
        for url in urls_get:
            assert client.get(url).status_code == 404, (stranger.role, url)
        for url, data in urls_post:
            assert client.post(url, data=data).status_code == 404, (stranger.role, url)
        auth.logout()
    payout = reload(db, Payout, payout_id)
    assert payout.status is PayoutStatus.OPEN
    assert all(line.status is PayoutLineStatus.PENDING for line in payout.lines)


def test_worker_sees_the_payment_and_a_failure(client, db, auth, world, operator):
    project, (first, second) = world
    payout_id = build(client, project, [first, second])
    rejected = db.scalar(select(PayoutLine).where(PayoutLine.claim_id == second.id))
    client.post(
        f"/operator/payouts/{payout_id}/execute",
        data={
            "execute-executed_on": programme_today().isoformat(),
            "execute-bank_reference": "CRO 1",
            "failed": [str(rejected.id)],
            f"reason-{rejected.id}": "IBAN inesistente",
        },
    )
    auth.logout()
    auth.login(first.worker)
    paid_page = client.get(f"/worker/claims/{first.id}", headers={"Accept-Language": "en"})
    assert "Paid on" in paid_page.get_data(as_text=True)
    auth.logout()
    auth.login(second.worker)
    failed_page = client.get(f"/worker/claims/{second.id}", headers={"Accept-Language": "en"})
    text = failed_page.get_data(as_text=True)
    assert "IBAN inesistente" in text and "/worker/profile" in text
