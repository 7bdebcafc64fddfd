"""The demo loader: seeded structure, valid money rules, idempotence, working accounts."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from voucher.models import (
    Alliance,
    Base,
    BudgetLine,
    Dependant,
    DependantKind,
    Employment,
    EmploymentStatus,
    Measure,
    MeasureKind,
    Network,
    OrganisationKind,
    Project,
    Role,
    User,
)
from voucher.services import budget, demo, identifiers, structure

# The day the demo was written for: every measure must be open then.
DEMO_DAY = date(2026, 11, 24)

ACCOUNTS = {
    "lavoratrice@demo.example": "/worker/",
    "lavoratore@demo.example": "/worker/",
    "hr@demo.example": "/hr/",
    "operatore@demo.example": "/operator/",
    "ats@demo.example": "/network/",
    "fornitore@demo.example": "/provider/",
    "admin@demo.example": "/admin/",
}


def load(db) -> str:
    summary = demo.load_demo(db)
    db.commit()
    return summary


def row_counts(db) -> dict[str, int]:
    return {
        table.name: db.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def test_demo_builds_the_seeded_networks_and_alliances(db):
    load(db)
    networks = {n.ats_name: n for n in db.scalars(select(Network))}
    assert set(networks) == {"ATS di Bergamo", "ATS dell'Insubria"}
    assert len(networks["ATS di Bergamo"].alliances) == 5
    assert len(networks["ATS dell'Insubria"].alliances) == 4
    for alliance in db.scalars(select(Alliance)):
        assert len(alliance.partnerships) >= structure.ALLIANCE_MIN_PARTNERS, alliance.name
        assert alliance.lead.kind is OrganisationKind.PUBLIC_BODY, alliance.name
        assert alliance.lead in alliance.partners
        assert alliance.projects, alliance.name
    tradate = db.scalar(select(Project).where(Project.code == "3649957"))
    assert tradate.title.startswith("Conciliazione 2.0")
    assert tradate.alliance.lead.name.startswith("Comune di Tradate")
    assert tradate.regional_share_cents <= tradate.programme.regional_cap_cents


def test_demo_money_follows_the_rules(db):
    load(db)
    for project in db.scalars(select(Project)):
        assert (
            structure.check_project_funding(
                project.programme,
                project.total_cents,
                project.regional_share_cents,
                project.cofunding_cents,
            )
            == {}
        ), project.title
        assert sum(m.budget_line.allocated_cents for m in project.measures) <= project.total_cents
    lines = db.scalars(select(BudgetLine)).all()
    assert len(lines) == db.scalar(select(func.count()).select_from(Measure))
    for line in lines:
        assert line.allocated_cents > 0
        assert budget.ledger_balances(db, line.id) == budget.line_balances(line)
    for measure in db.scalars(select(Measure)):
        assert measure.is_open_on(DEMO_DAY), measure.title
        assert measure.description and measure.documents_required, measure.title


def test_demo_people_and_their_scopes(db):
    load(db)
    users = {u.email: u for u in db.scalars(select(User))}
    assert set(users) == set(ACCOUNTS)
    worker, pending, hr = (
        users["lavoratrice@demo.example"],
        users["lavoratore@demo.example"],
        users["hr@demo.example"],
    )
    company = hr.organisation
    assert company.kind is OrganisationKind.COMPANY
    operator = users["operatore@demo.example"]
    assert company in operator.alliance.partners
    assert operator.alliance.network == users["ats@demo.example"].network
    provider = users["fornitore@demo.example"].organisation
    assert provider.kind is OrganisationKind.COOPERATIVE
    assert provider in operator.alliance.partners

    confirmed = db.scalar(select(Employment).where(Employment.worker_id == worker.id))
    assert (confirmed.organisation, confirmed.status) == (company, EmploymentStatus.CONFIRMED)
    assert confirmed.decided_by == hr
    awaiting = db.scalar(select(Employment).where(Employment.worker_id == pending.id))
    assert (awaiting.organisation, awaiting.status) == (company, EmploymentStatus.AWAITING_HR)
    (child,) = db.scalars(select(Dependant).where(Dependant.worker_id == worker.id)).all()
    assert child.kind is DependantKind.CHILD
    assert child.birth_date == date(2019, 5, 4)

    for user in (worker, pending):
        assert user.role is Role.WORKER
        assert identifiers.person_tax_code(user.tax_code) == user.tax_code
    assert all(u.locale == "it" for u in users.values())


def test_demo_is_idempotent(db):
    first = load(db)
    assert first.startswith("created: 2 programmes, 2 networks")
    counts = row_counts(db)
    second = load(db)
    assert row_counts(db) == counts
    assert second.startswith("created: nothing; already present: 2 programmes")


def test_each_demo_account_lands_on_its_own_area(db, client):
    load(db)
    for email, area in ACCOUNTS.items():
        response = client.post("/auth/login", data={"email": email, "password": demo.DEMO_PASSWORD})
        assert response.status_code == 302, email
        assert response.headers["Location"].endswith(area), (email, response.headers)
        assert client.get(area).status_code == 200, email
        client.get("/auth/logout")


def test_demo_command_runs_twice(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "created: 2 programmes" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "created: nothing" in second.output


def test_cli_refuses_demo_accounts_in_production(app, db):
    app.config["ENV_NAME"] = "production"
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "refusing" in result.output
    assert db.scalar(select(func.count()).select_from(User)) == 0


def test_demo_workers_have_something_in_progress(app, db):
    from voucher.models import (
        Application,
        ApplicationStatus,
        Claim,
        ClaimStatus,
        Payout,
        PayoutStatus,
    )
    from voucher.services import budget, demo

    demo.load_demo(db)
    db.commit()
    # The time-saving voucher to book services with is tested in tests/test_bookings.py.
    others = Application.measure.has(Measure.kind != MeasureKind.TIME_SAVING)
    by_email = {a.worker.email: a for a in db.scalars(select(Application).where(others)).all()}
    granted = by_email["lavoratrice@demo.example"]
    assert granted.status is ApplicationStatus.APPROVED
    assert granted.voucher.amount_cents == 400_00
    # One request under review for the operator, and an earlier one already paid.
    claim, paid = db.scalars(select(Claim).order_by(Claim.id)).all()
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.requested_cents > 0
    assert len(claim.receipts) == 1
    assert paid.status is ClaimStatus.PAID
    [payout] = db.scalars(select(Payout)).all()
    assert payout.status is PayoutStatus.EXECUTED and payout.lines[0].claim_id == paid.id
    assert by_email["lavoratore@demo.example"].status is ApplicationStatus.AWAITING_HR
    line = granted.voucher.budget_line
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)
