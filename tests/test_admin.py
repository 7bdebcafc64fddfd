"""The admin area, driven through the HTTP client as an administrator would use it.

Assertions read the committed database state (after a rollback of the test's session,
which the views share), so a view that forgot to commit, or saved despite an error,
fails here.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests import factories
from voucher.blueprints.admin.forms import parse_euros
from voucher.models import (
    Alliance,
    AuditEvent,
    LedgerEntry,
    Measure,
    MeasureKind,
    Network,
    Organisation,
    OrganisationKind,
    Programme,
    Project,
    Role,
    User,
)
from voucher.services import accounts

VALID_IBAN = "IT60 X054 2811 1010 0000 0123 456"


# --- helpers and fixtures ---------------------------------------------------------------


@pytest.fixture
def admin(client, login_as):
    """An administrator signed in, with pages in English so messages are stable."""
    client.get("/?lang=en")
    return login_as(Role.ADMIN)


def committed(db, stmt):
    """Run ``stmt`` against what is committed, not what the session still holds."""
    db.rollback()
    return db.scalars(stmt).all()


def count(db, model) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(model))


def audit_actions(db, entity_type: str, entity_id: int) -> list[str]:
    return committed(
        db,
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.id),
    )


def page_text(response) -> str:
    return response.get_data(as_text=True)


def field_error(html: str, field: str) -> str:
    """The error shown under a form field, or "" if there is none."""
    match = re.search(rf'id="{field}-error">([^<]*)<', html)
    return match.group(1) if match else ""


def programme_data(**overrides) -> dict:
    data = {
        "name": f"Piano territoriale {factories.seq()}",
        "legal_reference": "DGR n. 2398 del 11/11/2019",
        "description": "",
        "starts_on": "2024-01-01",
        "ends_on": "2027-12-31",
        "max_regional_share_pct": "70",
        "regional_cap_cents": "",
    }
    return data | overrides


def organisation_data(**overrides) -> dict:
    data = {
        "name": f"Cooperativa {factories.seq()}",
        "kind": "cooperative",
        "size": "small",
        "tax_code": factories.vat(),
        "vat_number": "",
        "municipality": "Tradate",
        "email": "",
        "iban": "",
        "bic": "",
    }
    return data | overrides


def project_data(alliance, programme, total: str, regional: str, cofunding: str) -> dict:
    return {
        "alliance": str(alliance.id),
        "programme": str(programme.id),
        "title": f"Conciliare a Tradate {factories.seq()}",
        "code": "",
        "description": "",
        "starts_on": "2024-01-01",
        "ends_on": "2025-12-31",
        "total_cents": total,
        "regional_share_cents": regional,
        "cofunding_cents": cofunding,
    }


def measure_data(project, **overrides) -> dict:
    data = {
        "project": str(project.id),
        "kind": "summer_camp",
        "title": f"Centri estivi {factories.seq()}",
        "description": "",
        "documents_required": "Invoice of the camp",
        "eligibility": "partner_employees",
        "residence_area": "",
        "reimbursement_rate_pct": "80",
        "cap_per_voucher_cents": "300",
        "cap_per_worker_year_cents": "",
        "opens_on": "2024-03-01",
        "closes_on": "2024-09-30",
        "allocation": "first_come",
        "allocated_cents": "1.500,00",
    }
    return data | overrides


def user_data(**overrides) -> dict:
    data = {
        "email": f"staff{factories.seq()}@example.org",
        "first_name": "Anna",
        "last_name": "Bianchi",
        "role": "worker",
        "password": "a-long-enough-password",
        "tax_code": "",
        "organisation": "",
        "alliance": "",
        "network": "",
        "active": "y",
    }
    return data | overrides


# --- euro amounts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.234,56", 123_456),
        ("1234,56", 123_456),
        ("1234.56", 123_456),
        ("1,234.56", 123_456),
        ("1.234.567,89", 123_456_789),
        ("1.234", 123_400),
        ("50.000", 5_000_000),
        ("€ 1.234,5", 123_450),
        ("EUR 12", 1_200),
        ("12.5", 1_250),
        ("0,05", 5),
        (" 7,00 ", 700),
        ("1\u00a0234,56", 123_456),
        ("-3,50", -350),
        ("0", 0),
    ],
)
def test_parse_euros_reads_italian_and_plain_amounts(text, cents):
    assert parse_euros(text) == cents


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "12 euro",
        "1e3",
        "1.2.3",
        "1,2,3",
        "12.34,5",
        "1,234,56",
        ",",
        "12,",
        "--5",
    ],
)
def test_parse_euros_refuses_what_is_not_an_amount(text):
    with pytest.raises(ValueError, match="Enter an amount in euros"):
        parse_euros(text)


@pytest.mark.parametrize("text", ["1,234", "12,345", "0.001"])
def test_parse_euros_refuses_fractions_of_a_cent(text):
    with pytest.raises(ValueError, match="at most two decimals"):
        parse_euros(text)


def test_parse_euros_refuses_absurd_amounts():
    with pytest.raises(ValueError, match="too large"):
        parse_euros("1.000.000.000.000")


def test_unparsable_amount_is_shown_on_the_form_and_nothing_is_saved(client, db, admin):
    data = programme_data(regional_cap_cents="50 thousand")
    response = client.post("/admin/programmes/new", data=data)
    html = page_text(response)
    assert response.status_code == 200
    assert "Enter an amount in euros" in field_error(html, "regional_cap_cents")
    # What the admin typed is kept, so they can correct it.
    assert 'value="50 thousand"' in html
    assert f'value="{data["name"]}"' in html
    assert count(db, Programme) == 0


# --- creating each kind of thing ----------------------------------------------------------


def test_admin_creates_a_programme(client, db, admin):
    data = programme_data(regional_cap_cents="50.000,00")
    response = client.post("/admin/programmes/new", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/programmes")
    [programme] = committed(db, select(Programme))
    assert programme.name == data["name"]
    assert programme.regional_cap_cents == 5_000_000
    assert programme.max_regional_share_pct == 70
    assert programme.starts_on == date(2024, 1, 1)
    listing = page_text(client.get("/admin/programmes"))
    assert data["name"] in listing
    assert "€50,000.00" in listing
    assert audit_actions(db, "programmes", programme.id) == ["programme.create"]
    event = committed(db, select(AuditEvent).where(AuditEvent.action == "programme.create"))[0]
    assert event.actor_id == admin.id


def test_admin_creates_a_network(client, db, admin):
    data = {"name": "Rete Insubria", "ats_name": "ATS dell'Insubria", "territory": "Varese"}
    assert client.post("/admin/networks/new", data=data).status_code == 302
    [network] = committed(db, select(Network))
    assert (network.name, network.ats_name, network.territory) == (
        "Rete Insubria",
        "ATS dell'Insubria",
        "Varese",
    )
    assert "Rete Insubria" in page_text(client.get("/admin/networks"))
    assert audit_actions(db, "networks", network.id) == ["network.create"]


def test_admin_creates_an_organisation(client, db, admin):
    data = organisation_data(
        name="Comune di Tradate",
        kind="public_body",
        tax_code=factories.vat(),
        vat_number="",
        iban=VALID_IBAN,
        bic="BPMOIT22XXX",
        email="protocollo@comune.tradate.example.org",
    )
    assert client.post("/admin/organisations/new", data=data).status_code == 302
    [org] = committed(db, select(Organisation))
    assert org.kind is OrganisationKind.PUBLIC_BODY
    assert org.tax_code == data["tax_code"]
    assert org.iban == "IT60X0542811101000000123456"
    assert org.vat_number is None
    assert "Comune di Tradate" in page_text(client.get("/admin/organisations"))
    assert audit_actions(db, "organisations", org.id) == ["organisation.create"]


def test_admin_creates_an_alliance_with_its_partners(client, db, admin):
    network = factories.network(db)
    lead = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    partners = [factories.organisation(db) for _ in range(3)]
    db.commit()
    data = {
        "network": str(network.id),
        "name": "Alleanza di Tradate",
        "lead": str(lead.id),
        # The lead need not be ticked again among the partners.
        "partners": [str(p.id) for p in partners],
    }
    response = client.post("/admin/alliances/new", data=data)
    assert response.status_code == 302, field_error(page_text(response), "partners")
    [alliance] = committed(db, select(Alliance))
    assert alliance.lead_id == lead.id
    assert alliance.network_id == network.id
    assert {p.organisation_id for p in alliance.partnerships} == {lead.id} | {
        p.id for p in partners
    }
    listing = page_text(client.get("/admin/alliances"))
    assert "Alleanza di Tradate" in listing
    assert lead.name in listing
    assert audit_actions(db, "alliances", alliance.id) == ["alliance.create"]


def test_admin_creates_a_project(client, db, admin):
    alliance = factories.alliance(db)
    programme = factories.programme(db, cap_cents=5_000_000)
    db.commit()
    data = project_data(alliance, programme, "100.000", "50.000,00", "50000")
    response = client.post("/admin/projects/new", data=data)
    assert response.status_code == 302, page_text(response)
    [project] = committed(db, select(Project))
    assert (project.total_cents, project.regional_share_cents, project.cofunding_cents) == (
        10_000_000,
        5_000_000,
        5_000_000,
    )
    assert project.alliance_id == alliance.id
    assert project.programme_id == programme.id
    assert data["title"] in page_text(client.get("/admin/projects"))
    assert audit_actions(db, "projects", project.id) == ["project.create"]


def test_admin_creates_a_measure_with_its_budget(client, db, admin):
    project = factories.project(db)
    db.commit()
    data = measure_data(project)
    response = client.post("/admin/measures/new", data=data)
    assert response.status_code == 302, page_text(response)
    [measure] = committed(db, select(Measure))
    assert measure.kind is MeasureKind.SUMMER_CAMP
    assert measure.cap_per_voucher_cents == 30_000
    assert measure.cap_per_worker_year_cents is None
    assert measure.four_eyes_threshold_cents is None
    assert measure.budget_line.allocated_cents == 150_000
    [entry] = committed(db, select(LedgerEntry))
    assert entry.amount_cents == 150_000
    listing = page_text(client.get("/admin/measures"))
    assert data["title"] in listing
    assert "€1,500.00" in listing
    assert audit_actions(db, "measures", measure.id) == ["measure.create"]


def test_admin_sets_a_four_eyes_threshold_on_a_measure(client, db, admin):
    project = factories.project(db)
    db.commit()
    data = {**measure_data(project), "four_eyes_threshold_cents": "250,00"}
    assert client.post("/admin/measures/new", data=data).status_code == 302
    [measure] = committed(db, select(Measure))
    assert measure.four_eyes_threshold_cents == 250_00


def test_admin_creates_a_scoped_account_that_can_sign_in(client, db, auth, admin):
    alliance = factories.alliance(db)
    other_org = factories.organisation(db)
    db.commit()
    # An organisation chosen by mistake is dropped: an operator is scoped to an alliance.
    data = user_data(
        role="operator",
        alliance=str(alliance.id),
        organisation=str(other_org.id),
        email="Operatrice@Example.org",
    )
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 302, page_text(response)
    [user] = committed(db, select(User).where(User.email == "operatrice@example.org"))
    assert user.role is Role.OPERATOR
    assert user.alliance_id == alliance.id
    assert user.organisation_id is None
    assert user.active
    assert "operatrice@example.org" in page_text(client.get("/admin/users"))
    assert audit_actions(db, "users", user.id) == ["user.create"]
    auth.logout()
    assert auth.login("operatrice@example.org", data["password"]).status_code == 302


def test_audit_page_lists_the_latest_events_with_their_actor(client, db, admin):
    client.post("/admin/networks/new", data={"name": "Rete A", "ats_name": "ATS A"})
    client.post("/admin/networks/new", data={"name": "Rete B", "ats_name": "ATS B"})
    html = page_text(client.get("/admin/audit"))
    assert html.index("network.create") < html.index("user.login")
    assert admin.email in html
    rows = re.findall(r"<code>([a-z_.]+)</code>", html)
    assert rows[:3] == ["network.create", "network.create", "user.login"]


# --- editing ------------------------------------------------------------------------------


def test_edit_form_shows_current_values(client, db, admin):
    measure = factories.measure(db, allocated_cents=100_000)
    db.commit()
    html = page_text(client.get(f"/admin/measures/{measure.id}/edit?lang=it"))
    assert 'value="1.000,00"' in html  # the allocation, in Italian
    assert 'value="500,00"' in html  # the cap per voucher
    assert f'<option selected value="{measure.project_id}">' in html


def test_admin_edits_an_organisation(client, db, admin):
    org = factories.organisation(db, name="Old name")
    db.commit()
    data = organisation_data(name="New name", kind="association", tax_code=org.tax_code)
    assert client.post(f"/admin/organisations/{org.id}/edit", data=data).status_code == 302
    [stored] = committed(db, select(Organisation))
    assert stored.id == org.id
    assert stored.name == "New name"
    assert stored.kind is OrganisationKind.ASSOCIATION
    assert audit_actions(db, "organisations", org.id) == [
        "organisation.create",
        "organisation.update",
    ]


def test_admin_raises_a_measures_allocation(client, db, admin):
    measure = factories.measure(db, allocated_cents=100_000)
    db.commit()
    data = measure_data(measure.project, title=measure.title, allocated_cents="2.500")
    response = client.post(f"/admin/measures/{measure.id}/edit", data=data)
    assert response.status_code == 302, page_text(response)
    [stored] = committed(db, select(Measure))
    assert stored.budget_line.allocated_cents == 250_000
    amounts = committed(db, select(LedgerEntry.amount_cents).order_by(LedgerEntry.id))
    assert amounts == [100_000, 150_000]
    assert audit_actions(db, "measures", measure.id)[-1] == "measure.update"


def test_editing_a_user_without_password_keeps_it(client, db, admin):
    user = factories.user(db, Role.HR)
    db.commit()
    old_hash = user.password_hash
    data = user_data(
        email=user.email,
        first_name="Renamed",
        last_name=user.last_name,
        role="hr",
        password="",
        organisation=str(user.organisation_id),
        active="",
    )
    response = client.post(f"/admin/users/{user.id}/edit", data=data)
    assert response.status_code == 302, page_text(response)
    [stored] = committed(db, select(User).where(User.id == user.id))
    assert stored.first_name == "Renamed"
    assert stored.password_hash == old_hash
    assert not stored.active  # the unticked checkbox suspends the account


# --- refusals: a clear message and nothing saved ----------------------------------------


def _bad_vat() -> str:
    good = factories.vat()
    return good[:-1] + str((int(good[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tax_code", "ABC123", "not a valid codice fiscale"),
        ("vat_number", "bad", "not a valid partita IVA"),
        ("iban", "IT00 X054 2811 1010 0000 0123 456", "not a valid IBAN"),
    ],
)
def test_organisation_with_invalid_identifier_is_refused(client, db, admin, field, value, message):
    data = organisation_data(**{field: value})
    response = client.post("/admin/organisations/new", data=data)
    html = page_text(response)
    assert response.status_code == 200
    assert message in field_error(html, field)
    assert data["name"] in html
    assert count(db, Organisation) == 0


def test_partita_iva_with_wrong_check_digit_is_refused(client, db, admin):
    response = client.post(
        "/admin/organisations/new", data=organisation_data(vat_number=_bad_vat())
    )
    assert "not a valid partita IVA" in field_error(page_text(response), "vat_number")
    assert count(db, Organisation) == 0


def _alliance_post(network, lead, partners) -> dict:
    return {
        "network": str(network.id),
        "name": f"Alleanza {factories.seq()}",
        "lead": str(lead.id),
        "partners": [str(p.id) for p in partners],
    }


def test_alliance_lead_must_be_a_public_body(client, db, admin):
    network = factories.network(db)
    company = factories.organisation(db, OrganisationKind.COMPANY)
    public = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    others = [factories.organisation(db) for _ in range(3)]
    db.commit()
    response = client.post(
        "/admin/alliances/new", data=_alliance_post(network, company, [public, *others])
    )
    assert response.status_code == 200
    assert "must be a public body" in field_error(page_text(response), "lead")
    assert count(db, Alliance) == 0


def test_alliance_needs_four_partners(client, db, admin):
    network = factories.network(db)
    lead = factories.organisation(db, OrganisationKind.PUBLIC_BODY)
    others = [factories.organisation(db) for _ in range(2)]
    db.commit()
    response = client.post("/admin/alliances/new", data=_alliance_post(network, lead, others))
    html = page_text(response)
    assert response.status_code == 200
    assert "at least 4 partners" in field_error(html, "partners")
    # The ticked partners stay ticked.
    assert all(re.search(rf'checked[^>]*value="{o.id}"', html) for o in others)
    assert count(db, Alliance) == 0


def test_project_regional_share_over_70_percent_is_refused(client, db, admin):
    alliance = factories.alliance(db)
    programme = factories.programme(db)
    db.commit()
    data = project_data(alliance, programme, "100.000", "80.000", "20.000")
    response = client.post("/admin/projects/new", data=data)
    assert response.status_code == 200
    assert "cannot exceed 70%" in field_error(page_text(response), "regional_share_cents")
    assert count(db, Project) == 0


def test_project_over_the_programme_cap_is_refused(client, db, admin):
    alliance = factories.alliance(db)
    programme = factories.programme(db, cap_cents=5_000_000)
    db.commit()
    # 30% regional share is fine, but EUR 60,000 is over the EUR 50,000 cap.
    data = project_data(alliance, programme, "200.000", "60.000", "140.000")
    response = client.post("/admin/projects/new", data=data)
    error = field_error(page_text(response), "regional_share_cents")
    assert response.status_code == 200
    assert "cannot exceed €50,000.00 per project" in error
    assert count(db, Project) == 0


def test_duplicate_user_email_is_refused(client, db, admin):
    existing = factories.user(db, Role.WORKER)
    db.commit()
    before = count(db, User)
    data = user_data(
        email=existing.email.upper(), role="worker", tax_code=factories.person_tax_code()
    )
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 200
    assert "already exists" in field_error(page_text(response), "email")
    assert count(db, User) == before


def test_new_account_needs_a_password_and_a_scope(client, db, admin):
    response = client.post("/admin/users/new", data=user_data(role="hr", password=""))
    html = page_text(response)
    assert "Set an initial password" in field_error(html, "password")
    assert "needs a scope" in field_error(html, "organisation")
    assert committed(db, select(User).where(User.role == Role.HR)) == []


def test_cutting_an_allocation_below_what_is_reserved_is_refused(client, db, admin):
    from voucher.services import budget

    measure = factories.measure(db, allocated_cents=100_000)
    budget.reserve(db, measure.budget_line.id, 80_000, None, ("application", 1))
    db.commit()
    data = measure_data(measure.project, title="Changed", allocated_cents="500")
    response = client.post(f"/admin/measures/{measure.id}/edit", data=data)
    assert response.status_code == 200
    assert "cannot go below what is already reserved" in page_text(response)
    [stored] = committed(db, select(Measure))
    assert stored.title == measure.title
    assert stored.budget_line.allocated_cents == 100_000


# --- lists: paging and search -------------------------------------------------------------


def _edit_links(html: str, things: str) -> list[str]:
    return re.findall(rf'href="/admin/{things}/(\d+)/edit"', html)


def test_organisations_are_paged_and_searchable(client, db, admin):
    for _ in range(52):
        factories.organisation(db)
    special = factories.organisation(db, name="Zeta 100% Solidale")
    db.commit()
    first = _edit_links(page_text(client.get("/admin/organisations")), "organisations")
    second = _edit_links(page_text(client.get("/admin/organisations?page=2")), "organisations")
    assert len(first) == 50
    assert len(second) == 3
    assert not set(first) & set(second)
    found = page_text(client.get("/admin/organisations", query_string={"q": "100% sol"}))
    assert _edit_links(found, "organisations") == [str(special.id)]
    # "%" is a literal character, not a wildcard.
    nothing = page_text(client.get("/admin/organisations", query_string={"q": "%"}))
    assert _edit_links(nothing, "organisations") == [str(special.id)]


def test_users_are_searchable_by_email_and_name(client, db, admin):
    target = factories.user(db, Role.WORKER, email="giulia.rossi@example.org")
    factories.user(db, Role.WORKER)
    db.commit()
    by_email = page_text(client.get("/admin/users?q=GIULIA.ROSSI"))
    assert _edit_links(by_email, "users") == [str(target.id)]
    by_name = page_text(client.get(f"/admin/users?q={target.last_name}"))
    assert _edit_links(by_name, "users") == [str(target.id)]


def test_home_links_every_list_with_its_count(client, db, admin):
    factories.network(db)
    db.commit()
    html = page_text(client.get("/admin/"))
    for things in ("programmes", "networks", "organisations", "alliances", "projects"):
        assert f'href="/admin/{things}"' in html
    assert 'href="/admin/measures"' in html
    assert 'href="/admin/users"' in html
    assert 'href="/admin/audit"' in html
    assert re.search(r'href="/admin/networks">\s*<span[^>]*>Networks</span>\s*<span[^>]*>1<', html)


# --- who may come in ----------------------------------------------------------------------


def _admin_urls(app, method: str = "GET") -> list[str]:
    return sorted(
        {
            re.sub(r"<int:\w+>", "1", rule.rule)
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("admin.") and method in rule.methods
        }
    )


def test_every_admin_page_is_404_for_other_roles(app, client, db, login_as):
    urls = _admin_urls(app)
    assert "/admin/organisations/1/edit" in urls
    assert "/admin/audit" in urls
    factories.organisation(db)  # so that id 1 exists
    db.commit()
    form_urls = _admin_urls(app, "POST")
    assert "/admin/users/new" in form_urls
    for role in (Role.OPERATOR, Role.WORKER, Role.NETWORK):
        login_as(role)
        for url in urls:
            assert client.get(url).status_code == 404, (role, url)
        for url in form_urls:
            assert client.post(url, data={"name": "x"}).status_code == 404, (role, url)
        client.get("/auth/logout")
    for model in (Programme, Network, Organisation, Alliance):
        assert committed(db, select(model).where(model.name == "x")) == []


def test_admin_pages_send_anonymous_visitors_to_login(app, client):
    for url in _admin_urls(app):
        response = client.get(url)
        assert response.status_code == 302
        assert "/auth/login" in response.headers["Location"]


def test_unknown_ids_are_404(app, client, admin):
    for url in _admin_urls(app):
        if "/1/" in url:
            missing = url.replace("/1/", "/999999/")
            assert client.get(missing).status_code == 404, missing


def test_every_admin_page_renders(app, client, db, admin):
    measure = factories.measure(db)
    user = factories.user(db, Role.PROVIDER)
    db.commit()
    ids = {
        "programmes": measure.project.programme_id,
        "networks": measure.project.alliance.network_id,
        "organisations": measure.project.alliance.lead_id,
        "alliances": measure.project.alliance_id,
        "projects": measure.project_id,
        "measures": measure.id,
        "users": user.id,
    }
    for url in _admin_urls(app):
        things = url.split("/")[2] if url.count("/") > 2 else ""
        url = url.replace("/1/", f"/{ids[things]}/") if "/1/" in url else url
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'href="/auth/logout"' in page_text(response)


def test_password_is_hashed_not_stored(client, db, admin):
    data = user_data()
    data["tax_code"] = factories.person_tax_code()
    assert client.post("/admin/users/new", data=data).status_code == 302
    [user] = committed(db, select(User).where(User.email == data["email"]))
    assert data["password"] not in user.password_hash
    assert accounts.authenticate(db, data["email"], data["password"]) is not None
