"""Outgoing e-mail behind a backend switch: an outbox table in dev/test, SMTP in production.

``send_mail`` is called inside a request's transaction; the e-mail leaves only once that
transaction commits, as a background job (``voucher.jobs``): the answer to the person does
not wait for the mail server, and nothing is sent about a change that was rolled back.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy.orm import Session

from voucher import jobs
from voucher.models import OutboxEmail

log = logging.getLogger(__name__)


def send_mail(session: Session, recipient: str, subject: str, body: str) -> None:
    """Send an e-mail through the configured backend once ``session`` commits."""
    jobs.after_commit(session, deliver, recipient, subject, body)


def deliver(recipient: str, subject: str, body: str) -> None:
    """Hand one e-mail to the configured backend (a background job)."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "outbox":
        from voucher.extensions import db

        # Its own session: this runs after the request's transaction has ended.
        with Session(db.engine) as session:
            session.add(OutboxEmail(recipient=recipient, subject=subject, body=body))
            session.commit()
        log.info("mail stored in outbox")
        return
    if backend != "smtp":
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    cfg = current_app.config
    with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        smtp.send_message(message)
    log.info("mail sent")
