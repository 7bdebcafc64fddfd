"""The worker's "Per me" page and the application journey, through the HTTP client.

Each request runs in its own application context: test data is committed before a request
and read back after a rollback, so a view that forgot to commit (or wrote despite an error)
fails here. Pages are in English so texts are stable.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import browser_login
from voucher.models import (
    Allocation,
    Application,
    ApplicationStatus,
    Eligibility,
    EmploymentStatus,
    Measure,
    MeasureKind,
    Role,
    User,
)
from voucher.services import applications, clock, structure

S = ApplicationStatus


# --- helpers ----------------------------------------------------------------------------


def current_measure(db, proj=None, **overrides) -> Measure:
    """A measure of a project running today, open for applications today."""
    today = clock.today()
    if proj is None:
        proj = structure.save_project(
            db,
            None,
            alliance=factories.alliance(db),
            programme=factories.programme(db),
            title=f"Project {factories.seq()}",
            starts_on=today - timedelta(days=400),
            ends_on=today + timedelta(days=400),
            total_cents=100_000_00,
            regional_share_cents=70_000_00,
            cofunding_cents=30_000_00,
        )
    values = {
        "project": proj,
        "kind": MeasureKind.FAMILY_VOUCHER,
        "title": f"Measure {factories.seq()}",
        "description": "Help with the costs of family services.",
        "documents_required": "Invoice of the service",
        "reimbursement_rate_pct": 80,
        "cap_per_voucher_cents": 500_00,
        "cap_per_worker_year_cents": 1_000_00,
        "opens_on": today - timedelta(days=30),
        "closes_on": today + timedelta(days=300),
        "allocated_cents": 2_000_00,
    }
    values.update(overrides)
    return structure.save_measure(db, None, **values)


def employ(db, worker: User, measure: Measure, status=EmploymentStatus.CONFIRMED):
    """Declare the worker's employment at a (non-lead) partner of the measure's alliance."""
    partner = next(
        p.organisation
        for p in measure.project.alliance.partnerships
        if not p.organisation.is_public
    )
    return factories.employment(db, worker, partner, status)


def fresh(db, model, object_id):
    """The committed state of one row."""
    db.rollback()
    return db.get(model, object_id)


def count_applications(db) -> int:
    db.rollback()
    return db.scalar(select(func.count(Application.id)))


def new_url(measure: Measure) -> str:
    return f"/worker/applications/new?measure={measure.id}"


def created_id(response) -> int:
    match = re.fullmatch(r".*/worker/applications/(\d+)/check", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


@pytest.fixture
def worker(client, login_as):
    """A worker signed in, pages in English."""
    client.get("/?lang=en")
    return login_as(Role.WORKER)


@pytest.fixture
def measure(db, worker):
    """A family-voucher measure the signed-in worker is eligible for."""
    m = current_measure(db)
    employ(db, worker, m)
    db.commit()
    return m


def apply(client, measure, **data):
    form = {"dependant": "0", "amount_requested_cents": "150", "notes": ""}
    form.update(data)
    return client.post(new_url(measure), data=form)


# --- "Per me" ---------------------------------------------------------------------------


def test_measures_page_explains_usable_measures_then_the_others(client, db, worker, measure):
    later = current_measure(
        db,
        measure.project,
        title="Summer camp later",
        opens_on=clock.today() + timedelta(days=10),
    )
    other = current_measure(db, title="Other alliance measure")
    db.commit()
    page = client.get("/worker/measures").get_data(as_text=True)
    assert measure.title in page
    assert "Help with the costs of family services." in page
    assert "Invoice of the service" in page
    assert "80% of what you spend is reimbursed, up to €500.00 per voucher." in page
    assert "At most €1,000.00 per person each year." in page
    assert "You can ask for up to €500.00." in page
    # Budget left on the measure and on the whole project (two measures of € 2,000).
    assert "€2,000.00</span> for this measure" in page
    assert "€4,000.00</span> for the whole project" in page
    assert f'href="/worker/applications/new?measure={measure.id}"' in page
    assert "Apply by" in page
    # Then what the worker cannot use, with the reason.
    usable_at = page.index(measure.title)
    assert page.index(later.title) > usable_at and page.index(other.title) > usable_at
    assert "Applications open on" in page
    assert "and the employer you declared is not one of them" in page
    assert f"new?measure={later.id}" not in page and f"new?measure={other.id}" not in page
    assert "/worker/employment/new" not in page


def test_measures_page_prompts_to_declare_an_employer(client, db, worker):
    current_measure(db)
    db.commit()
    page = client.get("/worker/measures").get_data(as_text=True)
    assert 'href="/worker/employment/new"' in page
    assert "Declare where you work first." in page


def test_measures_page_says_when_hr_has_not_confirmed_yet(client, db, worker):
    m = current_measure(db)
    employ(db, worker, m, EmploymentStatus.AWAITING_HR)
    db.commit()
    page = client.get("/worker/measures").get_data(as_text=True)
    assert "has not yet confirmed that you work there" in page
    assert f"new?measure={m.id}" in page


def test_only_workers_see_the_pages(client, login_as):
    login_as(Role.OPERATOR)
    assert client.get("/worker/measures").status_code == 404
    assert client.get("/worker/applications").status_code == 404


# --- applying ---------------------------------------------------------------------------


def test_apply_check_submit_and_follow_the_status(client, db, worker, measure):
    child = factories.child(db, worker)
    db.commit()
    form_page = client.get(new_url(measure)).get_data(as_text=True)
    assert "You can ask for up to €500.00." in form_page
    assert 'href="/worker/family/new"' in form_page
    assert f'value="{child.id}"' in form_page
    response = apply(client, measure, dependant=str(child.id), amount_requested_cents="150,50")
    assert response.status_code == 302
    application_id = created_id(response)
    application = fresh(db, Application, application_id)
    assert (application.status, application.amount_requested_cents) == (S.DRAFT, 150_50)
    assert application.dependant_id == child.id

    check = client.get(f"/worker/applications/{application_id}/check").get_data(as_text=True)
    assert "€150.50" in check and child.first_name in check
    edit = f"/worker/applications/{application_id}/edit"
    for anchor in ("dependant", "amount_requested_cents", "notes"):
        assert f'href="{edit}#{anchor}"' in check
    assert f'action="/worker/applications/{application_id}/submit"' in check

    response = client.post(f"/worker/applications/{application_id}/submit")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/worker/applications/{application_id}")
    application = fresh(db, Application, application_id)
    assert application.status is S.SUBMITTED and application.submitted_at is not None

    status = client.get(f"/worker/applications/{application_id}").get_data(as_text=True)
    assert "Sent. The alliance will review it and tell you." in status  # the flash
    assert "You started the application." in status
    assert status.index("You started the application.") < status.index("You sent the application.")
    assert "The alliance is reviewing your application." in status
    assert "Withdraw the application" in status
    # Sent: the check and edit pages lead to the status page.
    assert client.get(f"/worker/applications/{application_id}/check").status_code == 302
    assert client.get(edit).status_code == 302

    listing = client.get("/worker/applications").get_data(as_text=True)
    assert f'href="/worker/applications/{application_id}"' in listing and measure.title in listing


def test_change_links_reopen_the_form_prefilled(client, db, worker, measure):
    application_id = created_id(
        apply(client, measure, amount_requested_cents="200", notes="Mornings")
    )
    edit = client.get(f"/worker/applications/{application_id}/edit").get_data(as_text=True)
    assert 'value="200.00"' in edit and "Mornings" in edit
    response = client.post(
        f"/worker/applications/{application_id}/edit",
        data={"dependant": "0", "amount_requested_cents": "320", "notes": "Afternoons"},
    )
    assert created_id(response) == application_id
    application = fresh(db, Application, application_id)
    assert (application.amount_requested_cents, application.notes) == (320_00, "Afternoons")
    assert count_applications(db) == 1


def test_italian_euro_amounts_are_understood(client, db, worker):
    m = current_measure(db, cap_per_voucher_cents=2_000_00, cap_per_worker_year_cents=None)
    employ(db, worker, m)
    db.commit()
    application_id = created_id(apply(client, m, amount_requested_cents="1.234,56"))
    assert fresh(db, Application, application_id).amount_requested_cents == 1_234_56


def test_amount_above_the_maximum_keeps_the_form(client, db, worker, measure):
    response = apply(client, measure, amount_requested_cents="600", notes="Keep me")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You can ask for at most €500.00." in page
    assert 'value="600"' in page and "Keep me" in page
    assert count_applications(db) == 0


def test_child_measure_without_a_child_is_refused_with_the_form_kept(client, db, worker):
    m = current_measure(db, kind=MeasureKind.CHILDCARE)
    employ(db, worker, m)
    db.commit()
    page = client.get(new_url(m)).get_data(as_text=True)
    assert "you have not added a suitable one yet" in page
    response = client.post(
        new_url(m), data={"amount_requested_cents": "200", "notes": "Nursery from September"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choose the child the service is for." in page
    assert 'value="200"' in page and "Nursery from September" in page
    assert 'href="/worker/family/new"' in page
    assert count_applications(db) == 0


def test_someone_elses_dependant_cannot_be_chosen(client, db, worker):
    m = current_measure(db, kind=MeasureKind.CHILDCARE)
    employ(db, worker, m)
    other_child = factories.child(db, factories.user(db, Role.WORKER))
    db.commit()
    response = client.post(
        new_url(m), data={"dependant": str(other_child.id), "amount_requested_cents": "200"}
    )
    assert response.status_code == 200
    assert "Choose one of your family members." in response.get_data(as_text=True)
    assert count_applications(db) == 0


def test_residence_measure_asks_where_the_worker_lives(client, db, worker):
    m = current_measure(
        db, eligibility=Eligibility.RESIDENTS, residence_area="Tradate, Venegono Superiore"
    )
    db.commit()
    page = client.get(new_url(m)).get_data(as_text=True)
    assert 'name="municipality"' in page and "Venegono Superiore" in page
    response = apply(client, m, municipality="Varese")
    assert response.status_code == 200 and count_applications(db) == 0
    application_id = created_id(apply(client, m, municipality="Venegono Superiore"))
    check = client.get(f"/worker/applications/{application_id}/check").get_data(as_text=True)
    assert "Venegono Superiore" in check and "#municipality" in check
    edit = client.get(f"/worker/applications/{application_id}/edit").get_data(as_text=True)
    assert '<option selected value="Venegono Superiore">' in edit
    client.post(f"/worker/applications/{application_id}/submit")
    assert fresh(db, Application, application_id).status is S.SUBMITTED


def test_a_measure_the_worker_cannot_use_sends_back_with_the_reason(client, db, worker):
    m = current_measure(db)
    db.commit()
    response = client.get(new_url(m), follow_redirects=True)
    assert response.request.path == "/worker/measures"
    assert "Declare where you work first." in response.get_data(as_text=True)
    assert client.get("/worker/applications/new").status_code == 404
    assert client.get("/worker/applications/new?measure=999999").status_code == 404


def test_first_come_measure_is_decided_at_once(client, db, worker):
    m = current_measure(db, allocation=Allocation.FIRST_COME)
    employ(db, worker, m)
    db.commit()
    application_id = created_id(apply(client, m, amount_requested_cents="300"))
    response = client.post(f"/worker/applications/{application_id}/submit", follow_redirects=True)
    page = response.get_data(as_text=True)
    application = fresh(db, Application, application_id)
    assert application.status is S.APPROVED
    assert "Approved: your voucher is ready." in page
    assert f'href="/worker/vouchers/{application.voucher.id}"' in page
    assert "€300.00" in page
    assert "Approved automatically: voucher of €300.00." in page
    assert "Withdraw the application" not in page


def test_first_come_waiting_list_when_the_budget_is_used_up(client, db, worker):
    m = current_measure(db, allocation=Allocation.FIRST_COME, allocated_cents=200_00)
    employ(db, worker, m)
    db.commit()
    application_id = created_id(apply(client, m, amount_requested_cents="300"))
    page = client.post(
        f"/worker/applications/{application_id}/submit", follow_redirects=True
    ).get_data(as_text=True)
    assert fresh(db, Application, application_id).status is S.WAITLISTED
    assert "it is on the waiting list" in page and "Put on the waiting list." in page


def test_pending_employment_waits_for_hr(client, db, worker):
    m = current_measure(db)
    employ(db, worker, m, EmploymentStatus.AWAITING_HR)
    db.commit()
    application_id = created_id(apply(client, m))
    page = client.post(
        f"/worker/applications/{application_id}/submit", follow_redirects=True
    ).get_data(as_text=True)
    assert fresh(db, Application, application_id).status is S.AWAITING_HR
    assert "It waits for the HR office of" in page


def test_submit_refused_when_no_longer_eligible(client, db, worker, measure):
    application_id = created_id(apply(client, measure))
    application = fresh(db, Application, application_id)
    application.employment.status = EmploymentStatus.DENIED
    db.commit()
    response = client.post(f"/worker/applications/{application_id}/submit", follow_redirects=True)
    assert response.request.path == f"/worker/applications/{application_id}/check"
    assert "did not confirm that you work there" in response.get_data(as_text=True)
    assert fresh(db, Application, application_id).status is S.DRAFT


# --- withdrawing and illegal transitions ------------------------------------------------


def test_withdraw_then_withdraw_again_shows_the_reason(client, db, worker, measure):
    application_id = created_id(apply(client, measure))
    client.post(f"/worker/applications/{application_id}/submit")
    response = client.post(f"/worker/applications/{application_id}/withdraw", follow_redirects=True)
    assert "Your application has been withdrawn." in response.get_data(as_text=True)
    assert fresh(db, Application, application_id).status is S.WITHDRAWN
    response = client.post(f"/worker/applications/{application_id}/withdraw", follow_redirects=True)
    assert response.status_code == 200
    assert "can no longer be withdrawn: it is withdrawn" in response.get_data(as_text=True)
    assert fresh(db, Application, application_id).status is S.WITHDRAWN


def test_withdrawing_an_approved_application_is_refused(client, db, worker, measure):
    application_id = created_id(apply(client, measure))
    client.post(f"/worker/applications/{application_id}/submit")
    applications.approve(db, fresh(db, Application, application_id), None)
    db.commit()
    response = client.post(f"/worker/applications/{application_id}/withdraw", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "can no longer be withdrawn: it is approved" in page
    assert fresh(db, Application, application_id).status is S.APPROVED


def test_a_draft_can_be_discarded(client, db, worker, measure):
    application_id = created_id(apply(client, measure))
    assert "Discard this draft" in client.get(
        f"/worker/applications/{application_id}/check"
    ).get_data(as_text=True)
    client.post(f"/worker/applications/{application_id}/withdraw")
    assert fresh(db, Application, application_id).status is S.WITHDRAWN
    assert created_id(apply(client, measure))  # and they can start again


def test_another_worker_gets_404_and_nothing_changes(client, db, auth, worker, measure):
    application_id = created_id(apply(client, measure, notes="Mine"))
    auth.logout()
    intruder = factories.user(db, Role.WORKER)
    employ(db, intruder, measure)
    db.commit()
    auth.login(intruder)
    base = f"/worker/applications/{application_id}"
    for path in (base, f"{base}/check", f"{base}/edit"):
        assert client.get(path).status_code == 404, path
    for path in (f"{base}/edit", f"{base}/submit", f"{base}/withdraw"):
        response = client.post(path, data={"dependant": "0", "amount_requested_cents": "1"})
        assert response.status_code == 404, path
    assert "Mine" not in client.get("/worker/applications").get_data(as_text=True)
    application = fresh(db, Application, application_id)
    assert (application.status, application.amount_requested_cents, application.notes) == (
        S.DRAFT,
        150_00,
        "Mine",
    )


# --- on a phone -------------------------------------------------------------------------


@pytest.mark.browser
def test_pages_fit_a_phone_screen(db, live_server, browser):
    """At 360 px "Per me" and every application page fit without sideways scroll."""
    worker = factories.user(db, Role.WORKER)
    m = current_measure(
        db,
        title="Voucher per servizi di conciliazione e assistenza familiare straordinaria",
        kind=MeasureKind.CHILDCARE,
        documents_required="Fattura quietanzata dell'asilo nido\nAttestazione ISEE",
        cap_per_voucher_cents=2_000_00,
        cap_per_worker_year_cents=None,
    )
    current_measure(db, title="Misura non ancora aperta", opens_on=clock.today() + timedelta(10))
    employ(db, worker, m)
    child = factories.child(db, worker)
    draft = applications.start(
        db, worker, m, dependant=child, amount_requested_cents=1_234_00, notes="x" * 300
    )
    approved = applications.start(
        db, worker, current_measure(db, m.project), dependant=None, amount_requested_cents=400_00
    )
    applications.submit(db, approved, worker)
    applications.approve(db, approved, None)
    db.commit()
    page = browser.new_page(viewport={"width": 360, "height": 740})
    try:
        browser_login(page, live_server, worker)
        for path in (
            "/worker/measures",
            "/worker/applications",
            new_url(m),
            f"/worker/applications/{draft.id}/check",
            f"/worker/applications/{draft.id}/edit",
            f"/worker/applications/{draft.id}",
            f"/worker/applications/{approved.id}",
        ):
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, (path, width)
            heights = page.eval_on_selector_all(
                "main .btn", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            assert heights and all(h >= 44 for h in heights), (path, heights)
    finally:
        page.close()


class _FrozenClock:
    """``datetime`` for voucher.services.clock, stopped at one moment (given in UTC)."""

    def __init__(self, moment):
        self.moment = moment

    def now(self, tz=None):
        return self.moment.astimezone(tz)


@pytest.mark.parametrize(
    ("utc_time", "italian_day_open"),
    [
        # 23:30 in Italy on the closing day (summer time, UTC+2): still open.
        ((21, 30), True),
        # 00:30 in Italy the day after, while a server on UTC is still on the closing day.
        ((22, 30), False),
    ],
)
def test_a_call_closes_at_midnight_in_italy_whatever_the_servers_clock(
    client, db, worker, monkeypatch, utc_time, italian_day_open
):
    closing_day = date(2026, 7, 15)
    moment = datetime(2026, 7, 15, *utc_time, tzinfo=UTC)
    monkeypatch.setattr(clock, "datetime", _FrozenClock(moment))
    m = current_measure(db, opens_on=closing_day - timedelta(days=30), closes_on=closing_day)
    employ(db, worker, m)
    db.commit()
    response = client.get(new_url(m), follow_redirects=True)
    page = response.get_data(as_text=True)
    if italian_day_open:
        assert response.request.path == "/worker/applications/new"
        assert "Applications closed" not in page
    else:
        assert response.request.path == "/worker/measures"
        assert "Applications closed on July 15, 2026." in page
