"""Company HR: the queue, confirming and denying declarations, leavers, and uptake.

Through the HTTP client as an HR officer (pages in English), and on the services. Each
request runs in its own application context: test data is committed before a request and
read back after a rollback, so a view that forgot to commit (or wrote despite an error)
fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests import factories
from tests.conftest import browser_login, click_and_wait
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    AuditEvent,
    Employment,
    EmploymentStatus,
    MeasureKind,
    Notification,
    Organisation,
    OrganisationKind,
    Role,
    User,
)
from voucher.services import applications, budget, claims, clock, hr
from voucher.services.errors import IllegalTransition, ValidationFailed

E = EmploymentStatus
A = ApplicationStatus
TODAY = clock.today()


# --- helpers ----------------------------------------------------------------------------


def partner_measure(db, company: Organisation, **overrides):
    """A measure of a running project whose alliance has ``company`` as a partner."""
    partners = [
        company,
        factories.organisation(db),
        factories.organisation(db, OrganisationKind.COOPERATIVE),
    ]
    alliance = factories.alliance(db, partners=partners)
    return factories.measure(db, factories.project(db, alliance), **overrides)


def declared(
    db,
    company: Organisation,
    status: EmploymentStatus = E.AWAITING_HR,
    *,
    first_name: str = "Test",
    last_name: str | None = None,
    created_at: datetime | None = None,
) -> Employment:
    """A worker who declared they work at ``company`` (flushed, not committed)."""
    worker = factories.user(db, Role.WORKER)
    worker.first_name = first_name
    if last_name:
        worker.last_name = last_name
    employment = factories.employment(db, worker, company, status)
    if created_at is not None:
        employment.created_at = created_at
    return employment


def waiting_application(db, employment: Employment, measure) -> Application:
    """An application of the employment's worker, sent and waiting for HR."""
    application = applications.start(
        db, employment.worker, measure, dependant=None, amount_requested_cents=300_00
    )
    applications.submit(db, application, employment.worker)
    assert application.status is A.AWAITING_HR
    return application


def fresh(db, model, object_id):
    """The committed state of one row."""
    db.rollback()
    return db.get(model, object_id)


def audit_actions(db, entity_type: str, entity_id: int) -> list[str]:
    db.rollback()
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        )
    )


def notifications_of(db, user: User) -> list[str]:
    db.rollback()
    return list(db.scalars(select(Notification.subject).where(Notification.user_id == user.id)))


def rows_of(html: str) -> list[str]:
    """The worker names of the queue's table, in order."""
    return re.findall(r'<th scope="row"><a href="/hr/declarations/\d+">([^<]+)</a></th>', html)


@pytest.fixture
def company(db):
    org = factories.organisation(db, name="Officine Tradate Srl")
    db.commit()
    return org


@pytest.fixture
def hr_user(client, login_as, company):
    """An HR officer of ``company``, signed in, pages in English."""
    client.get("/?lang=en")
    return login_as(Role.HR, org=company)


# --- the queue --------------------------------------------------------------------------


def test_queue_lists_own_declarations_awaiting_first_oldest_first(client, db, company, hr_user):
    now = datetime.now(UTC)
    newer = declared(db, company, last_name="Bianchi", created_at=now - timedelta(days=1))
    older = declared(db, company, last_name="Zanetti", created_at=now - timedelta(days=5))
    confirmed = declared(db, company, E.CONFIRMED, last_name="Abate")
    denied = declared(db, company, E.DENIED, last_name="Colombo")
    foreign = declared(db, factories.organisation(db), last_name="Estranei")
    db.commit()
    html = client.get("/hr/").get_data(as_text=True)
    assert rows_of(html) == [
        "Zanetti Test",  # awaiting, oldest first
        "Bianchi Test",
        "Abate Test",  # then the others by name, with their status
        "Colombo Test",
    ]
    assert older.worker.tax_code in html and confirmed.worker.tax_code in html
    assert "Awaiting confirmation" in html and "Confirmed" in html and "Denied" in html
    assert foreign.worker.tax_code not in html and "Estranei" not in html
    assert "Awaiting you: 2 · confirmed: 1 · denied: 1" in html
    assert newer.worker.tax_code in html
    assert denied.worker.tax_code in html
    # The HR menu is at the top of the page.
    assert 'href="/hr/roster"' in html and 'href="/hr/uptake"' in html


