"""A worker's privacy rights: who looked, export, erasure and the purge after retention;
and logs that never carry personal identifiers or secrets."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from tests import factories
from tests.test_payouts import WORKER_IBAN, approved_claim
from tests.test_review import balanced, jpeg_bytes, operator_of, reload, submitted_claim
from voucher.crypto import blind_index
from voucher.models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    Dependant,
    DependantKind,
    OutboxEmail,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import family, privacy, review, uploads
from voucher.services.errors import IllegalTransition

TODAY = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def folder(app, tmp_path) -> Path:
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


def _with_certificate(db, worker: User, folder: Path) -> Dependant:
    dependant = Dependant(
        worker=worker,
        kind=DependantKind.DISABLED_RELATIVE,
        first_name="Anna",
        last_name="Verdi",
        birth_date=date(1940, 2, 3),
        has_disability=True,
    )
    db.add(dependant)
    db.flush()
    stored = uploads.store_upload(
        FileStorage(io.BytesIO(jpeg_bytes()), filename="certificato.jpg"),
        str(folder),
        10 * 1024 * 1024,
    )
    family.attach_certificate(db, worker, dependant, stored, folder=str(folder))
    return dependant


def test_the_worker_sees_who_opened_their_receipts(client, db, auth, folder):
    claim = submitted_claim(db, folder)
    other = submitted_claim(db, folder)
    operator = operator_of(db, claim)
    db.commit()
    review.receipt_viewed(db, operator, claim.receipts[0])
    review.receipt_viewed(db, operator_of(db, other), other.receipts[0])
    review.receipt_viewed(db, claim.worker, claim.receipts[0])  # their own look: not listed
    db.commit()

    log = privacy.access_log(db, claim.worker)
    assert [(e.action, e.actor_id) for e in log] == [("claim.receipt_view", operator.id)]
    auth.login(claim.worker)
    page = client.get("/worker/privacy", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "an operator of the alliance" in page.get_data(as_text=True)


def test_export_has_everything_and_the_files(client, db, auth, folder):
    claim = submitted_claim(db, folder)
    worker = claim.worker
    worker.iban = WORKER_IBAN
    dependant = _with_certificate(db, worker, folder)
    db.commit()
    auth.login(worker)
    response = client.get("/worker/privacy/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "private, no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    data = json.loads(archive.read("data.json"))
    assert data["account"]["email"] == worker.email
    assert data["account"]["tax_code"] == worker.tax_code
    assert data["account"]["iban"] == WORKER_IBAN
    assert [c["id"] for c in data["claims"]] == [claim.id]
    assert len(data["receipts"]) == 2 and data["family"][0]["has_disability"] is True
    names = set(archive.namelist())
    for receipt in data["receipts"]:
        assert receipt["file"] in names
    assert f"files/certificate-{dependant.id}.jpg" in names
    assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == "user.data_export"))


def test_erasure_without_money_pseudonymises_at_once(client, db, auth, folder):
    voucher_ = factories.voucher(db)
    worker = voucher_.worker
    line = voucher_.budget_line
    pending = Application(
        worker=worker,
        measure=voucher_.measure,
        amount_requested_cents=100_00,
        status=ApplicationStatus.SUBMITTED,
    )
    db.add(pending)
    dependant = _with_certificate(db, worker, folder)
    certificate = uploads.path_of(str(folder), dependant.certificate_key)
    db.commit()
    assert certificate.is_file()
    email, tax_code = worker.email, worker.tax_code

    auth.login(worker)
    wrong = client.post(
        "/worker/privacy/erase", data={"password": "wrong-password", "confirm": "y"}
    )
    assert wrong.status_code == 400
    assert reload(db, User, worker.id).active
    done = client.post(
        "/worker/privacy/erase", data={"password": factories.PASSWORD, "confirm": "y"}
    )
    assert done.status_code == 302

    worker = reload(db, User, worker.id)
    assert worker.erased_at is not None and not worker.active
    assert worker.email != email and worker.tax_code is None and worker.first_name == "—"
    assert db.get(Application, pending.id).status is ApplicationStatus.WITHDRAWN
    assert db.get(Voucher, voucher_.id).status is VoucherStatus.REVOKED
    assert balanced(db, line.id) and reload(db, type(line), line.id).reserved_cents == 0
    assert not certificate.exists()
    assert db.get(Dependant, dependant.id).first_name == "—"
    assert client.get("/worker/").status_code == 302
    assert auth.login(email).status_code == 200  # cannot sign in any more
    assert db.scalar(select(User.id).where(User.tax_code_index == blind_index(tax_code))) is None


def test_erasure_after_payments_is_restricted_then_purged(db, folder):
    claim = approved_claim(db, folder)
    worker = claim.worker
    db.commit()
    receipt_file = uploads.path_of(str(folder), claim.receipts[0].storage_key)

    result = privacy.request_erasure(db, worker, TODAY, str(folder))
    db.commit()
    assert not result.erased and result.retain_until == date(2036, 6, 15)
    worker = reload(db, User, worker.id)
    assert not worker.active and worker.erased_at is None
    assert worker.iban == WORKER_IBAN  # still needed to pay the approved claim
    assert receipt_file.is_file()

    assert privacy.purge_due(db, date(2036, 6, 14), str(folder)) == 0
    assert privacy.purge_due(db, date(2036, 6, 15), str(folder)) == 1
    db.commit()
    worker = reload(db, User, worker.id)
    assert worker.erased_at is not None and worker.iban is None and worker.tax_code is None
    assert not receipt_file.exists()
    assert privacy.purge_due(db, date(2036, 6, 16), str(folder)) == 0


def test_erasure_is_asked_once(db, folder):
    worker = factories.user(db, Role.WORKER)
    privacy.request_erasure(db, worker, TODAY, str(folder))
    with pytest.raises(IllegalTransition):
        privacy.request_erasure(db, worker, TODAY, str(folder))


def test_logs_never_carry_identifiers_passwords_or_secrets(app, client, db, auth, caplog):
    """Run the flows that handle identifiers with every logger at DEBUG, then scan."""
    caplog.set_level(logging.DEBUG)
    tax_code = factories.person_tax_code(female=True)
    password = "a-secret-password-123"
    client.post(
        "/auth/register",
        data={
            "first_name": "Lia",
            "last_name": "Neri",
            "tax_code": tax_code,
            "email": "lia.neri@example.org",
            "password": password,
            "confirm": password,
            "privacy": "y",
        },
    )
    mail = db.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
    token_path = re.search(r"/auth/activate/\S+", mail.body)[0]
    client.get(token_path)
    client.post("/worker/profile/iban", data={"iban": WORKER_IBAN})
    client.post("/auth/login", data={"email": "nobody@example.org", "password": password})
    client.post("/auth/reset", data={"email": "lia.neri@example.org"})

    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records) + caplog.text
    secrets = [
        tax_code,
        WORKER_IBAN,
        password,
        token_path.rsplit("/", 1)[-1],
        app.config["SECRET_KEY"],
    ]
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    assert len(caplog.records) > 5  # the scan saw the request logs
