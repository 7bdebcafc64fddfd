"""The operator's dashboard, application queue and decisions; network officers read-only.

Through the HTTP client as an operator of the alliance (pages in English), and each
request in its own application context: test data is committed before a request and read
back after a rollback, so a view that forgot to commit, or wrote despite an error, fails.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from voucher.i18n import format_money
from voucher.models import (
    Alliance,
    Allocation,
    Application,
    ApplicationStatus,
    AuditEvent,
    BudgetLine,
    Claim,
    ClaimStatus,
    Dependant,
    DependantKind,
    LedgerEntry,
    Measure,
    MeasureKind,
    Project,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.models.base import utcnow
from voucher.services import applications, budget, clock, structure
from voucher.services.errors import IllegalTransition

S = ApplicationStatus


# --- helpers (also used by test_budgets and test_expiry) --------------------------------


def running_project(db, alliance: Alliance | None = None, total_cents: int = 100_000_00):
    """A project running today, of ``alliance`` (a new one if not given)."""
    today = clock.today()
    regional = total_cents * 70 // 100
    return structure.save_project(
        db,
        None,
        alliance=alliance or factories.alliance(db),
        programme=factories.programme(db),
        title=f"Project {factories.seq()}",
        starts_on=today - timedelta(days=400),
        ends_on=today + timedelta(days=400),
        total_cents=total_cents,
        regional_share_cents=regional,
        cofunding_cents=total_cents - regional,
    )


def open_measure(
    db,
    project: Project,
    allocated_cents: int = 1_000_00,
    allocation: Allocation = Allocation.MANUAL,
    title: str | None = None,
) -> Measure:
    """A family-voucher measure of ``project``, open for applications today."""
    today = clock.today()
    return structure.save_measure(
        db,
        None,
        project=project,
        kind=MeasureKind.FAMILY_VOUCHER,
        title=title or f"Measure {factories.seq()}",
        reimbursement_rate_pct=80,
        cap_per_voucher_cents=500_00,
        cap_per_worker_year_cents=1_000_00,
        opens_on=today - timedelta(days=30),
        closes_on=today + timedelta(days=300),
        allocated_cents=allocated_cents,
        allocation=allocation,
    )


def eligible_worker(db, measure: Measure, last_name: str | None = None) -> User:
    """A worker whose employment at a (non-lead) partner of the measure's alliance is confirmed."""
    worker = factories.user(db, Role.WORKER)
    if last_name:
        worker.last_name = last_name
    partner = next(
        p.organisation
        for p in measure.project.alliance.partnerships
        if not p.organisation.is_public
    )
    factories.employment(db, worker, partner)
    return worker


def sent(
    db,
    measure: Measure,
    amount_cents: int = 150_00,
    status: ApplicationStatus = S.SUBMITTED,
    submitted_at: datetime | None = None,
    worker: User | None = None,
    last_name: str | None = None,
    dependant: Dependant | None = None,
) -> Application:
    """An application sent by an eligible worker, built directly in ``status``."""
    worker = worker or eligible_worker(db, measure, last_name)
    application = Application(
        worker=worker,
        measure=measure,
        employment=None,
        dependant=dependant,
        amount_requested_cents=amount_cents,
        status=status,
        submitted_at=None if status is S.DRAFT else (submitted_at or utcnow()),
    )
    db.add(application)
    db.flush()
    return application


def ledger_count(db, line_id: int | None = None) -> int:
    stmt = select(func.count(LedgerEntry.id))
    if line_id is not None:
        stmt = stmt.where(LedgerEntry.budget_line_id == line_id)
    return int(db.scalar(stmt))


def assert_ledger_matches(db, line_id: int) -> None:
    line = db.get(BudgetLine, line_id)
    db.refresh(line)
    assert budget.ledger_balances(db, line_id) == budget.line_balances(line)


def money_en(cents: int) -> str:
    with force_locale("en"):
        return format_money(cents)


def detail_url(application: Application, area: str = "operator") -> str:
    return f"/{area}/applications/{application.id}"


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def project(db):
    p = running_project(db)
    db.commit()
    return p


@pytest.fixture
def measure(db, project):
    m = open_measure(db, project, title="Nursery vouchers")
    db.commit()
    return m


@pytest.fixture
def operator(client, login_as, project):
    """An operator of the project's alliance, signed in, pages in English."""
    client.get("/?lang=en")
    return login_as(Role.OPERATOR, all_=project.alliance)


