"""The helpers that make what pages repeat once (voucher/templating.py): the same output
as rendering it each time, in each language, role and mount point."""

from __future__ import annotations

import pytest
from flask import url_for
from flask_babel import force_locale

from tests import factories
from voucher import templating
from voucher.models import ApplicationStatus, ClaimStatus, Role


@pytest.mark.parametrize("script_root", ["", "/voucher"])
def test_row_links_are_the_addresses_url_for_builds(app, script_root):
    with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": script_root}):
        for endpoint, parameter in [
            ("worker.claim", "claim_id"),
            ("worker.voucher", "voucher_id"),
            ("operator.claim", "claim_id"),
            ("network.claim", "claim_id"),
        ]:
            link = templating.row_link(endpoint, parameter)
            for row_id in (1, 7, 42, 10_000, 987_654_321):
                assert link(row_id) == url_for(endpoint, **{parameter: row_id})
        assert templating.row_link("worker.claim", "claim_id")(3).startswith(script_root + "/")


def test_a_row_link_refuses_an_endpoint_without_that_number(app):
    with app.test_request_context("/"), pytest.raises(ValueError, match="claim_id"):
        templating.row_link("worker.home", "claim_id")


def test_badges_follow_the_language_and_escape_nothing_twice(app):
    with app.test_request_context("/"):
        with force_locale("it"):
            assert templating.claim_badge(ClaimStatus.NEEDS_INFO) == (
                '<span class="badge bg-warning text-dark">Servono informazioni</span>'
            )
            italian = str(templating.application_next(ApplicationStatus.AWAITING_HR))
        with force_locale("en"):
            assert templating.claim_badge(ClaimStatus.PAID) == (
                '<span class="badge bg-success">Paid</span>'
            )
            english = str(templating.application_next(ApplicationStatus.AWAITING_HR))
        assert english == "Your employer&#39;s HR office must confirm that you work there."
        assert italian != english
    for status in ClaimStatus:
        assert status in templating._CLAIM_BADGES and status in templating._CLAIM_NEXT
    for status in ApplicationStatus:
        assert status in templating._APPLICATION_BADGES and status in templating._APPLICATION_NEXT


def test_the_menu_is_each_roles_own_in_each_language(client, db, auth):
    """Kept per role and language: a worker after an operator (or a visitor) in the same
    process sees the worker's menu, in their language."""
    assert 'href="/auth/register"' in client.get("/auth/login").get_data(as_text=True)
    operator = factories.user(db, Role.OPERATOR)
    worker = factories.user(db, Role.WORKER)
    db.commit()
    auth.login(operator)
    page = client.get("/operator/claims?lang=en").get_data(as_text=True)
    assert 'href="/operator/payouts"' in page and "Sign out" in page
    auth.logout()
    auth.login(worker)
    english = client.get("/worker/?lang=en").get_data(as_text=True)
    italian = client.get("/worker/?lang=it").get_data(as_text=True)
    for page in (english, italian):
        assert 'href="/worker/claims"' in page and 'href="/operator/payouts"' not in page
    assert "Sign out" in english and "Esci" in italian


def test_every_template_compiles_before_the_workers_fork(app):
    """What gunicorn's master runs before forking (gunicorn.conf.py): every template is
    compiled and kept, so no worker compiles one on a request."""
    from pathlib import Path

    folder = Path(app.root_path) / "templates"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert templating.prepare(app) == len(files)
    cached = {name for (_loader, name) in app.jinja_env.cache}
    assert files <= cached
