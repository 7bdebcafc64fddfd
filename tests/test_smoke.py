"""The app starts, serves the home page in Italian and answers the health check."""

from voucher.models import Role


def test_home_page_in_italian_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    assert '<html lang="it">' in response.get_data(as_text=True)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_each_role_reaches_its_area(client, login_as):
    for role, path in [
        (Role.WORKER, "/worker/"),
        (Role.HR, "/hr/"),
        (Role.OPERATOR, "/operator/"),
        (Role.NETWORK, "/network/"),
        (Role.PROVIDER, "/provider/"),
        (Role.ADMIN, "/admin/"),
    ]:
        login_as(role)
        page = client.get(path)
        assert page.status_code == 200, (role, page.status_code)
        assert 'href="/auth/logout"' in page.get_data(as_text=True)
        client.get("/auth/logout")


def test_forms_render_no_placeholder_attributes(client):
    html = client.get("/auth/register").get_data(as_text=True)
    assert '="None"' not in html
    assert 'autocomplete="email"' in html


def test_privacy_notice_is_linked_from_registration(client):
    register = client.get("/auth/register").get_data(as_text=True)
    assert 'href="/privacy"' in register
    notice = client.get("/privacy")
    assert notice.status_code == 200
    assert "Garante per la protezione dei dati personali" in notice.get_data(as_text=True)
