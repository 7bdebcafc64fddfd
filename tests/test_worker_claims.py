"""The worker's vouchers, requests and receipts, driven through HTTP as on a phone.

The client runs each request in its own application context: the test commits before a
request and reads the committed state after it (``committed`` rolls the test's session
back first, so what a view forgot to commit, or saved despite an error, is not seen).
"""

from __future__ import annotations

import io
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from tests import factories
from voucher.models import AuditEvent, Claim, ClaimStatus, Receipt, Role, Voucher
from voucher.services import clock, uploads

# --- helpers and fixtures ---------------------------------------------------------------

ISSUED_ON = (clock.today() - timedelta(days=10)).isoformat()


def jpeg_bytes(size: tuple[int, int] = (120, 90), noise: bool = False) -> bytes:
    """A JPEG photo of a "receipt"; every call gives different bytes."""
    rng = random.Random(factories.seq())
    if noise:  # random pixels do not compress: the file stays large
        image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        image.putpixel((1, 1), tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def pdf_bytes(password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if password:
        writer.encrypt(password)  # RC4: needs no extra library
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def huge_png_bytes() -> bytes:
    """A small file that would decode into 64 megapixels."""
    out = io.BytesIO()
    Image.new("1", (8000, 8000)).save(out, "PNG")
    return out.getvalue()


def receipt_form(data: bytes | None = None, filename: str = "scontrino.jpg", **overrides):
    """The fields of the upload form, as a phone sends them."""
    form = {
        "supplier_name": "Asilo nido Il Girasole",
        "supplier_vat": factories.vat(4242),
        "document_number": f"FT {factories.seq()}/2026",
        "issued_on": ISSUED_ON,
        "amount_cents": "120,50",
    }
    form.update(overrides)
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    return form


def committed(db, stmt):
    db.rollback()
    return db.scalars(stmt).all()


def count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def measure_in(db, programme=None):
    return factories.measure(db, factories.project(db, prog=programme))


def usable_voucher(db, worker, meas=None, amount_cents: int = 500_00) -> Voucher:
    """A voucher valid for a year either side of the real today (the views use the clock)."""
    v = factories.voucher(db, worker=worker, meas=meas, amount_cents=amount_cents)
    v.valid_from = clock.today() - timedelta(days=365)
    v.valid_until = clock.today() + timedelta(days=365)
    return v


@pytest.fixture
def folder(app, tmp_path) -> Path:
    path = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(path)
    return path


@pytest.fixture
def worker(client, login_as):
    """A worker signed in, with pages in English so messages are stable."""
    client.get("/?lang=en")
    return login_as(Role.WORKER)


@pytest.fixture
def voucher(db, worker) -> Voucher:
    v = usable_voucher(db, worker)
    db.commit()
    return v


@pytest.fixture
def claim_id(client, db, voucher, folder) -> int:
    """A draft request on the worker's voucher, opened through the page's button."""
    response = client.post(f"/worker/vouchers/{voucher.id}/claims")
    assert response.status_code == 302
    [claim] = committed(db, select(Claim).where(Claim.voucher_id == voucher.id))
    assert response.headers["Location"].endswith(f"/worker/claims/{claim.id}")
    return claim.id


def upload(client, claim_id: int, data: bytes | None = None, **fields):
    return client.post(
        f"/worker/claims/{claim_id}/receipts",
        data=receipt_form(jpeg_bytes() if data is None else data, **fields),
        content_type="multipart/form-data",
    )


def text(response) -> str:
    return response.get_data(as_text=True)


def download(client, url: str):
    """GET a file: read the body, then close the response (and so the file on disk)."""
    response = client.get(url)
    response.get_data()
    response.close()
    return response


# --- vouchers ---------------------------------------------------------------------------


def test_voucher_list_and_page_show_what_is_left_and_the_rate(client, db, voucher):
    voucher.used_cents = 120_00
    db.commit()
    listing = text(client.get("/worker/vouchers"))
    assert voucher.measure.title in listing
    assert f'href="/worker/vouchers/{voucher.id}"' in listing
    page = client.get(f"/worker/vouchers/{voucher.id}")
    assert page.status_code == 200
    html = text(page)
    assert "€380.00" in html  # left to use
    assert "80%" in html
    assert voucher.valid_until.strftime("%Y") in html
    assert f'action="/worker/vouchers/{voucher.id}/claims"' in html
    assert 'href="/auth/logout"' in html


def test_new_request_opens_a_draft_once(client, db, voucher, claim_id):
    again = client.post(f"/worker/vouchers/{voucher.id}/claims")
    assert again.headers["Location"].endswith(f"/worker/claims/{claim_id}")
    assert count(db, Claim) == 1
    html = text(client.get(f"/worker/vouchers/{voucher.id}"))
    assert "Continue your reimbursement request" in html
    assert f'href="/worker/claims/{claim_id}"' in html
    assert "Draft" in html


def test_voucher_of_an_ended_employment_takes_no_new_request(client, db, voucher):
    job = factories.employment(db, voucher.worker, factories.organisation(db))
    job.ends_on = clock.today() - timedelta(days=2)
    voucher.application.employment = job
    db.commit()
    html = text(client.get(f"/worker/vouchers/{voucher.id}"))
    assert "stop accepting new requests" in html
    assert "New reimbursement request" not in html
    response = client.post(f"/worker/vouchers/{voucher.id}/claims", follow_redirects=True)
    assert "stop accepting new requests" in text(response)
    assert count(db, Claim) == 0


# --- uploading a receipt ----------------------------------------------------------------


def test_upload_a_photo_of_a_receipt(app, client, db, claim_id, folder):
    data = jpeg_bytes()
    response = upload(client, claim_id, data, amount_cents="1.234,50")
    assert response.status_code == 302, text(response)
    [receipt] = committed(db, select(Receipt))
    assert receipt.claim_id == claim_id
    assert receipt.amount_cents == 1234_50
    assert receipt.original_filename == "scontrino.jpg"
    assert receipt.content_type == "image/jpeg"
    # Stored under a random name, outside static/, with a preview.
    stored = uploads.path_of(str(folder), receipt.storage_key)
    assert stored.is_file()
    assert "scontrino" not in receipt.storage_key
    assert not stored.resolve().is_relative_to(Path(app.static_folder).resolve())
    assert uploads.path_of(str(folder), receipt.thumbnail_key).is_file()

    html = text(client.get(f"/worker/claims/{claim_id}"))
    assert "Asilo nido Il Girasole" in html
    assert f'src="/worker/receipts/{receipt.id}/thumbnail"' in html
    assert "€1,234.50" in html
    assert "€500.00" in html  # 80% is 987.60, capped by what is left on the voucher


def test_receipt_file_is_a_private_download(client, db, claim_id, folder):
    upload(client, claim_id)
    [receipt] = committed(db, select(Receipt))
    response = download(client, f"/worker/receipts/{receipt.id}/file")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "scontrino.jpg" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.data == uploads.path_of(str(folder), receipt.storage_key).read_bytes()
    thumbnail = download(client, f"/worker/receipts/{receipt.id}/thumbnail")
    assert thumbnail.status_code == 200
    assert thumbnail.mimetype == "image/jpeg"
    assert thumbnail.headers["X-Content-Type-Options"] == "nosniff"
    assert thumbnail.headers["Cache-Control"] == "private, no-store"


def test_a_pdf_receipt_has_an_open_link_and_no_preview(client, db, claim_id):
    response = upload(client, claim_id, pdf_bytes(), filename="fattura.pdf")
    assert response.status_code == 302, text(response)
    [receipt] = committed(db, select(Receipt))
    assert receipt.content_type == "application/pdf"
    assert receipt.thumbnail_key is None
    html = text(client.get(f"/worker/claims/{claim_id}"))
    assert "Open PDF" in html
    assert f'href="/worker/receipts/{receipt.id}/file"' in html
    assert client.get(f"/worker/receipts/{receipt.id}/thumbnail").status_code == 404
    response = download(client, f"/worker/receipts/{receipt.id}/file")
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_upload_form_is_made_for_a_phone_camera(client, claim_id):
    html = text(client.get(f"/worker/claims/{claim_id}"))
    assert 'enctype="multipart/form-data"' in html
    assert (
        '<input type="file" name="file" id="file" class="form-control" '
        'accept="image/*,application/pdf" capture="environment">'
    ) in html
    assert 'type="date"' in html
    assert 'inputmode="decimal"' in html


def test_receipts_and_requests_are_404_for_anyone_else(app, client, db, auth, claim_id):
    upload(client, claim_id)
    [receipt] = committed(db, select(Receipt))
    claim = db.get(Claim, claim_id)
    urls = [
        f"/worker/receipts/{receipt.id}/file",
        f"/worker/receipts/{receipt.id}/thumbnail",
        f"/worker/claims/{claim_id}",
        f"/worker/vouchers/{claim.voucher_id}",
    ]
    posts = [
        f"/worker/claims/{claim_id}/submit",
        f"/worker/claims/{claim_id}/receipts/{receipt.id}/remove",
        f"/worker/claims/{claim_id}/receipts",
        f"/worker/vouchers/{claim.voucher_id}/claims",
    ]
    other_alliance = factories.alliance(db)
    others = [
        factories.user(db, Role.WORKER),
        factories.user(db, Role.HR),
        factories.user(db, Role.OPERATOR, all_=other_alliance),
    ]
    db.commit()
    for person in others:
        auth.logout()
        assert auth.login(person).status_code == 302
        for url in urls:
            assert client.get(url).status_code == 404, (person.role, url)
        for url in posts:
            assert client.post(url, data=receipt_form(jpeg_bytes())).status_code == 404, url
    assert count(db, Receipt) == 1
    assert committed(db, select(Claim.status)) == [ClaimStatus.DRAFT]
    # Another worker's own lists do not show it either.
    assert f"/worker/claims/{claim_id}" not in text(client.get("/worker/claims"))


def test_a_receipt_is_404_through_another_request(client, db, worker, voucher, folder):
    mine = client.post(f"/worker/vouchers/{voucher.id}/claims").headers["Location"]
    mine_id = int(mine.rsplit("/", 1)[1])
    upload(client, mine_id)
    [receipt] = committed(db, select(Receipt))
    second = usable_voucher(db, worker)
    db.commit()
    other = client.post(f"/worker/vouchers/{second.id}/claims").headers["Location"]
    other_id = int(other.rsplit("/", 1)[1])
    response = client.post(f"/worker/claims/{other_id}/receipts/{receipt.id}/remove")
    assert response.status_code == 404
    assert count(db, Receipt) == 1


# --- bad uploads keep the form ----------------------------------------------------------


BAD_UPLOADS = {
    "not an image": (b"MZ\x90\x00 this is a program, not a photo" * 20, "scontrino.jpg"),
    "empty": (b"", "scontrino.jpg"),
    "encrypted pdf": (None, "fattura.pdf"),
    "too many pixels": (None, "scontrino.png"),
    "too large": (None, "scontrino.jpg"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload_is_refused_and_the_form_keeps_what_was_typed(app, client, db, claim_id, case):
    folder = Path(app.config["UPLOAD_FOLDER"])
    data, filename = BAD_UPLOADS[case]
    expected = {
        "not an image": "This file type is not accepted",
        "empty": "The file is empty",
        "encrypted pdf": "protected by a password",
        "too many pixels": "The image is too large",
        "too large": "The file is larger than",
    }[case]
    if case == "encrypted pdf":
        data = pdf_bytes(password="segreta")
    elif case == "too many pixels":
        data = huge_png_bytes()
    elif case == "too large":
        app.config["MAX_UPLOAD_BYTES"] = 20_000
        data = jpeg_bytes(size=(300, 300), noise=True)
        assert len(data) > 20_000
    response = upload(
        client,
        claim_id,
        data,
        filename=filename,
        supplier_name="Farmacia Rossi & Figli",
        document_number="FT 77/B",
        amount_cents="45,90",
    )
    assert response.status_code == 200
    html = text(response)
    assert expected in html
    error = re.search(r'id="file-error">([^<]*)<', html)
    assert error and expected in error.group(1)
    assert 'value="Farmacia Rossi &amp; Figli"' in html
    assert f'value="{factories.vat(4242)}"' in html
    assert 'value="FT 77/B"' in html
    assert f'value="{ISSUED_ON}"' in html
    assert 'value="45,90"' in html
    assert "choose it again" in html
    assert count(db, Receipt) == 0
    assert files_in(folder) == []


def test_no_file_chosen_keeps_the_form(client, db, claim_id, folder):
    response = client.post(
        f"/worker/claims/{claim_id}/receipts",
        data=receipt_form(supplier_name="Ludoteca"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Choose a file to upload" in text(response)
    assert 'value="Ludoteca"' in text(response)
    assert count(db, Receipt) == 0


def test_wrong_details_are_shown_next_to_their_field_and_nothing_is_stored(
    client, db, claim_id, folder
):
    future = (clock.today() + timedelta(days=3)).isoformat()
    response = upload(client, claim_id, supplier_vat="12345678901", issued_on=future)
    assert response.status_code == 200
    html = text(response)
    assert re.search(r'id="supplier_vat-error">[^<]*not a valid partita IVA', html)
    assert re.search(r'id="issued_on-error">[^<]*cannot be in the future', html)
    assert 'value="12345678901"' in html
    assert count(db, Receipt) == 0
    assert files_in(folder) == []


def test_an_unreadable_amount_keeps_the_form_and_stores_nothing(client, db, claim_id, folder):
    response = upload(client, claim_id, amount_cents="12,3,4")
    assert response.status_code == 200
    assert 'value="12,3,4"' in text(response)
    assert count(db, Receipt) == 0
    assert files_in(folder) == []


def test_the_same_receipt_is_refused_for_another_worker_of_the_programme(
    client, db, auth, claim_id, voucher, folder
):
    data = jpeg_bytes()
    assert upload(client, claim_id, data).status_code == 302
    colleague = factories.user(db, Role.WORKER)
    theirs = usable_voucher(db, colleague, measure_in(db, voucher.measure.project.programme))
    elsewhere = usable_voucher(db, colleague)  # another programme
    db.commit()
    auth.logout()
    auth.login(colleague)
    client.get("/?lang=en")
    their_claim = client.post(f"/worker/vouchers/{theirs.id}/claims").headers["Location"]
    response = upload(client, int(their_claim.rsplit("/", 1)[1]), data, supplier_name="Ludoteca")
    assert response.status_code == 200
    html = text(response)
    assert "already been used for a reimbursement request in this programme" in html
    assert voucher.worker.last_name not in html
    assert 'value="Ludoteca"' in html
    assert count(db, Receipt) == 1
    assert len(files_in(folder)) == 2  # the first receipt and its preview only
    other = client.post(f"/worker/vouchers/{elsewhere.id}/claims").headers["Location"]
    assert upload(client, int(other.rsplit("/", 1)[1]), data).status_code == 302


# --- amounts, sending, removing ---------------------------------------------------------


def test_reimbursable_amount_is_shown_before_sending(client, db, claim_id):
    upload(client, claim_id, amount_cents="100,01")
    upload(client, claim_id, amount_cents="33,33")
    html = text(client.get(f"/worker/claims/{claim_id}"))
    assert "€133.34" in html  # total of the receipts
    assert "€106.67" in html  # 80%, floored to the cent
    assert f'action="/worker/claims/{claim_id}/submit"' in html


def test_send_the_request(client, db, claim_id):
    upload(client, claim_id, amount_cents="50,00")
    response = client.post(f"/worker/claims/{claim_id}/submit", follow_redirects=True)
    assert "Your request has been sent" in text(response)
    [claim] = committed(db, select(Claim))
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.requested_cents == 40_00
    assert claim.submitted_at is not None
    html = text(client.get(f"/worker/claims/{claim_id}"))
    assert 'enctype="multipart/form-data"' not in html  # no more uploads
    assert "/remove" not in html
    listing = text(client.get("/worker/claims"))
    assert f'href="/worker/claims/{claim_id}"' in listing
    assert "Under review" in listing


def test_sending_without_receipts_is_refused(client, db, claim_id):
    response = client.post(f"/worker/claims/{claim_id}/submit", follow_redirects=True)
    assert "Add at least one receipt" in text(response)
    assert committed(db, select(Claim.status)) == [ClaimStatus.DRAFT]


def test_remove_a_receipt_before_sending(client, db, claim_id, folder):
    upload(client, claim_id)
    [receipt] = committed(db, select(Receipt))
    response = client.post(f"/worker/claims/{claim_id}/receipts/{receipt.id}/remove")
    assert response.status_code == 302
    assert count(db, Receipt) == 0
    assert files_in(folder) == []


def test_receipts_of_a_sent_request_cannot_be_removed(client, db, claim_id, folder):
    upload(client, claim_id)
    client.post(f"/worker/claims/{claim_id}/submit")
    [receipt] = committed(db, select(Receipt))
    response = client.post(
        f"/worker/claims/{claim_id}/receipts/{receipt.id}/remove", follow_redirects=True
    )
    assert "can no longer be changed" in text(response)
    assert count(db, Receipt) == 1
    assert len(files_in(folder)) == 2
    refused = upload(client, claim_id)
    assert refused.status_code == 302
    assert count(db, Receipt) == 1


def test_answer_the_alliance_and_send_again(client, db, claim_id):
    upload(client, claim_id, amount_cents="50,00")
    client.post(f"/worker/claims/{claim_id}/submit")
    claim = db.get(Claim, claim_id)
    claim.status = ClaimStatus.NEEDS_INFO  # the operator's side is another module
    claim.operator_message = "Manca la fattura di maggio: aggiungila, per favore."
    db.commit()
    html = text(client.get(f"/worker/claims/{claim_id}"))
    assert "The alliance needs more information" in html
    assert "Manca la fattura di maggio" in html
    assert 'enctype="multipart/form-data"' in html
    assert "Send the request again" in html
    assert upload(client, claim_id, amount_cents="25,00").status_code == 302
    response = client.post(f"/worker/claims/{claim_id}/submit")
    assert response.status_code == 302
    [claim] = committed(db, select(Claim))
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.requested_cents == 60_00
    actions = committed(
        db,
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "claims", AuditEvent.entity_id == claim_id)
        .order_by(AuditEvent.id),
    )
    assert actions == [
        "claim.create",
        "claim.receipt_add",
        "claim.submit",
        "claim.receipt_add",
        "claim.resubmit",
    ]


def test_pages_render_in_italian(client, db, claim_id):
    client.get("/?lang=it")
    upload(client, claim_id)
    for url in ("/worker/vouchers", "/worker/claims", f"/worker/claims/{claim_id}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'lang="it"' in text(response)