# --- dashboard --------------------------------------------------------------------------


def _row_figures(html: str, title: str) -> list[str]:
    row = re.search(
        r"<tr>\s*<th[^>]*>\s*(?:<a[^>]*>)?" + re.escape(title) + r".*?</tr>", html, re.S
    )
    assert row, f"no budget row for {title}"
    return re.findall(r'class="text-end money">([^<]*)</td>', row.group(0))


def test_dashboard_figures_equal_the_ledger(client, db, project, measure, operator):
    other = open_measure(db, project, allocated_cents=2_000_00, title="Summer camps")
    voucher = applications.approve(db, sent(db, measure, 400_00), operator)
    budget.spend(db, measure.budget_line.id, 120_00, operator, ("claim", 1))
    budget.pay(db, measure.budget_line.id, 100_00, operator, ("claim", 1))
    sent(db, measure)
    sent(db, other, status=S.WAITLISTED)
    sent(db, other, status=S.AWAITING_HR)
    sent(db, other, status=S.DRAFT)
    db.add(
        Claim(
            voucher=voucher,
            worker=voucher.worker,
            status=ClaimStatus.SUBMITTED,
            requested_cents=50_00,
        )
    )
    stranger = open_measure(db, running_project(db), title="Another alliance's measure")
    sent(db, stranger)
    db.commit()

    html = client.get("/operator/").get_data(as_text=True)
    for m in (measure, other):
        b = budget.ledger_balances(db, m.budget_line.id)
        expected = [
            b.allocated_cents,
            b.reserved_cents,
            b.spent_cents,
            b.paid_cents,
            b.available_cents,
        ]
        assert _row_figures(html, m.title) == [money_en(c) for c in expected]
    assert _row_figures(html, "Nursery vouchers") == [
        "€1,000.00",
        "€280.00",
        "€120.00",
        "€100.00",
        "€600.00",
    ]
    total = re.search(r"<tfoot>.*?</tfoot>", html, re.S).group(0)
    assert re.findall(r'money">([^<]*)<', total) == [
        "€3,000.00",
        "€280.00",
        "€120.00",
        "€100.00",
        "€2,600.00",
    ]
    # Regional share vs co-funding, and what no measure has yet.
    assert "€70,000.00</span> (70%)" in html and "€30,000.00</span> (30%)" in html
    assert "€97,000.00" in html
    assert stranger.title not in html
    assert f'href="/operator/measures/{measure.id}"' in html
    # What waits: the sent and the waitlisted to decide, one for HR, the claim to review.
    assert "2 applications waiting for a decision" in html
    assert "1 on the waiting list" in html
    assert "1 waiting for HR to confirm the employment" in html
    assert 'href="/operator/applications"' in html
    assert "1 request waiting for review" in html
    assert 'href="/operator/claims"' in html


def test_dashboard_numbers_follow_the_locale(client, db, measure, operator):
    page = client.get("/operator/?lang=it").get_data(as_text=True)
    assert "€\xa01.000,00" in page
    assert client.get("/operator/?lang=en").get_data(as_text=True).count("€1,000.00") >= 1


# --- the queue --------------------------------------------------------------------------


def _listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/(?:operator|network)/applications/(\d+)"', html)]


def test_queue_lists_the_oldest_first_and_hides_drafts_and_other_alliances(
    client, db, measure, operator
):
    start = utcnow() - timedelta(days=3)
    newest = sent(db, measure, submitted_at=start + timedelta(hours=3))
    oldest = sent(db, measure, submitted_at=start, status=S.AWAITING_HR)
    middle = sent(db, measure, submitted_at=start + timedelta(hours=1), status=S.WAITLISTED)
    approved = sent(db, measure, submitted_at=start, status=S.APPROVED)
    draft = sent(db, measure, status=S.DRAFT)
    foreign = sent(db, open_measure(db, running_project(db)), submitted_at=start)
    db.commit()

    html = client.get("/operator/applications").get_data(as_text=True)
    assert _listed_ids(html) == [oldest.id, middle.id, newest.id]
    assert oldest.worker.full_name in html and "€150.00" in html

    html = client.get("/operator/applications?status=approved").get_data(as_text=True)
    assert _listed_ids(html) == [approved.id]
    html = client.get("/operator/applications?status=all").get_data(as_text=True)
    assert set(_listed_ids(html)) == {oldest.id, middle.id, newest.id, approved.id}
    for hidden in (draft, foreign):
        assert hidden.id not in _listed_ids(html)
    # A status the queue does not know falls back to the open ones.
    html = client.get("/operator/applications?status=draft").get_data(as_text=True)
    assert _listed_ids(html) == [oldest.id, middle.id, newest.id]


