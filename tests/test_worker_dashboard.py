"""The worker's dashboard and messages, through the HTTP client."""

from __future__ import annotations

from sqlalchemy import select

from tests import factories
from voucher.models import (
    Application,
    ApplicationStatus,
    Claim,
    ClaimStatus,
    Notification,
    Role,
)
from voucher.models.base import utcnow
from voucher.services import notifications


def test_dashboard_shows_each_thing_in_progress_with_its_next_step(client, db, login_as):
    worker = login_as(Role.WORKER)
    voucher = factories.voucher(db, worker, amount_cents=300_00)
    voucher.used_cents = 100_00
    voucher.held_cents = 20_00  # a booking of a time-saving service holds it
    db.add(Claim(voucher=voucher, worker=worker, status=ClaimStatus.NEEDS_INFO))
    db.add(
        Claim(
            voucher=voucher,
            worker=worker,
            status=ClaimStatus.PAID,
            requested_cents=100_00,
            approved_cents=100_00,
            paid_at=utcnow(),
        )
    )
    other = factories.measure(db)
    child = factories.child(db, worker)
    db.add(
        Application(
            worker=worker,
            measure=other,
            dependant=child,
            amount_requested_cents=200_00,
            status=ApplicationStatus.AWAITING_HR,
        )
    )
    db.commit()

    html = client.get("/worker/").get_data(as_text=True)
    assert "€\xa0180,00 disponibili su €\xa0300,00" in html  # left on the voucher
    assert f"{other.title}</a> · {child.first_name}</h3>" in html
    assert "Servono informazioni" in html
    assert "ha bisogno di altre informazioni" in html
    assert "In attesa del datore di lavoro" in html
    assert other.title in html
    assert "Pagato finora: €\xa0100,00" in html
    assert f'href="/worker/vouchers/{voucher.id}"' in html
    # No IBAN yet: the worker is told, since reimbursements need it.
    assert 'href="/worker/profile/iban"' in html


def test_dashboard_shows_only_the_workers_own_things(client, db, login_as):
    stranger_voucher = factories.voucher(db)
    db.commit()
    login_as(Role.WORKER)
    html = client.get("/worker/").get_data(as_text=True)
    assert stranger_voucher.measure.title not in html
    assert "Ancora nessun voucher attivo." in html


def test_messages_are_listed_and_marked_read(client, db, login_as):
    worker = login_as(Role.WORKER)
    notifications.notify(
        db, worker, lambda: "Domanda approvata", lambda: "Il voucher è pronto.", "/worker/"
    )
    db.commit()
    assert "Hai 1 nuovo messaggio" in client.get("/worker/").get_data(as_text=True)
    page = client.get("/worker/notifications").get_data(as_text=True)
    assert "Domanda approvata" in page
    assert "Il voucher è pronto." in page
    db.expire_all()
    assert db.scalar(select(Notification.read_at)) is not None
    assert "nuovo messaggio" not in client.get("/worker/").get_data(as_text=True)


def test_notifications_go_out_by_email_in_the_recipients_language(app, db):
    from flask_babel import gettext as _

    from voucher.models import OutboxEmail

    worker = factories.user(db, Role.WORKER)
    worker.locale = "en"
    notifications.notify(db, worker, lambda: _("Messages"), lambda: _("No messages yet."))
    db.commit()
    mail = db.scalar(select(OutboxEmail).where(OutboxEmail.recipient == worker.email))
    assert (mail.subject, mail.body) == ("Messages", "No messages yet.")


def test_other_roles_cannot_see_the_worker_pages(client, login_as):
    login_as(Role.HR)
    for path in ("/worker/", "/worker/notifications", "/worker/measures", "/worker/claims"):
        assert client.get(path).status_code == 404, path