def test_queue_filters_by_status_and_searches_name_or_codice_fiscale(client, db, company, hr_user):
    awaiting = declared(db, company, last_name="Rossi", first_name="Maria")
    confirmed = declared(db, company, E.CONFIRMED, last_name="Verdi", first_name="Luigi")
    db.commit()
    html = client.get("/hr/?status=confirmed").get_data(as_text=True)
    assert rows_of(html) == ["Verdi Luigi"]
    assert rows_of(client.get("/hr/?q=maria+ROSSI").get_data(as_text=True)) == ["Rossi Maria"]
    code = confirmed.worker.tax_code
    assert rows_of(client.get(f"/hr/?q={code.lower()}").get_data(as_text=True)) == ["Verdi Luigi"]
    # Codici fiscali are stored encrypted: they are found whole, never by a fragment.
    assert rows_of(client.get(f"/hr/?q={code[:9]}").get_data(as_text=True)) == []
    assert rows_of(client.get("/hr/?q=%25").get_data(as_text=True)) == []  # no wildcard
    html = client.get("/hr/?status=denied").get_data(as_text=True)
    assert rows_of(html) == [] and "No declarations match." in html
    # An unknown status is ignored rather than an error.
    assert client.get("/hr/?status=bogus").status_code == 200
    assert awaiting.worker.tax_code in client.get("/hr/?status=awaiting_hr").get_data(as_text=True)


def test_queue_is_paged_by_fifty(client, db, company, hr_user):
    for _ in range(51):
        declared(db, company)
    db.commit()
    first = client.get("/hr/").get_data(as_text=True)
    second = client.get("/hr/?page=2").get_data(as_text=True)
    assert len(rows_of(first)) == 50
    assert len(rows_of(second)) == 1
    assert 'rel="next"' in first


def test_only_hr_sees_the_hr_pages(client, db, login_as):
    for role in (Role.WORKER, Role.OPERATOR, Role.PROVIDER, Role.NETWORK):
        login_as(role)
        for path in ("/hr/", "/hr/roster", "/hr/uptake"):
            assert client.get(path).status_code == 404, (role, path)
        assert client.post("/hr/roster", data={}).status_code == 404
        client.get("/auth/logout")


# --- confirm ----------------------------------------------------------------------------