def test_queue_filters_by_measure(client, db, project, measure, operator):
    other = open_measure(db, project)
    mine = sent(db, measure)
    theirs = sent(db, other)
    foreign_measure = open_measure(db, running_project(db))
    db.commit()
    html = client.get(f"/operator/applications?measure={other.id}").get_data(as_text=True)
    assert _listed_ids(html) == [theirs.id]
    assert f'<option value="{other.id}" selected>' in html
    # Another alliance's measure is not a filter option, and is ignored if asked for.
    assert f'value="{foreign_measure.id}"' not in html
    html = client.get(f"/operator/applications?measure={foreign_measure.id}").get_data(as_text=True)
    assert set(_listed_ids(html)) == {mine.id, theirs.id}


def test_queue_is_paged_by_fifty(client, db, measure, operator):
    worker = eligible_worker(db, measure)
    start = utcnow() - timedelta(days=1)
    made = [
        sent(db, measure, worker=worker, submitted_at=start + timedelta(minutes=i))
        for i in range(51)
    ]
    db.commit()
    first = client.get("/operator/applications").get_data(as_text=True)
    assert _listed_ids(first) == [a.id for a in made[:50]]
    assert "(51)" in first and 'rel="next"' in first
    second = client.get("/operator/applications?page=2").get_data(as_text=True)
    assert _listed_ids(second) == [made[50].id]


# --- one application --------------------------------------------------------------------


def test_detail_shows_the_request_the_checks_and_no_certificate(client, db, measure, operator):
    worker = eligible_worker(db, measure, last_name="Bianchi")
    relative = Dependant(
        worker=worker,
        kind=DependantKind.DISABLED_RELATIVE,
        first_name="Ada",
        last_name="Bianchi",
        birth_date=clock.today().replace(year=clock.today().year - 71) - timedelta(days=1),
        has_disability=True,
        certificate_key="secret-certificate-key",
        certificate_content_type="application/pdf",
    )
    db.add(relative)
    application = sent(db, measure, worker=worker, dependant=relative)
    application.notes = "Afternoons only"
    db.commit()

    page = client.get(detail_url(application)).get_data(as_text=True)
    assert worker.full_name in page and measure.title in page
    assert "€150.00" in page and "Afternoons only" in page
    assert "Relative with a disability, 71 years old" in page
    # Kind and age only: no name, no certificate.
    assert "Ada" not in page and "secret-certificate-key" not in page
    assert "certificate" not in page.lower()
    # Employment and the eligibility summary.
    assert "confirmed by HR" in page
    assert "Still available on the measure: €1,000.00." in page
    assert "of a yearly cap of €1,000.00" in page
    # The forms of the decisions the status allows.
    for action in ("approve", "waitlist", "reject"):
        assert f'action="/operator/applications/{application.id}/{action}"' in page
    assert "/revoke" not in page
    # Seeing that the relative has a disability is in the audit log.
    db.rollback()
    viewed = db.scalars(select(AuditEvent).where(AuditEvent.action == "dependant.view")).all()
    assert [(e.entity_id, e.actor_id, e.details["application_id"]) for e in viewed] == [
        (relative.id, operator.id, application.id)
    ]


def test_drafts_are_not_found(client, db, measure, operator):
    draft = sent(db, measure, status=S.DRAFT)
    db.commit()
    assert client.get(detail_url(draft)).status_code == 404
    assert client.post(f"{detail_url(draft)}/reject", data={"reject-reason": "x"}).status_code == (
        404
    )


# --- decisions --------------------------------------------------------------------------


