"""HR's employee-list (roster) import: parsing line by line, the preview, applying it all
or nothing, and the signed hand-over between preview and apply."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    AuditEvent,
    Employment,
    EmploymentStatus,
    OrganisationKind,
    Role,
)
from voucher.services import applications, budget, clock, hr
from voucher.services.errors import IllegalTransition, ValidationFailed

E = EmploymentStatus
TODAY = clock.today()


# --- helpers ----------------------------------------------------------------------------


def declared(db, company, status=E.AWAITING_HR, last_name: str | None = None) -> Employment:
    worker = factories.user(db, Role.WORKER)
    if last_name:
        worker.last_name = last_name
    return factories.employment(db, worker, company, status)


def csv_bytes(*lines: str, bom: bool = False, sep: str = ";") -> bytes:
    text = "\r\n".join(line.replace("|", sep) for line in lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def upload(client, data: bytes, name: str = "dipendenti.csv"):
    return client.post(
        "/hr/roster",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def payload_of(html: str) -> str:
    match = re.search(r'name="payload" type="hidden" value="([^"]+)"', html)
    assert match, "no signed payload on the page"
    return match.group(1)


def messages(errors) -> list[tuple[int, str]]:
    with force_locale("en"):
        return [(e.line, str(e.message)) for e in errors]


def state(db, *employments: Employment) -> list[tuple[E, date | None]]:
    db.rollback()
    return [
        (db.get(Employment, e.id).status, db.get(Employment, e.id).ends_on) for e in employments
    ]


def imports(db) -> list[AuditEvent]:
    db.rollback()
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == "employment.roster_import"))
    )


@pytest.fixture
def company(db):
    org = factories.organisation(db, name="Officine Tradate Srl")
    db.commit()
    return org


@pytest.fixture
def hr_user(client, login_as, company):
    client.get("/?lang=en")
    return login_as(Role.HR, org=company)


@pytest.fixture
def staff(db, company):
    """Two awaiting, one confirmed who is leaving, one confirmed staying, one denied."""
    people = {
        "new1": declared(db, company, last_name="Nuovo"),
        "new2": declared(db, company, last_name="Novello"),
        "leaver": declared(db, company, E.CONFIRMED, last_name="Partente"),
        "stays": declared(db, company, E.CONFIRMED, last_name="Fermo"),
        "denied": declared(db, company, E.DENIED, last_name="Negato"),
        "absent": declared(db, company, E.CONFIRMED, last_name="Assente"),
    }
    db.commit()
    return people


def roster_for(staff, stranger_code: str) -> bytes:
    return csv_bytes(
        "Codice Fiscale|End Date",
        f"{staff['new1'].worker.tax_code}|",
        f"{staff['new2'].worker.tax_code.lower()}|2027-03-31",
        f"{staff['leaver'].worker.tax_code}|30/11/2026",
        f"{staff['stays'].worker.tax_code}|",
        f"{staff['denied'].worker.tax_code}|",
        f"{stranger_code}|",
        bom=True,
    )


# --- parsing ----------------------------------------------------------------------------


def test_parse_semicolons_with_bom_and_both_date_formats():
    a, b = factories.person_tax_code(), factories.person_tax_code()
    roster = hr.parse_roster(
        csv_bytes("codice_fiscale|end_date", f"{a}|", f" {b} |31/12/2026", bom=True)
    )
    assert roster.errors == []
    assert roster.rows == [hr.RosterRow(2, a, None), hr.RosterRow(3, b, date(2026, 12, 31))]


def test_parse_commas_without_bom_and_without_end_date_column():
    a, b = factories.person_tax_code(), factories.person_tax_code()
    roster = hr.parse_roster(
        csv_bytes("nome,codice_fiscale", f'"Rossi, Maria",{a}', "", f"Verdi,{b}", sep=",")
    )
    assert roster.errors == []
    assert [(r.line, r.tax_code, r.ends_on) for r in roster.rows] == [(2, a, None), (4, b, None)]


def test_parse_reports_every_bad_line_with_its_number():
    good = factories.person_tax_code()
    roster = hr.parse_roster(
        csv_bytes(
            "codice_fiscale;end_date",
            f"{good};2026-06-30",
            "RSSMRA85M01L319A;",  # wrong check character
            f"{factories.person_tax_code()};31-06-2026",
            f"{good};",
            ";2026-01-01",
            f"{factories.person_tax_code()};01/01/0202",
        )
    )
    assert [r.line for r in roster.rows] == [2]
    assert messages(roster.errors) == [
        (3, "This is not a valid codice fiscale: check the 16 characters."),
        (4, "“31-06-2026” is not a date: write it as 2025-06-30 or 30/06/2025."),
        (5, "This codice fiscale is already on line 2."),
        (6, "The codice fiscale is missing."),
        (7, "The end date 01/01/0202 is not plausible: check the year."),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", [(0, "The file is empty.")]),
        (b"\xef\xbb\xbf\r\n\r\n", [(0, "The file is empty.")]),
        (b"codice_fiscale\r\n", [(0, "The file lists no employees.")]),
        (
            b"nome;cognome\r\nMaria;Rossi\r\n",
            [
                (
                    1,
                    "The first line must name the columns: codice_fiscale and, if you have "
                    "it, end_date.",
                )
            ],
        ),
        (
            "codice_fiscale\r\nRSSMRA85M01L319K\r\n".encode("utf-16"),
            [(0, "The file is not UTF-8 text: save it as “CSV UTF-8” and upload it again.")],
        ),
        (
            b"codice_fiscale\r\n" + b"X" * (1024 * 1024),
            [(0, "The file is larger than 1 MB: split it into smaller files.")],
        ),
    ],
)
def test_parse_refuses_files_it_cannot_use(data, expected):
    roster = hr.parse_roster(data)
    assert roster.rows == []
    assert messages(roster.errors) == expected


def test_parse_refuses_more_than_five_thousand_employees():
    codes = [factories.person_tax_code() for _ in range(hr.ROSTER_MAX_ROWS + 1)]
    roster = hr.parse_roster(csv_bytes("codice_fiscale", *codes))
    assert messages(roster.errors)[-1] == (
        0,
        "The file has more than 5000 employees: split it into smaller files.",
    )
    exactly = hr.parse_roster(csv_bytes("codice_fiscale", *codes[:-1]))
    assert exactly.errors == [] and len(exactly.rows) == hr.ROSTER_MAX_ROWS


# --- the plan ---------------------------------------------------------------------------


def test_preview_sorts_every_line_and_changes_nothing(db, company, staff):
    other = factories.organisation(db)
    foreign = declared(db, other)  # declared another company: a stranger here
    db.commit()
    roster = hr.parse_roster(roster_for(staff, foreign.worker.tax_code))
    assert roster.errors == []
    plan = hr.preview(db, company, roster, TODAY)
    assert plan.errors == []
    assert [(i.line, i.employment.id, i.ends_on) for i in plan.confirm] == [
        (2, staff["new1"].id, None),
        (3, staff["new2"].id, date(2027, 3, 31)),
    ]
    assert [(i.line, i.employment.id, i.ends_on) for i in plan.leavers] == [
        (4, staff["leaver"].id, date(2026, 11, 30))
    ]
    assert [i.employment.id for i in plan.unchanged] == [staff["stays"].id]
    assert [i.employment.id for i in plan.denied] == [staff["denied"].id]
    assert [r.line for r in plan.unmatched] == [7]
    assert [e.id for e in plan.absent] == [staff["absent"].id]
    assert plan.changes == 3
    db.commit()
    assert state(db, staff["new1"], staff["leaver"]) == [(E.AWAITING_HR, None), (E.CONFIRMED, None)]


def test_preview_refuses_an_end_date_before_the_declared_start(db, company, staff):
    roster = hr.parse_roster(
        csv_bytes("codice_fiscale;end_date", f"{staff['leaver'].worker.tax_code};2022-12-31")
    )
    plan = hr.preview(db, company, roster, TODAY)
    assert [line for line, _ in messages(plan.errors)] == [2]
    with pytest.raises(ValidationFailed):
        hr.apply_roster(db, company, plan, factories.user(db, Role.HR, org=company), TODAY)


def test_apply_is_all_or_nothing(db, company, staff):
    hr_officer = factories.user(db, Role.HR, org=company)
    db.commit()
    plan = hr.preview(
        db, company, hr.parse_roster(roster_for(staff, factories.person_tax_code())), TODAY
    )
    # Another officer denies the second declaration after the preview was computed.
    db.execute(
        Employment.__table__.update()
        .where(Employment.id == staff["new2"].id)
        .values(status=E.DENIED.value)
    )
    db.commit()
    db.expire_all()
    with pytest.raises(IllegalTransition):
        hr.apply_roster(db, company, plan, hr_officer, TODAY)
    db.rollback()
    # The first confirmation, already made in the transaction, is gone too.
    assert state(db, staff["new1"], staff["leaver"]) == [(E.AWAITING_HR, None), (E.CONFIRMED, None)]
    assert imports(db) == []


def test_apply_refuses_a_declaration_of_another_organisation(db, company, staff):
    other = factories.organisation(db)
    foreign = declared(db, other)
    db.commit()
    plan = hr.RosterPlan(confirm=[hr.PlanItem(2, foreign)], rows=1)
    with pytest.raises(IllegalTransition):
        hr.apply_roster(db, company, plan, factories.user(db, Role.HR, org=company), TODAY)
    db.rollback()
    assert state(db, foreign) == [(E.AWAITING_HR, None)]


# --- through the pages ------------------------------------------------------------------


def test_upload_preview_then_apply(client, db, company, staff, hr_user):
    stranger = factories.person_tax_code()
    response = upload(client, roster_for(staff, stranger))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Declarations that will be confirmed (2)" in html
    assert "Leavers: last day of employment that will be recorded (1)" in html
    assert "Already confirmed, nothing to change (1)" in html
    assert "has declared that they work for you (1)" in html and stranger in html
    assert "Confirmed employees missing from the file, not changed (1)" in html
    assert "Nuovo" in html and "Partente" in html and "Assente" in html
    # Nothing is applied by the preview.
    assert state(db, staff["new1"], staff["leaver"]) == [(E.AWAITING_HR, None), (E.CONFIRMED, None)]

    response = client.post("/hr/roster/apply", data={"payload": payload_of(html)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/hr/")
    assert state(
        db,
        staff["new1"],
        staff["new2"],
        staff["leaver"],
        staff["stays"],
        staff["denied"],
        staff["absent"],
    ) == [
        (E.CONFIRMED, None),
        (E.CONFIRMED, date(2027, 3, 31)),
        (E.CONFIRMED, date(2026, 11, 30)),
        (E.CONFIRMED, None),
        (E.DENIED, None),
        (E.CONFIRMED, None),
    ]
    assert db.get(Employment, staff["new1"].id).decided_by_id == hr_user.id
    [event] = imports(db)
    assert event.actor_id == hr_user.id and event.entity_id == company.id
    assert event.details == {
        "rows": 6,
        "confirmed": 2,
        "leavers": 1,
        "unchanged": 1,
        "denied": 1,
        "unmatched": 1,
        "absent": 1,
    }
    actions = db.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "employments")
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["employment.confirm", "employment.confirm", "employment.end"]
    page = client.get("/hr/").get_data(as_text=True)
    assert "Employee list applied. Declarations confirmed: 2 · last days recorded: 1." in page

    # The same preview cannot be applied twice: it now changes something else (nothing).
    response = client.post("/hr/roster/apply", data={"payload": payload_of(html)})
    assert response.status_code == 200
    assert "Something changed since the preview" in response.get_data(as_text=True)
    assert len(imports(db)) == 1


def test_confirming_by_roster_grants_first_come_vouchers(client, db, company, hr_user):
    partners = [
        company,
        factories.organisation(db),
        factories.organisation(db, OrganisationKind.COOPERATIVE),
    ]
    measure = factories.measure(
        db,
        factories.project(db, factories.alliance(db, partners=partners)),
        allocation=Allocation.FIRST_COME,
    )
    employment = declared(db, company)
    application = applications.start(
        db, employment.worker, measure, dependant=None, amount_requested_cents=200_00
    )
    applications.submit(db, application, employment.worker)
    db.commit()
    html = upload(
        client, csv_bytes("codice_fiscale", employment.worker.tax_code, sep=",")
    ).get_data(as_text=True)
    client.post("/hr/roster/apply", data={"payload": payload_of(html)})
    db.rollback()
    application = db.get(Application, application.id)
    assert application.status is ApplicationStatus.APPROVED
    line = measure.budget_line
    assert line.reserved_cents == 200_00
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)


def test_one_bad_codice_fiscale_refuses_the_whole_file(client, db, company, staff, hr_user):
    data = csv_bytes(
        "codice_fiscale;end_date",
        f"{staff['new1'].worker.tax_code};",
        "RSSMRA85M01L319A;",
        f"{staff['leaver'].worker.tax_code};30/11/2026",
    )
    response = upload(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "nothing has been applied" in html
    assert "Line 3: This is not a valid codice fiscale" in html
    assert 'name="payload"' not in html  # nothing to apply
    assert state(db, staff["new1"], staff["leaver"]) == [(E.AWAITING_HR, None), (E.CONFIRMED, None)]
    assert imports(db) == []


def test_upload_without_a_file_keeps_the_form(client, db, hr_user):
    response = client.post("/hr/roster", data={}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Choose the CSV file to upload." in response.get_data(as_text=True)


def test_a_tampered_payload_is_refused(client, db, company, staff, hr_user):
    html = upload(client, roster_for(staff, factories.person_tax_code())).get_data(as_text=True)
    payload = payload_of(html)
    body, _, signature = payload.rpartition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for bad in (forged, payload + "x", "", "not-a-payload"):
        response = client.post("/hr/roster/apply", data={"payload": bad}, follow_redirects=True)
        assert response.request.path == "/hr/roster"
        assert "The preview could not be read: upload the file again." in response.get_data(
            as_text=True
        )
    assert state(db, staff["new1"], staff["leaver"]) == [(E.AWAITING_HR, None), (E.CONFIRMED, None)]
    assert imports(db) == []


def test_another_officers_preview_cannot_be_applied(client, db, auth, company, staff, hr_user):
    html = upload(client, roster_for(staff, factories.person_tax_code())).get_data(as_text=True)
    auth.logout()
    colleague = factories.user(db, Role.HR, org=company)
    db.commit()
    auth.login(colleague)
    response = client.post(
        "/hr/roster/apply", data={"payload": payload_of(html)}, follow_redirects=True
    )
    assert "The preview could not be read" in response.get_data(as_text=True)
    assert state(db, staff["new1"]) == [(E.AWAITING_HR, None)]


def test_a_file_that_changes_nothing_offers_nothing_to_apply(client, db, company, staff, hr_user):
    html = upload(client, csv_bytes("codice_fiscale", staff["stays"].worker.tax_code)).get_data(
        as_text=True
    )
    assert "The file changes nothing." in html
    assert 'name="payload"' not in html
    assert (
        db.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.like("employment.%")))
        == 0
    )
