"""Who sees what: the scoping helper, and 404 for what a person may not see."""

from __future__ import annotations

from sqlalchemy import select

from tests import factories
from voucher.models import Alliance, Dependant, Employment, Organisation, Project, Role, User
from voucher.services.access import visible


def _ids(db, model, user):
    return set(db.scalars(visible(model, user, select(model.id))))


def test_operator_sees_only_their_alliance(db):
    mine = factories.project(db)
    other = factories.project(db)
    operator = factories.user(db, Role.OPERATOR, all_=mine.alliance)
    assert _ids(db, Project, operator) == {mine.id}
    assert _ids(db, Alliance, operator) == {mine.alliance_id}
    partner_ids = {p.organisation_id for p in mine.alliance.partnerships}
    assert _ids(db, Organisation, operator) == partner_ids
    assert other.alliance_id not in _ids(db, Alliance, operator)


def test_network_officer_sees_every_alliance_of_the_network_only(db):
    net = factories.network(db)
    a1 = factories.project(db, factories.alliance(db, net))
    a2 = factories.project(db, factories.alliance(db, net))
    elsewhere = factories.project(db)
    officer = factories.user(db, Role.NETWORK, net=net)
    assert _ids(db, Project, officer) == {a1.id, a2.id}
    assert elsewhere.id not in _ids(db, Project, officer)


def test_hr_sees_declarations_to_their_organisation_but_no_dependants(db):
    company = factories.organisation(db)
    hr = factories.user(db, Role.HR, org=company)
    worker = factories.user(db, Role.WORKER)
    stranger = factories.user(db, Role.WORKER)
    mine = factories.employment(db, worker, company)
    factories.employment(db, stranger, factories.organisation(db))
    factories.child(db, worker)
    assert _ids(db, Employment, hr) == {mine.id}
    assert _ids(db, User, hr) == {worker.id}
    assert _ids(db, Dependant, hr) == set()


def test_worker_sees_only_their_own_family(db):
    worker = factories.user(db, Role.WORKER)
    other = factories.user(db, Role.WORKER)
    child = factories.child(db, worker)
    factories.child(db, other)
    assert _ids(db, Dependant, worker) == {child.id}
    assert _ids(db, User, worker) == {worker.id}


def test_admin_sees_everything_and_unknown_pairs_see_nothing(db):
    factories.project(db)
    admin = factories.user(db, Role.ADMIN)
    provider = factories.user(db, Role.PROVIDER)
    assert _ids(db, Project, admin)
    assert _ids(db, Project, provider) == set()


def test_home_pages_show_only_what_the_role_may_see(client, db, login_as):
    mine = factories.project(db)
    other = factories.project(db)
    db.commit()
    login_as(Role.OPERATOR, all_=mine.alliance)
    html = client.get("/operator/").get_data(as_text=True)
    assert mine.title in html
    assert other.title not in html


def test_hr_home_lists_pending_declarations_of_their_company_only(client, db, login_as):
    company = factories.organisation(db)
    worker = factories.user(db, Role.WORKER)
    outsider = factories.user(db, Role.WORKER)
    factories.employment(db, worker, company, factories.EmploymentStatus.AWAITING_HR)
    factories.employment(
        db, outsider, factories.organisation(db), factories.EmploymentStatus.AWAITING_HR
    )
    db.commit()
    login_as(Role.HR, org=company)
    html = client.get("/hr/").get_data(as_text=True)
    assert worker.tax_code in html
    assert outsider.tax_code not in html


def test_the_role_statements_see_exactly_what_the_per_person_ones_see(app, db, tmp_path):
    """``visible_to_role`` (built once per role, the person's ids as bind parameters) gives
    the same rows as ``visible`` for every rule, every person of two tenants and an admin,
    including rules about people without an alliance, network or organisation."""
    from tests.test_access_matrix import _strangers, _tenant_a
    from voucher.services.access import RULES, scope_params, visible_to_role

    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    _ids_of_a, people = _tenant_a(db, tmp_path / "uploads")
    everyone = [*people.values(), *_strangers(db), factories.user(db, Role.ADMIN)]
    db.commit()
    models = {model for model, _role in RULES}
    compared = 0
    for person in everyone:
        for model in models:
            expected = _ids(db, model, person)
            stmt = visible_to_role(model, person.role).with_only_columns(model.id)
            assert set(db.scalars(stmt, scope_params(person))) == expected, (model, person.role)
            compared += bool(expected)
    assert compared >= 20  # the comparison is about rows, not only empty sets