def test_approve_reserves_the_amount_and_creates_the_voucher(client, db, measure, operator):
    application = sent(db, measure, amount_cents=300_00)
    db.commit()
    response = client.post(f"{detail_url(application)}/approve", data={"approve-amount_cents": ""})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(detail_url(application))
    db.rollback()
    application = db.get(Application, application.id)
    assert application.status is S.APPROVED and application.decided_by_id == operator.id
    voucher = application.voucher
    assert voucher.amount_cents == 300_00 and voucher.status is VoucherStatus.ACTIVE
    line = db.get(BudgetLine, measure.budget_line.id)
    assert (line.reserved_cents, line.available_cents) == (300_00, 700_00)
    assert_ledger_matches(db, line.id)

    page = client.get(detail_url(application)).get_data(as_text=True)
    assert "Approved: voucher of €300.00." in page
    assert operator.full_name in page and "Alliance operator" in page
    assert 'action="/operator/applications/' + str(application.id) + '/revoke"' in page


def test_approve_a_lower_amount(client, db, measure, operator):
    application = sent(db, measure, amount_cents=300_00)
    db.commit()
    response = client.post(
        f"{detail_url(application)}/approve", data={"approve-amount_cents": "120,50"}
    )
    assert response.status_code == 302
    db.rollback()
    assert db.get(Application, application.id).voucher.amount_cents == 120_50
    assert db.get(BudgetLine, measure.budget_line.id).reserved_cents == 120_50