def test_confirm_sends_on_the_waiting_application_and_grants_first_come(
    client, db, company, hr_user
):
    measure = partner_measure(db, company, allocation=Allocation.FIRST_COME)
    employment = declared(db, company)
    application = waiting_application(db, employment, measure)
    db.commit()
    response = client.post(f"/hr/declarations/{employment.id}/confirm", data={"ends_on": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("/hr/")
    employment = fresh(db, Employment, employment.id)
    assert employment.status is E.CONFIRMED
    assert employment.decided_by_id == hr_user.id and employment.decided_at is not None
    assert employment.ends_on is None
    application = db.get(Application, application.id)
    assert application.status is A.APPROVED
    assert application.voucher is not None and application.voucher.amount_cents == 300_00
    line = measure.budget_line
    assert line.reserved_cents == 300_00
    assert budget.ledger_balances(db, line.id) == budget.line_balances(line)
    assert audit_actions(db, "employments", employment.id)[-1] == "employment.confirm"
    subjects = notifications_of(db, employment.worker)
    assert len(subjects) == 2  # employment confirmed, then voucher ready
    page = client.get("/hr/").get_data(as_text=True)
    assert f"You confirmed that {employment.worker.full_name} works for you." in page


def test_confirm_moves_a_manual_application_to_review(db, company):
    measure = partner_measure(db, company)
    employment = declared(db, company)
    application = waiting_application(db, employment, measure)
    hr_officer = factories.user(db, Role.HR, org=company)
    moved = hr.confirm(db, employment, hr_officer, TODAY)
    assert moved == [application]
    assert application.status is A.SUBMITTED
    assert application.voucher is None
    db.commit()
    assert fresh(db, Application, application.id).status is A.SUBMITTED


def test_confirm_with_the_last_day_and_a_date_before_the_start_is_refused(
    client, db, company, hr_user
):
    employment = declared(db, company)
    db.commit()
    url = f"/hr/declarations/{employment.id}/confirm"
    response = client.post(url, data={"ends_on": "2022-12-31"})  # started 2023-01-01
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The end date cannot be before the start date the worker declared" in html
    assert 'value="2022-12-31"' in html
    assert fresh(db, Employment, employment.id).status is E.AWAITING_HR
    client.post(url, data={"ends_on": "2026-12-31"})
    employment = fresh(db, Employment, employment.id)
    assert (employment.status, employment.ends_on) == (E.CONFIRMED, date(2026, 12, 31))


def test_confirming_a_job_that_is_over_settles_what_waited_for_it(db, company):
    measure = partner_measure(db, company)
    employment = declared(db, company)
    employment.worker.locale = "en"
    application = waiting_application(db, employment, measure)
    hr_officer = factories.user(db, Role.HR, org=company)
    ended = TODAY - timedelta(days=10)
    assert hr.confirm(db, employment, hr_officer, TODAY, ends_on=ended) == []
    db.commit()
    application = fresh(db, Application, application.id)
    assert application.status is A.REJECTED
    assert application.decision_reason.startswith(
        "Your employment at Officine Tradate Srl ended on"
    )
    assert db.get(Employment, employment.id).ends_on == ended


def test_confirming_a_denied_declaration_is_refused_with_a_message(client, db, company, hr_user):
    employment = declared(db, company, E.DENIED)
    confirmed = declared(db, company, E.CONFIRMED)
    db.commit()
    response = client.post(
        f"/hr/declarations/{employment.id}/confirm", data={}, follow_redirects=True
    )
    assert response.request.path == f"/hr/declarations/{employment.id}"
    html = response.get_data(as_text=True)
    assert "Only a declaration awaiting confirmation can be confirmed; this one is: Denied." in html
    assert fresh(db, Employment, employment.id).status is E.DENIED
    response = client.post(
        f"/hr/declarations/{confirmed.id}/deny", data={"reason": "No"}, follow_redirects=True
    )
    assert "can be denied; this one is: Confirmed." in response.get_data(as_text=True)
    assert fresh(db, Employment, confirmed.id).status is E.CONFIRMED
    assert audit_actions(db, "employments", employment.id) == []


def test_a_second_decision_loses_the_guarded_update(db, company):
    employment = declared(db, company)
    hr_officer = factories.user(db, Role.HR, org=company)
    db.commit()
    assert employment.status is E.AWAITING_HR  # what this officer's page showed
    # Another officer denied it a moment ago, behind this session's back.
    db.execute(
        Employment.__table__.update()
        .where(Employment.id == employment.id)
        .values(status=E.DENIED.value)
    )
    with pytest.raises(IllegalTransition) as refused, force_locale("en"):
        hr.confirm(db, employment, hr_officer, TODAY)
    with force_locale("en"):
        assert "just been decided by someone else" in str(refused.value.message)
    db.rollback()
    assert db.get(Employment, employment.id).status is E.AWAITING_HR


# --- deny -------------------------------------------------------------------------------


def test_deny_needs_a_reason_and_keeps_the_form(client, db, company, hr_user):
    employment = declared(db, company)
    db.commit()
    url = f"/hr/declarations/{employment.id}/deny"
    response = client.post(url, data={"reason": "   "})
    assert response.status_code == 200
    assert "Say why you do not confirm: the worker will read it." in response.get_data(as_text=True)
    long_reason = "Non risulta " + "x" * 500
    response = client.post(url, data={"reason": long_reason})
    assert response.status_code == 200
    assert long_reason in response.get_data(as_text=True)  # what was typed is kept
    assert fresh(db, Employment, employment.id).status is E.AWAITING_HR
    assert notifications_of(db, employment.worker) == []


def test_deny_rejects_the_applications_that_waited(client, db, company, hr_user):
    measure = partner_measure(db, company)
    employment = declared(db, company)
    employment.worker.locale = "en"
    application = waiting_application(db, employment, measure)
    db.commit()
    response = client.post(
        f"/hr/declarations/{employment.id}/deny",
        data={"reason": "Nobody with this name works here."},
    )
    assert response.status_code == 302
    employment = fresh(db, Employment, employment.id)
    assert employment.status is E.DENIED
    assert employment.decision_reason == "Nobody with this name works here."
    application = db.get(Application, application.id)
    assert application.status is A.REJECTED
    # In the worker's language, saying it was HR who did not confirm.
    assert application.decision_reason == (
        "The HR office of Officine Tradate Srl did not confirm that you work there."
    )
    assert audit_actions(db, "employments", employment.id)[-1] == "employment.deny"
    assert "application.reject" in audit_actions(db, "applications", application.id)
    assert len(notifications_of(db, employment.worker)) == 2  # denied, application rejected


def test_deny_lets_an_application_wait_for_another_declared_employer(db, company):
    measure = partner_measure(db, company)
    other_partner = next(
        p.organisation
        for p in measure.project.alliance.partnerships
        if p.organisation_id != company.id and not p.organisation.is_public
    )
    employment = declared(db, company)
    employment.starts_on = date(2024, 1, 1)  # the newest declaration: the one applied on
    second = factories.employment(db, employment.worker, other_partner, E.AWAITING_HR)
    application = waiting_application(db, employment, measure)
    assert application.employment_id == employment.id
    hr.deny(db, employment, factories.user(db, Role.HR, org=company), "Not here.")
    db.commit()
    application = fresh(db, Application, application.id)
    assert application.status is A.AWAITING_HR
    assert application.employment_id == second.id


# --- leavers ----------------------------------------------------------------------------


def test_recording_and_removing_the_last_day(client, db, company, hr_user):
    employment = declared(db, company, E.CONFIRMED)
    db.commit()
    url = f"/hr/declarations/{employment.id}/end"
    html = client.post(url, data={"ends_on": ""}, follow_redirects=True).get_data(as_text=True)
    assert "Enter the last day of employment." in html
    response = client.post(url, data={"ends_on": "2026-10-31"}, follow_redirects=True)
    assert "The last day of employment has been recorded." in response.get_data(as_text=True)
    assert fresh(db, Employment, employment.id).ends_on == date(2026, 10, 31)
    response = client.post(url, data={"remove": "1"}, follow_redirects=True)
    assert "The end date has been removed." in response.get_data(as_text=True)
    assert fresh(db, Employment, employment.id).ends_on is None
    assert audit_actions(db, "employments", employment.id) == ["employment.end", "employment.end"]
    assert len(notifications_of(db, employment.worker)) == 2


def test_only_a_confirmed_employment_gets_a_last_day(client, db, company, hr_user):
    employment = declared(db, company)
    db.commit()
    response = client.post(
        f"/hr/declarations/{employment.id}/end",
        data={"ends_on": "2026-10-31"},
        follow_redirects=True,
    )
    assert "Only a confirmed employment can have an end date" in response.get_data(as_text=True)
    assert fresh(db, Employment, employment.id).ends_on is None


def test_after_the_last_day_the_voucher_takes_no_new_claims(db, company):
    employment = declared(db, company, E.CONFIRMED)
    measure = partner_measure(db, company)
    voucher = factories.voucher(db, employment.worker, measure)
    voucher.application.employment = employment
    hr_officer = factories.user(db, Role.HR, org=company)
    db.commit()
    assert hr.set_end_date(db, employment, hr_officer, TODAY - timedelta(days=1)) is True
    db.commit()
    with pytest.raises(IllegalTransition) as refused:
        claims.open_claim(db, employment.worker, voucher, TODAY)
    with force_locale("en"):
        assert "stop accepting new requests after the end date" in str(refused.value.message)
    # The last day itself still counts.
    hr.set_end_date(db, employment, hr_officer, TODAY)
    assert claims.open_claim(db, employment.worker, voucher, TODAY).id is not None


def test_end_date_before_the_start_is_refused(db, company):
    employment = declared(db, company, E.CONFIRMED)
    with pytest.raises(ValidationFailed) as refused:
        hr.set_end_date(db, employment, factories.user(db, Role.HR), date(2020, 1, 1))
    assert "ends_on" in refused.value.errors
    assert employment.ends_on is None


# --- what other people may see ----------------------------------------------------------


def test_another_companys_hr_gets_404_and_nothing_changes(client, db, company, login_as):
    employment = declared(db, company)
    confirmed = declared(db, company, E.CONFIRMED)
    db.commit()
    client.get("/?lang=en")
    login_as(Role.HR, org=factories.organisation(db))
    assert client.get(f"/hr/declarations/{employment.id}").status_code == 404
    for path, data in (
        (f"/hr/declarations/{employment.id}/confirm", {}),
        (f"/hr/declarations/{employment.id}/deny", {"reason": "No"}),
        (f"/hr/declarations/{confirmed.id}/end", {"ends_on": "2026-10-31"}),
    ):
        assert client.post(path, data=data).status_code == 404, path
    assert fresh(db, Employment, employment.id).status is E.AWAITING_HR
    assert db.get(Employment, confirmed.id).ends_on is None
    assert audit_actions(db, "employments", employment.id) == []
    html = client.get("/hr/").get_data(as_text=True)
    assert employment.worker.tax_code not in html


def test_hr_pages_show_no_dependants_and_no_amounts(client, db, company, hr_user):
    measure = partner_measure(db, company)
    employment = declared(db, company, E.CONFIRMED)
    factories.child(db, employment.worker, first_name="Gelsomina")
    voucher = factories.voucher(db, employment.worker, measure, amount_cents=432_10)
    voucher.application.employment = employment
    waiting = declared(db, company)
    factories.child(db, waiting.worker, first_name="Ottavina")
    db.commit()
    pages = [
        client.get(path).get_data(as_text=True)
        for path in (
            "/hr/",
            f"/hr/declarations/{employment.id}",
            f"/hr/declarations/{waiting.id}",
            "/hr/uptake",
            "/hr/roster",
        )
    ]
    for html in pages:
        assert "Gelsomina" not in html and "Ottavina" not in html
        assert "€" not in html and "432,10" not in html and "432.10" not in html
        assert measure.title not in html


# --- uptake -----------------------------------------------------------------------------


def uptake_population(db, company, employees: int, applied: int, granted: int, kind_measure):
    """``employees`` confirmed; ``applied`` of them applied under ``kind_measure``, the first
    ``granted`` of those got a voucher. Returns the employments."""
    employments = [
        declared(db, company, E.CONFIRMED, last_name=f"Dipendente{n}") for n in range(employees)
    ]
    for n, employment in enumerate(employments[:applied]):
        if n < granted:
            voucher = factories.voucher(db, employment.worker, kind_measure, amount_cents=100_00)
            voucher.application.employment = employment
        else:
            db.add(
                Application(
                    worker=employment.worker,
                    measure=kind_measure,
                    employment=employment,
                    amount_requested_cents=100_00,
                    status=A.SUBMITTED,
                )
            )
    db.flush()
    return employments


def test_uptake_counts_with_small_cells_suppressed(client, db, company, hr_user):
    family = partner_measure(db, company, allocated_cents=5_000_00)
    childcare = factories.measure(
        db, family.project, kind=MeasureKind.CHILDCARE, allocated_cents=100_000
    )
    employments = uptake_population(db, company, 14, 6, 5, family)
    # Two of the same people also applied for childcare: too few to show.
    for employment in employments[:2]:
        db.add(
            Application(
                worker=employment.worker,
                measure=childcare,
                employment=employment,
                amount_requested_cents=50_00,
                status=A.SUBMITTED,
            )
        )
    # A draft is not an application yet; a foreign company's uptake is not counted.
    db.add(
        Application(
            worker=employments[10].worker,
            measure=family,
            employment=employments[10],
            amount_requested_cents=50_00,
            status=A.DRAFT,
        )
    )
    uptake_population(db, factories.organisation(db), 8, 8, 8, family)
    db.commit()

    result = hr.uptake(db, company)
    assert result.confirmed_employees == 14
    assert result.applied == hr.Cell(6) and result.with_voucher == hr.Cell(5)
    rows = {row.kind: row for row in result.by_kind}
    assert rows[MeasureKind.FAMILY_VOUCHER].applied == hr.Cell(6)
    assert rows[MeasureKind.CHILDCARE].applied.few
    assert rows[MeasureKind.CHILDCARE].applied.value is None
    assert rows[MeasureKind.CHILDCARE].with_voucher.few

    html = client.get("/hr/uptake").get_data(as_text=True)
    assert "Confirmed employees: 14" in html
    assert "fewer than 5" in html
    assert ">6<" in html.replace(" ", "").replace("\n", "")
    for employment in employments:
        assert employment.worker.last_name not in html
        assert employment.worker.tax_code not in html
    assert "€" not in html and "100,00" not in html and "100.00" not in html


def test_uptake_hides_counts_that_would_cover_nearly_everyone(db, company):
    family = partner_measure(db, company)
    uptake_population(db, company, 7, 7, 5, family)
    db.commit()
    result = hr.uptake(db, company)
    assert result.applied.most and result.applied.value is None  # everyone applied
    assert result.with_voucher.most  # 5 of 7: the other 2 would be singled out


def test_uptake_of_a_company_with_nobody_yet(client, db, company, hr_user):
    partner_measure(db, company)
    db.commit()
    result = hr.uptake(db, company)
    assert result.confirmed_employees == 0
    assert result.applied.few and result.with_voucher.few
    assert [row.kind for row in result.by_kind] == [MeasureKind.FAMILY_VOUCHER]
    assert client.get("/hr/uptake").status_code == 200


def test_hr_home_counts_match_the_database(db, company):
    declared(db, company)
    declared(db, company, E.CONFIRMED)
    hr_officer = factories.user(db, Role.HR, org=company)
    db.commit()
    counts = hr.status_counts(db, hr_officer)
    total = db.scalar(
        select(func.count(Employment.id)).where(Employment.organisation_id == company.id)
    )
    assert sum(counts.values()) == total == 2


# --- on a phone -------------------------------------------------------------------------


@pytest.mark.browser
def test_hr_pages_fit_a_phone_screen(db, live_server, browser, tmp_path):
    """At 360 px the queue, a declaration, the roster preview and uptake need no sideways
    scroll (tables scroll inside their own box)."""
    company = factories.organisation(db, name="Cooperativa Sociale Lavoro e Famiglia Onlus")
    partner_measure(db, company)
    hr_officer = factories.user(db, Role.HR, org=company)
    waiting = declared(db, company, last_name="Bartolomei-Castiglioni")
    confirmed = declared(db, company, E.CONFIRMED, last_name="Sant'Ambrogio")
    db.commit()
    roster = tmp_path / "dipendenti.csv"
    roster.write_text(
        f"codice_fiscale;end_date\n{waiting.worker.tax_code};\n{confirmed.worker.tax_code};"
        "30/11/2026\n",
        encoding="utf-8-sig",
    )
    page = browser.new_page(viewport={"width": 360, "height": 740})
    try:
        browser_login(page, live_server, hr_officer)
        for path in (
            "/hr/",
            f"/hr/declarations/{waiting.id}",
            f"/hr/declarations/{confirmed.id}",
            "/hr/uptake",
            "/hr/roster",
            None,  # the preview, after uploading the file
        ):
            if path is None:
                page.set_input_files("#file", str(roster))
                click_and_wait(page, "main button[type=submit]")
                assert "Declarations that will be confirmed (1)" in page.content()
            else:
                response = page.goto(f"{live_server}{path}")
                assert response is not None and response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (path, width)
            heights = page.eval_on_selector_all(
                "main .btn:not(.btn-sm)", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            assert all(h >= 44 for h in heights), (path, heights)
    finally:
        page.close()
