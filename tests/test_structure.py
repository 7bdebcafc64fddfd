"""Rules of the programme structure, called directly on the services."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests import factories
from voucher.models import (
    Alliance,
    AuditEvent,
    LedgerEntry,
    OrganisationKind,
    OrganisationSize,
    Project,
    Role,
)
from voucher.services import structure
from voucher.services.errors import ValidationFailed


def test_alliance_lead_must_be_public(db):
    company = factories.organisation(db)
    partners = [factories.organisation(db, OrganisationKind.PUBLIC_BODY) for _ in range(3)]
    with pytest.raises(ValidationFailed) as exc:
        structure.save_alliance(
            db, None, network=factories.network(db), name="A", lead=company, partners=partners
        )
    assert "lead" in exc.value.errors
    assert db.scalar(select(func.count()).select_from(Alliance)) == 0


def test_alliance_needs_four_partners(db):
    lead = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    with pytest.raises(ValidationFailed) as exc:
        structure.save_alliance(
            db,
            None,
            network=factories.network(db),
            name="Small",
            lead=lead,
            partners=[factories.organisation(db), factories.organisation(db)],
        )
    assert "partners" in exc.value.errors


def test_alliance_counts_the_lead_once(db):
    lead = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    others = [factories.organisation(db) for _ in range(3)]
    alliance = structure.save_alliance(
        db, None, network=factories.network(db), name="Ok", lead=lead, partners=[lead, *others]
    )
    db.flush()
    assert len(alliance.partnerships) == 4


def test_alliance_update_replaces_partners_and_is_audited(db):
    alliance = factories.alliance(db)
    new = factories.organisation(db)
    kept = [p.organisation for p in alliance.partnerships][:3]
    structure.save_alliance(
        db,
        None,
        network=alliance.network,
        name=alliance.name,
        lead=alliance.lead,
        partners=[*kept, new],
        alliance=alliance,
    )
    db.flush()
    assert new in alliance.partners
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == alliance.id))
    assert set(actions) >= {"alliance.create", "alliance.update"}


@pytest.mark.parametrize(
    ("total", "regional", "cofunding", "cap", "field"),
    [
        (100_000_00, 71_000_00, 29_000_00, None, "regional_share_cents"),  # over 70%
        (100_000_00, 60_000_00, 40_000_00, 50_000_00, "regional_share_cents"),  # over the cap
        (100_000_00, 50_000_00, 40_000_00, None, "cofunding_cents"),  # does not add up
        (0, 0, 0, None, "total_cents"),
    ],
)
def test_project_funding_rules(db, total, regional, cofunding, cap, field):
    programme = factories.programme(db, cap_cents=cap)
    with pytest.raises(ValidationFailed) as exc:
        structure.save_project(
            db,
            None,
            alliance=factories.alliance(db),
            programme=programme,
            title="P",
            starts_on=date(2025, 1, 1),
            ends_on=date(2025, 12, 31),
            total_cents=total,
            regional_share_cents=regional,
            cofunding_cents=cofunding,
        )
    assert field in exc.value.errors
    assert db.scalar(select(func.count()).select_from(Project)) == 0


def test_project_at_exactly_seventy_percent_and_cap_is_accepted(db):
    programme = factories.programme(db, cap_cents=50_000_00)
    project = structure.save_project(
        db,
        None,
        alliance=factories.alliance(db),
        programme=programme,
        title="P",
        starts_on=date(2025, 1, 1),
        ends_on=date(2025, 12, 31),
        total_cents=71_428_58,
        regional_share_cents=50_000_00,
        cofunding_cents=21_428_58,
    )
    assert project.regional_share_cents == 50_000_00


def test_measure_allocation_is_a_ledger_entry_within_the_project_total(db):
    project = factories.project(db, total_cents=1_000_00)
    measure = factories.measure(db, project, allocated_cents=600_00)
    line = measure.budget_line
    assert line.allocated_cents == 600_00
    entries = db.scalars(select(LedgerEntry).where(LedgerEntry.budget_line_id == line.id)).all()
    assert [(e.kind.value, e.amount_cents) for e in entries] == [("allocate", 600_00)]
    with pytest.raises(ValidationFailed) as exc:
        factories.measure(db, project, allocated_cents=500_00)
    assert "allocated_cents" in exc.value.errors


def test_measure_update_adjusts_the_allocation(db):
    measure = factories.measure(db, allocated_cents=500_00)
    structure.save_measure(
        db,
        None,
        project=measure.project,
        kind=measure.kind,
        title=measure.title,
        reimbursement_rate_pct=80,
        cap_per_voucher_cents=100_00,
        opens_on=measure.opens_on,
        closes_on=measure.closes_on,
        allocated_cents=700_00,
        measure=measure,
    )
    db.flush()
    db.refresh(measure.budget_line)
    assert measure.budget_line.allocated_cents == 700_00
    kinds = db.scalars(
        select(LedgerEntry.kind).where(LedgerEntry.budget_line_id == measure.budget_line.id)
    ).all()
    assert [k.value for k in kinds] == ["allocate", "adjust"]


def test_measure_window_inside_project(db):
    project = factories.project(db)
    with pytest.raises(ValidationFailed) as exc:
        structure.save_measure(
            db,
            None,
            project=project,
            kind=factories.MeasureKind.CHILDCARE,
            title="Early",
            reimbursement_rate_pct=50,
            cap_per_voucher_cents=100_00,
            opens_on=date(2020, 1, 1),
            closes_on=date(2025, 1, 1),
            allocated_cents=0,
        )
    assert "opens_on" in exc.value.errors


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("tax_code", {"tax_code": "12345678901"}),  # bad check digit
        ("vat_number", {"vat_number": "1234567890"}),
        ("iban", {"iban": "IT60X0542811101000000123457"}),
        ("bic", {"bic": "NOTABIC"}),
    ],
)
def test_organisation_identifiers_are_validated(db, field, kwargs):
    data = {
        "name": "Coop",
        "kind": OrganisationKind.COOPERATIVE,
        "size": OrganisationSize.MICRO,
        "tax_code": factories.vat(),
    }
    data.update(kwargs)
    with pytest.raises(ValidationFailed) as exc:
        structure.save_organisation(db, None, **data)
    assert field in exc.value.errors


def test_organisation_with_valid_identifiers(db):
    code = factories.vat()
    org = structure.save_organisation(
        db,
        None,
        name="Comune di Tradate",
        kind=OrganisationKind.PUBLIC_BODY,
        size=OrganisationSize.MEDIUM,
        tax_code=f"{code[:4]} {code[4:8]} {code[8:]}",
        iban="IT60 X054 2811 1010 0000 0123 456",
        bic="BPMOIT22XXX",
    )
    assert org.tax_code == code
    assert org.iban == "IT60X0542811101000000123456"


def test_duplicate_organisation_tax_code(db):
    org = factories.organisation(db)
    with pytest.raises(ValidationFailed) as exc:
        structure.save_organisation(
            db,
            None,
            name="Other",
            kind=OrganisationKind.COMPANY,
            size=OrganisationSize.SMALL,
            tax_code=org.tax_code,
        )
    assert "tax_code" in exc.value.errors


def test_staff_user_needs_the_scope_of_its_role(db):
    with pytest.raises(ValidationFailed) as exc:
        structure.save_user(
            db,
            None,
            email="op@example.org",
            first_name="O",
            last_name="P",
            role=Role.OPERATOR,
            password="long-enough-password",
        )
    assert "alliance" in exc.value.errors
    alliance = factories.alliance(db)
    user = structure.save_user(
        db,
        None,
        email="op@example.org",
        first_name="O",
        last_name="P",
        role=Role.OPERATOR,
        password="long-enough-password",
        alliance=alliance,
        organisation=factories.organisation(db),  # ignored: operators are scoped by alliance
    )
    assert user.alliance is alliance
    assert user.organisation is None


def test_role_change_ends_existing_sessions(db):
    user = factories.user(db, Role.WORKER)
    version = user.session_version
    structure.save_user(
        db,
        None,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        role=Role.ADMIN,
        user=user,
    )
    assert user.session_version == version + 1
