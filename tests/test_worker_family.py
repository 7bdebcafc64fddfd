"""The worker's family members and disability certificates: HTTP pages and service rules."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from tests import factories
from tests.conftest import browser_login
from voucher.models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    Dependant,
    DependantKind,
    Role,
    User,
)
from voucher.services import family as family_service
from voucher.services.clock import today
from voucher.services.errors import ValidationFailed

ON = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def upload_folder(app, tmp_path) -> Path:
    folder = tmp_path / "uploads"
    app.config["UPLOAD_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def worker(login_as, client) -> User:
    """A logged-in worker who reads the pages in English (the messages asserted on)."""
    user = login_as(Role.WORKER)
    client.get("/worker/family?lang=en")
    return user


def _events(db, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _dependants(db, worker: User) -> list[Dependant]:
    db.expire_all()
    return list(db.scalars(select(Dependant).where(Dependant.worker_id == worker.id)))


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(buffer, "JPEG")
    return buffer.getvalue()


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _child_form(**overrides) -> dict:
    birth = date(today().year - 5, 3, 14)
    data = {
        "kind": "child",
        "first_name": "Giulia",
        "last_name": "Rossi",
        "birth_date": birth.isoformat(),
        "tax_code": factories.person_tax_code(birth=birth, female=True),
        "relationship_label": "",
    }
    data.update(overrides)
    return data


def _disabled_relative(db, worker: User) -> Dependant:
    dependant = family_service.add_dependant(
        db,
        worker,
        kind=DependantKind.DISABLED_RELATIVE,
        first_name="Anna",
        last_name="Rossi",
        birth_date=date(1948, 2, 2),
        relationship_label="madre",
    )
    db.commit()
    return dependant


def _application(db, worker: User, dependant: Dependant) -> Application:
    meas = factories.measure(db)
    application = Application(
        worker=worker,
        measure=meas,
        dependant=dependant,
        amount_requested_cents=100_00,
        status=ApplicationStatus.SUBMITTED,
    )
    db.add(application)
    db.commit()
    return application


# --- adding, editing, removing ---------------------------------------------------------


def test_add_a_child_through_the_page(client, db, worker):
    page = client.get("/worker/family/new").get_data(as_text=True)
    assert 'type="date"' in page
    assert "cannot tell 1925 from 2025" in page  # why the birth date is asked
    assert "diagnosis" in page  # and that none is asked
    data = _child_form()
    response = client.post("/worker/family/new", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/worker/family")
    (child,) = _dependants(db, worker)
    assert child.kind is DependantKind.CHILD
    assert child.tax_code == data["tax_code"]
    assert child.has_disability is False
    (event,) = _events(db, "dependant.create")
    assert event.entity_id == child.id
    assert event.details == {"kind": "child", "has_disability": False}
    listing = client.get("/worker/family").get_data(as_text=True)
    assert "Giulia Rossi" in listing


def test_an_adult_child_is_refused_and_the_form_kept(client, db, worker):
    birth = date(today().year - 18, 1, 1)
    response = client.post(
        "/worker/family/new",
        data=_child_form(
            birth_date=birth.isoformat(), tax_code=factories.person_tax_code(birth=birth)
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "A child must be under 18" in html
    assert 'value="Giulia"' in html and 'value="Rossi"' in html
    assert f'value="{birth.isoformat()}"' in html
    assert _dependants(db, worker) == []
    assert _events(db, "dependant.create") == []


def test_a_future_birth_date_is_refused(client, db, worker):
    response = client.post(
        "/worker/family/new",
        data=_child_form(birth_date=date(today().year + 1, 1, 1).isoformat(), tax_code=""),
    )
    assert response.status_code == 200
    assert "cannot be in the future" in response.get_data(as_text=True)
    assert _dependants(db, worker) == []


def test_a_tax_code_of_another_birth_date_is_refused(client, db, worker):
    birth = date(today().year - 5, 3, 14)
    other = factories.person_tax_code(birth=date(today().year - 5, 3, 15), female=True)
    response = client.post(
        "/worker/family/new", data=_child_form(birth_date=birth.isoformat(), tax_code=other)
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "does not match the codice fiscale" in html
    assert "15/03" in html  # what the codice fiscale says
    assert _dependants(db, worker) == []


def test_child_age_limit_is_on_the_eighteenth_birthday(db):
    worker = factories.user(db, Role.WORKER)
    with pytest.raises(ValidationFailed) as caught:
        family_service.add_dependant(
            db,
            worker,
            kind="child",
            first_name="Luca",
            last_name="Rossi",
            birth_date=date(2008, 6, 15),
            on=ON,
        )
    assert set(caught.value.errors) == {"birth_date"}
    child = family_service.add_dependant(
        db,
        worker,
        kind="child",
        first_name="Luca",
        last_name="Rossi",
        birth_date=date(2008, 6, 16),
        on=ON,
    )
    assert child.kind is DependantKind.CHILD


def test_birth_date_rules(db):
    worker = factories.user(db, Role.WORKER)
    fields = {"kind": "child", "first_name": "Ada", "last_name": "Neri"}
    for birth in (date(2026, 6, 16), date(1899, 12, 31), None):
        with pytest.raises(ValidationFailed) as caught:
            family_service.add_dependant(db, worker, birth_date=birth, on=ON, **fields)
        assert "birth_date" in caught.value.errors
    family_service.add_dependant(db, worker, birth_date=ON, on=ON, **fields)


def test_tax_code_is_compared_without_the_century(db):
    worker = factories.user(db, Role.WORKER)
    # Born in 1925: the codice fiscale says "25", which stdnum would read as 2025.
    code = factories.person_tax_code(birth=date(1925, 4, 9), female=True)
    elder = family_service.add_dependant(
        db,
        worker,
        kind="elderly_relative",
        first_name="Rosa",
        last_name="Bianchi",
        birth_date=date(1925, 4, 9),
        tax_code=code.lower(),
        relationship_label="nonna",
        on=ON,
    )
    assert elder.tax_code == code
    for wrong in (date(1925, 4, 10), date(1925, 5, 9), date(1926, 4, 9)):
        with pytest.raises(ValidationFailed) as caught:
            family_service.add_dependant(
                db,
                worker,
                kind="elderly_relative",
                first_name="Rosa",
                last_name="Bianchi",
                birth_date=wrong,
                tax_code=factories.person_tax_code(birth=date(1925, 4, 9), female=True),
                relationship_label="nonna",
                on=ON,
            )
        assert set(caught.value.errors) == {"birth_date"}
    # The same codice fiscale twice, or the worker's own, is refused.
    with pytest.raises(ValidationFailed) as caught:
        family_service.add_dependant(
            db,
            worker,
            kind="elderly_relative",
            first_name="Rosa",
            last_name="Bianchi",
            birth_date=date(1925, 4, 9),
            tax_code=code,
            relationship_label="nonna",
            on=ON,
        )
    assert set(caught.value.errors) == {"tax_code"}
    with pytest.raises(ValidationFailed) as caught:
        family_service.add_dependant(
            db,
            worker,
            kind="elderly_relative",
            first_name="Me",
            last_name="Myself",
            birth_date=date(1985, 8, 1),
            tax_code=worker.tax_code,
            relationship_label="io",
            on=ON,
        )
    assert set(caught.value.errors) == {"tax_code"}
    with pytest.raises(ValidationFailed) as caught:
        family_service.add_dependant(
            db,
            worker,
            kind="child",
            first_name="X",
            last_name="Y",
            birth_date=date(2020, 1, 1),
            tax_code="RSSMRA85M41L319X",
            on=ON,
        )
    assert set(caught.value.errors) == {"tax_code"}


def test_relatives_need_a_relationship_and_disabled_ones_get_the_flag(db):
    worker = factories.user(db, Role.WORKER)
    fields = {"first_name": "Piero", "last_name": "Neri", "birth_date": date(1950, 1, 1)}
    for kind in ("elderly_relative", "disabled_relative"):
        with pytest.raises(ValidationFailed) as caught:
            family_service.add_dependant(db, worker, kind=kind, on=ON, **fields)
        assert set(caught.value.errors) == {"relationship_label"}
    with pytest.raises(ValidationFailed) as caught:
        family_service.add_dependant(db, worker, kind="cousin", on=ON, **fields)
    assert "kind" in caught.value.errors
    relative = family_service.add_dependant(
        db, worker, kind="disabled_relative", relationship_label=" padre ", on=ON, **fields
    )
    assert relative.has_disability is True
    assert relative.relationship_label == "padre"
    (event,) = _events(db, "dependant.create")
    assert event.details == {"kind": "disabled_relative", "has_disability": True}
    assert "Piero" not in json.dumps(event.details)


def test_edit_a_family_member(client, db, worker):
    child = factories.child(db, worker)
    db.commit()
    page = client.get(f"/worker/family/{child.id}/edit").get_data(as_text=True)
    assert 'value="Giulia"' in page and 'value="2019-05-04"' in page
    response = client.post(
        f"/worker/family/{child.id}/edit",
        data={
            "kind": "child",
            "first_name": "Giulia Maria",
            "last_name": child.last_name,
            "birth_date": "2019-05-04",
            "tax_code": child.tax_code,
            "has_disability": "y",
        },
    )
    assert response.status_code == 302
    (edited,) = _dependants(db, worker)
    assert edited.first_name == "Giulia Maria"
    assert edited.has_disability is True
    (event,) = _events(db, "dependant.update")
    assert event.details["fields"] == ["first_name", "has_disability"]
    assert event.details["has_disability"] is True
    assert "Giulia" not in json.dumps(event.details)


def test_edit_with_an_error_keeps_the_form(client, db, worker):
    child = factories.child(db, worker)
    db.commit()
    response = client.post(
        f"/worker/family/{child.id}/edit",
        data={
            "kind": "child",
            "first_name": "Giuliana",
            "last_name": child.last_name,
            "birth_date": "2019-05-05",
            "tax_code": child.tax_code,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="Giuliana"' in html and 'value="2019-05-05"' in html
    assert "does not match the codice fiscale" in html
    (unchanged,) = _dependants(db, worker)
    assert (unchanged.first_name, unchanged.birth_date) == ("Giulia", date(2019, 5, 4))


def test_remove_a_family_member(client, db, worker):
    child_id = factories.child(db, worker).id
    db.commit()
    response = client.post(f"/worker/family/{child_id}/remove")
    assert response.status_code == 302
    assert _dependants(db, worker) == []
    (event,) = _events(db, "dependant.remove")
    assert event.entity_id == child_id


def test_remove_is_refused_when_an_application_uses_it(client, db, worker):
    child = factories.child(db, worker)
    _application(db, worker, child)
    page = client.get(f"/worker/family/{child.id}/edit").get_data(as_text=True)
    assert "cannot be removed" in page
    response = client.post(f"/worker/family/{child.id}/remove", follow_redirects=True)
    assert "cannot be removed: an application of yours is for them" in response.get_data(
        as_text=True
    )
    assert len(_dependants(db, worker)) == 1
    assert _events(db, "dependant.remove") == []
    with pytest.raises(ValidationFailed):
        family_service.remove_dependant(db, worker, db.get(Dependant, child.id))


# --- certificates ----------------------------------------------------------------------


def test_upload_and_download_a_certificate(client, db, worker, upload_folder):
    relative = _disabled_relative(db, worker)
    page = client.get(f"/worker/family/{relative.id}/certificate").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert 'accept="image/*,application/pdf"' in page
    assert 'capture="environment"' in page
    response = client.post(
        f"/worker/family/{relative.id}/certificate",
        data={"file": (io.BytesIO(_jpeg()), "verbale-invalidita.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    (stored,) = _dependants(db, worker)
    assert stored.certificate_content_type == "image/jpeg"
    # Only the certificate: no thumbnail, another copy of health data, is kept.
    assert _files(upload_folder) == [stored.certificate_key]
    (upload_event,) = _events(db, "dependant.certificate_upload")
    assert "verbale" not in json.dumps(upload_event.details)

    with client.get(f"/worker/family/{relative.id}/certificate/file") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.data.startswith(b"\xff\xd8\xff")
    (view,) = _events(db, "dependant.certificate_view")
    assert (view.entity_id, view.actor_id) == (relative.id, worker.id)
    # Every view is recorded.
    client.get(f"/worker/family/{relative.id}/certificate/file").close()
    assert len(_events(db, "dependant.certificate_view")) == 2


def test_a_pdf_certificate_can_be_chosen_from_the_phone(client, db, worker, upload_folder):
    from pypdf import PdfWriter

    relative = _disabled_relative(db, worker)
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    response = client.post(
        f"/worker/family/{relative.id}/certificate",
        data={"document": (io.BytesIO(buffer.getvalue()), "verbale.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    (stored,) = _dependants(db, worker)
    assert stored.certificate_content_type == "application/pdf"
    with client.get(f"/worker/family/{relative.id}/certificate/file") as response:
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment")


def test_a_new_certificate_replaces_the_old_file(client, db, worker, upload_folder):
    relative = _disabled_relative(db, worker)
    url = f"/worker/family/{relative.id}/certificate"
    for _ in range(2):
        response = client.post(
            url,
            data={"file": (io.BytesIO(_jpeg()), "cert.jpg")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302
    (stored,) = _dependants(db, worker)
    assert _files(upload_folder) == [stored.certificate_key]
    assert _events(db, "dependant.certificate_upload")[-1].details["replaced"] is True


def test_a_refused_upload_keeps_the_page_and_says_why(client, db, worker, upload_folder):
    relative = _disabled_relative(db, worker)
    response = client.post(
        f"/worker/family/{relative.id}/certificate",
        data={"file": (io.BytesIO(b"<html>not a picture</html>"), "cert.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "This file type is not accepted" in response.get_data(as_text=True)
    response = client.post(f"/worker/family/{relative.id}/certificate", data={})
    assert response.status_code == 200
    assert "Choose a file to upload" in response.get_data(as_text=True)
    (unchanged,) = _dependants(db, worker)
    assert unchanged.certificate_key is None
    assert _files(upload_folder) == []
    assert _events(db, "dependant.certificate_upload") == []


def test_no_certificate_without_a_disability(client, db, worker, upload_folder):
    child = factories.child(db, worker)
    db.commit()
    page = client.get(f"/worker/family/{child.id}/certificate").get_data(as_text=True)
    assert "only needed for a person with a disability" in page
    response = client.post(
        f"/worker/family/{child.id}/certificate",
        data={"file": (io.BytesIO(_jpeg()), "cert.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "only needed for a person with a disability" in response.get_data(as_text=True)
    assert _files(upload_folder) == []
    assert client.get(f"/worker/family/{child.id}/certificate/file").status_code == 404


def test_the_certificate_goes_with_the_disability_or_the_person(client, db, worker, upload_folder):
    child = factories.child(db, worker)
    child.has_disability = True
    db.commit()
    url = f"/worker/family/{child.id}/certificate"
    client.post(
        url, data={"file": (io.BytesIO(_jpeg()), "c.jpg")}, content_type="multipart/form-data"
    )
    assert len(_files(upload_folder)) == 1
    # No disability any more: the certificate is deleted with the flag.
    response = client.post(
        f"/worker/family/{child.id}/edit",
        data={
            "kind": "child",
            "first_name": child.first_name,
            "last_name": child.last_name,
            "birth_date": "2019-05-04",
            "tax_code": child.tax_code,
        },
    )
    assert response.status_code == 302
    (edited,) = _dependants(db, worker)
    assert edited.certificate_key is None
    assert _files(upload_folder) == []
    assert _events(db, "dependant.update")[-1].details["certificate_removed"] is True
    # Removing the person removes the certificate too.
    relative = _disabled_relative(db, worker)
    client.post(
        f"/worker/family/{relative.id}/certificate",
        data={"file": (io.BytesIO(_jpeg()), "c.jpg")},
        content_type="multipart/form-data",
    )
    assert len(_files(upload_folder)) == 1
    assert client.post(f"/worker/family/{relative.id}/remove").status_code == 302
    assert _files(upload_folder) == []


# --- who may see what ------------------------------------------------------------------


def test_another_worker_gets_404_and_changes_nothing(client, db, login_as, upload_folder):
    owner = factories.user(db, Role.WORKER)
    relative = family_service.add_dependant(
        db,
        owner,
        kind="disabled_relative",
        first_name="Anna",
        last_name="Bruni",
        birth_date=date(1948, 2, 2),
        relationship_label="madre",
    )
    db.commit()
    intruder = login_as(Role.WORKER)
    base = f"/worker/family/{relative.id}"
    assert client.get(f"{base}/edit").status_code == 404
    edit = {
        "kind": "disabled_relative",
        "first_name": "Hacked",
        "last_name": "Bruni",
        "birth_date": "1948-02-02",
        "relationship_label": "madre",
    }
    assert client.post(f"{base}/edit", data=edit).status_code == 404
    assert client.post(f"{base}/remove").status_code == 404
    assert client.get(f"{base}/certificate").status_code == 404
    response = client.post(
        f"{base}/certificate",
        data={"file": (io.BytesIO(_jpeg()), "c.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 404
    assert client.get(f"{base}/certificate/file").status_code == 404
    assert "Anna" not in client.get("/worker/family").get_data(as_text=True)
    (unchanged,) = _dependants(db, owner)
    assert unchanged.first_name == "Anna" and unchanged.certificate_key is None
    assert _files(upload_folder) == []
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == intruder.id))
    assert [a for a in actions if a.startswith("dependant.")] == []


def test_another_worker_cannot_download_an_existing_certificate(client, db, login_as):
    owner = login_as(Role.WORKER)
    relative = _disabled_relative(db, owner)
    client.post(
        f"/worker/family/{relative.id}/certificate",
        data={"file": (io.BytesIO(_jpeg()), "c.jpg")},
        content_type="multipart/form-data",
    )
    client.get("/auth/logout")
    login_as(Role.WORKER)
    assert client.get(f"/worker/family/{relative.id}/certificate/file").status_code == 404
    assert _events(db, "dependant.certificate_view") == []


@pytest.mark.parametrize("role", [Role.HR, Role.OPERATOR])
def test_hr_and_operators_get_404(client, db, login_as, role):
    owner = factories.user(db, Role.WORKER)
    child = factories.child(db, owner)
    db.commit()
    login_as(role)
    for url in (
        "/worker/family",
        "/worker/family/new",
        f"/worker/family/{child.id}/edit",
        f"/worker/family/{child.id}/certificate",
        f"/worker/family/{child.id}/certificate/file",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/worker/family/{child.id}/remove").status_code == 404
    assert db.get(Dependant, child.id) is not None


# --- on a phone ------------------------------------------------------------------------


@pytest.mark.browser
def test_pages_fit_a_phone_screen(db, live_server, browser, upload_folder):
    """At 360 px every page of profile, employment and family fits without sideways scroll."""
    worker = factories.user(db, Role.WORKER)
    worker.iban = "IT60X0542811101000000123456"
    partner = factories.organisation(db, name="Cooperativa Sociale Lavoro e Conciliazione Onlus")
    factories.alliance(
        db, partners=[partner, factories.organisation(db), factories.organisation(db)]
    )
    factories.employment(db, worker, partner)
    relative = _disabled_relative(db, worker)
    db.commit()
    page = browser.new_page(viewport={"width": 360, "height": 740})
    try:
        browser_login(page, live_server, worker)
        for path in (
            "/worker/profile",
            "/worker/profile/iban",
            "/worker/employment",
            "/worker/employment/new",
            "/worker/family",
            "/worker/family/new",
            f"/worker/family/{relative.id}/edit",
            f"/worker/family/{relative.id}/certificate",
        ):
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (path, width)
            # Buttons are large enough to hit with a thumb.
            heights = page.eval_on_selector_all(
                "main .btn", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            assert all(h >= 44 for h in heights), (path, heights)
    finally:
        page.close()
