"""A worker's whole journey on a phone, in Italian, in a real browser (Debian's Chromium).

Registers, declares employment, applies for a voucher and, once HR and the alliance have
said yes, photographs a receipt and sends the reimbursement request. Every page is checked
for horizontal scrolling at the phone's width.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from tests import factories
from tests.conftest import click_and_wait
from voucher.models import (
    Application,
    Claim,
    Employment,
    EmploymentStatus,
    MeasureKind,
    OrganisationKind,
    OutboxEmail,
    User,
)
from voucher.services import applications, clock

# The browser journey is about the pages: it runs once, on SQLite.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PIXEL_5 = {"width": 393, "height": 851}


def _receipt_photo(path) -> None:
    image = Image.new("RGB", (900, 1200), "white")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    path.write_bytes(buffer.getvalue())


def _tap_choice(page, selector: str) -> None:
    """Tick a checkbox or radio as a person does: the kit draws the box on its label."""
    page.click(f"label[for='{page.get_attribute(selector, 'id')}']")
    assert page.is_checked(selector)


def test_worker_journey_on_a_phone(app, db, live_server, browser, tmp_path):
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    company = factories.organisation(db, name="Tessitura Valcuvia S.r.l.")
    alliance = factories.alliance(
        db,
        partners=[
            company,
            factories.organisation(db),
            factories.organisation(db, OrganisationKind.COOPERATIVE),
        ],
    )
    measure = factories.measure(
        db,
        factories.project(db, alliance),
        allocated_cents=5_000_00,
        kind=MeasureKind.FAMILY_VOUCHER,
    )
    db.commit()

    context = browser.new_context(
        viewport=PIXEL_5, device_scale_factor=2.75, is_mobile=True, has_touch=True, locale="it-IT"
    )
    page = context.new_page()

    def fits_the_screen() -> None:
        assert page.evaluate("document.documentElement.scrollWidth") <= PIXEL_5["width"], page.url

    # Register.
    page.goto(f"{live_server}/auth/register")
    assert page.locator("html").get_attribute("lang") == "it"
    fits_the_screen()
    page.fill("#first_name", "Giulia")
    page.fill("#last_name", "Bianchi")
    page.fill("#tax_code", factories.person_tax_code(female=True))
    page.fill("#email", "giulia.bianchi@example.org")
    page.fill("#password", "una-password-lunga")
    page.fill("#confirm", "una-password-lunga")
    _tap_choice(page, "#privacy")
    click_and_wait(page, "button[type=submit]")
    page.wait_for_url(f"{live_server}/auth/login")
    # Activate from the link e-mailed to her (the outbox stands in for her inbox).
    db.expire_all()
    mail = db.scalars(
        select(OutboxEmail)
        .where(OutboxEmail.recipient == "giulia.bianchi@example.org")
        .order_by(OutboxEmail.id.desc())
    ).first()
    link = re.search(r"/auth/activate/\S+", mail.body)[0]
    page.goto(f"{live_server}{link}")
    page.wait_for_url(f"{live_server}/worker/")
    fits_the_screen()

    # Declare employment, finding the company by name.
    page.goto(f"{live_server}/worker/employment/new")
    page.fill("#q", "Tessitura")
    click_and_wait(page, "form[role=search] button[type=submit]")
    _tap_choice(page, f"input[name=organisation][value='{company.id}']")
    page.fill("#starts_on", "2024-03-01")
    click_and_wait(page, "form[method=post] button[type=submit]")
    fits_the_screen()
    assert "Tessitura Valcuvia S.r.l." in page.content()

    # Apply: the measure is open to her (HR has not confirmed yet).
    page.goto(f"{live_server}/worker/measures")
    fits_the_screen()
    click_and_wait(page, f"a[href$='/worker/applications/new?measure={measure.id}']")
    fits_the_screen()
    page.fill("#amount_requested_cents", "300")
    click_and_wait(page, "form[method=post] button[type=submit]")
    page.wait_for_url(re.compile(r".*/worker/applications/\d+/check$"))
    fits_the_screen()
    assert "300,00" in page.content()
    click_and_wait(page, "form[action$='/submit'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/worker/applications/\d+$"))
    fits_the_screen()

    # HR confirms the employment and the operator approves: other people, other issues.
    db.expire_all()
    worker = db.query(User).filter_by(email="giulia.bianchi@example.org").one()
    employment = db.query(Employment).filter_by(worker_id=worker.id).one()
    employment.status = EmploymentStatus.CONFIRMED
    applications.employment_confirmed(db, employment, today=clock.today())
    application = db.query(Application).filter_by(worker_id=worker.id).one()
    voucher = applications.approve(db, application, None, today=clock.today())
    db.commit()

    # Photograph a receipt and ask for the reimbursement.
    page.goto(f"{live_server}/worker/vouchers/{voucher.id}")
    fits_the_screen()
    click_and_wait(page, "form[action$='/claims'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/worker/claims/\d+$"))
    fits_the_screen()
    photo = tmp_path / "scontrino.jpg"
    _receipt_photo(photo)
    page.set_input_files("input[type=file]", str(photo))
    page.fill("#supplier_name", "Asilo nido Il Girasole")
    page.fill("#supplier_vat", factories.vat())
    page.fill("#document_number", "FT-2026-118")
    page.fill("#issued_on", clock.today().isoformat())
    page.fill("#amount_cents", "250,00")
    click_and_wait(page, "form[enctype='multipart/form-data'] button[type=submit]")
    fits_the_screen()
    assert "Asilo nido Il Girasole" in page.content()
    # 80% of EUR 250, within the voucher's EUR 300.
    assert "200,00" in page.content()
    click_and_wait(page, "form[action$='/submit'] button[type=submit]")
    fits_the_screen()

    db.expire_all()
    claim = db.query(Claim).filter_by(worker_id=worker.id).one()
    assert claim.status.value == "submitted"
    assert claim.requested_cents == 200_00
    assert len(claim.receipts) == 1
    context.close()