def test_approve_more_than_requested_keeps_the_form_and_changes_nothing(
    client, db, measure, operator
):
    application = sent(db, measure, amount_cents=300_00)
    db.commit()
    response = client.post(
        f"{detail_url(application)}/approve", data={"approve-amount_cents": "1.999,00"}
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The amount cannot exceed what was requested (€300.00)." in page
    assert 'value="1.999,00"' in page
    db.rollback()
    assert db.get(Application, application.id).status is S.SUBMITTED
    assert ledger_count(db, measure.budget_line.id) == 1  # the initial allocation only


def test_reject_needs_a_reason(client, db, measure, operator):
    application = sent(db, measure)
    db.commit()
    response = client.post(f"{detail_url(application)}/reject", data={"reject-reason": ""})
    assert response.status_code == 200
    assert "Say why the application is not approved." in response.get_data(as_text=True)
    db.rollback()
    assert db.get(Application, application.id).status is S.SUBMITTED

    response = client.post(
        f"{detail_url(application)}/reject", data={"reject-reason": "Not employed by a partner"}
    )
    assert response.status_code == 302
    db.rollback()
    application = db.get(Application, application.id)
    assert application.status is S.REJECTED
    assert application.decision_reason == "Not employed by a partner"
    page = client.get(detail_url(application)).get_data(as_text=True)
    assert "Rejected." in page and "Not employed by a partner" in page


def test_waitlist(client, db, measure, operator):
    application = sent(db, measure)
    db.commit()
    response = client.post(
        f"{detail_url(application)}/waitlist", data={"waitlist-reason": "Other requests first"}
    )
    assert response.status_code == 302
    db.rollback()
    assert db.get(Application, application.id).status is S.WAITLISTED


def test_a_full_budget_waitlists_and_says_so(client, db, project, operator):
    small = open_measure(db, project, allocated_cents=100_00)
    application = sent(db, small, amount_cents=150_00)
    db.commit()
    response = client.post(f"{detail_url(application)}/approve", data={})
    assert response.status_code == 409
    assert "does not have €150.00 left" in response.get_data(as_text=True)
    db.rollback()
    # The waiting list is kept (a decision), and nothing was reserved.
    assert db.get(Application, application.id).status is S.WAITLISTED
    assert ledger_count(db, small.budget_line.id) == 1


def test_a_second_decision_is_refused_with_409_and_no_ledger_entry(client, db, measure, operator):
    application = sent(db, measure)
    db.commit()
    assert client.post(f"{detail_url(application)}/approve", data={}).status_code == 302
    db.rollback()
    entries = ledger_count(db)
    events = db.scalar(select(func.count(AuditEvent.id)))

    for action, data in (
        ("approve", {}),
        ("reject", {"reject-reason": "Changed my mind"}),
        ("reject", {"reject-reason": ""}),
        ("waitlist", {}),
    ):
        response = client.post(f"{detail_url(application)}/{action}", data=data)
        assert response.status_code == 409, action
        page = response.get_data(as_text=True)
        assert "This application has already been decided: Approved." in page
        assert 'role="alert"' in page

    db.rollback()
    assert ledger_count(db) == entries
    assert db.scalar(select(func.count(AuditEvent.id))) == events
    assert db.scalar(select(func.count(Voucher.id))) == 1
    assert db.get(Application, application.id).status is S.APPROVED


def test_a_decision_racing_another_writes_nothing(app, db, measure, operator):
    """Two operators load the same sent application; the second approval comes too late."""
    application = sent(db, measure)
    db.commit()
    stale = db.get(Application, application.id)
    assert stale.status is S.SUBMITTED
    # A colleague decides first, in another session.
    from sqlalchemy.orm import Session

    with Session(db.get_bind()) as other:
        applications.reject(other, other.get(Application, application.id), None, "Outside the area")
        other.commit()
    entries = ledger_count(db)
    with pytest.raises(IllegalTransition):
        applications.approve(db, stale, operator)
    db.rollback()
    assert ledger_count(db) == entries
    assert db.get(Application, application.id).status is S.REJECTED
    assert_ledger_matches(db, measure.budget_line.id)


def test_revoke_an_active_voucher(client, db, measure, operator):
    application = sent(db, measure, amount_cents=200_00)
    db.commit()
    client.post(f"{detail_url(application)}/approve", data={})
    response = client.post(f"{detail_url(application)}/revoke", data={"revoke-reason": ""})
    assert response.status_code == 200
    assert "Say why the voucher is revoked." in response.get_data(as_text=True)
    response = client.post(
        f"{detail_url(application)}/revoke", data={"revoke-reason": "Declared by mistake"}
    )
    assert response.status_code == 302
    db.rollback()
    voucher = db.get(Application, application.id).voucher
    assert voucher.status is VoucherStatus.REVOKED
    assert db.get(BudgetLine, measure.budget_line.id).reserved_cents == 0
    assert_ledger_matches(db, measure.budget_line.id)
    page = client.get(detail_url(application)).get_data(as_text=True)
    assert "The voucher was revoked; €200.00 went back to the budget." in page
    assert "Declared by mistake" in page
    second = client.post(f"{detail_url(application)}/revoke", data={"revoke-reason": "Again"})
    assert second.status_code == 409


# --- who may see and decide -------------------------------------------------------------


def test_an_operator_of_another_alliance_gets_404_and_changes_nothing(
    client, db, measure, login_as
):
    application = sent(db, measure)
    db.commit()
    login_as(Role.OPERATOR)  # of a new alliance of their own
    assert client.get(detail_url(application)).status_code == 404
    for action, data in (
        ("approve", {}),
        ("reject", {"reject-reason": "No"}),
        ("waitlist", {}),
        ("revoke", {"revoke-reason": "No"}),
    ):
        assert client.post(f"{detail_url(application)}/{action}", data=data).status_code == 404
    assert _listed_ids(client.get("/operator/applications").get_data(as_text=True)) == []
    db.rollback()
    assert db.get(Application, application.id).status is S.SUBMITTED
    assert ledger_count(db, measure.budget_line.id) == 1


def test_network_officers_read_but_never_decide(client, db, project, measure, login_as):
    application = sent(db, measure)
    foreign = sent(db, open_measure(db, running_project(db)))
    db.commit()
    client.get("/?lang=en")
    login_as(Role.NETWORK, net=project.alliance.network)

    home = client.get("/network/").get_data(as_text=True)
    assert "1 application waiting for a decision" in home
    assert 'href="/network/applications"' in home
    assert "0 requests waiting for review" in home and 'href="/network/claims"' in home
    listing = client.get("/network/applications").get_data(as_text=True)
    assert _listed_ids(listing) == [application.id]
    page = client.get(detail_url(application, "network"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert application.worker.full_name in html and "To decide" in html
    assert "Read-only view" in html
    assert 'method="post"' not in html and "/approve" not in html
    assert client.get(detail_url(foreign, "network")).status_code == 404

    for action, data in (
        ("approve", {}),
        ("reject", {"reject-reason": "No"}),
        ("waitlist", {}),
        ("revoke", {"revoke-reason": "No"}),
    ):
        assert client.post(f"{detail_url(application)}/{action}", data=data).status_code == 404
    assert client.get(detail_url(application)).status_code == 404
    assert client.get("/operator/applications").status_code == 404
    db.rollback()
    assert db.get(Application, application.id).status is S.SUBMITTED
    assert ledger_count(db, measure.budget_line.id) == 1


def test_operators_cannot_use_the_network_pages(client, db, measure, operator):
    assert client.get("/network/applications").status_code == 404
