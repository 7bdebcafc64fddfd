"""Notifications: an in-app message plus an e-mail, written in the recipient's language."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import Integer, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from voucher.models import Notification, User
from voucher.models.base import utcnow
from voucher.services.mail import send_mail


def notify(
    session: Session,
    user: User,
    subject: Callable[[], str],
    body: Callable[[], str],
    link: str = "",
) -> Notification:
    """Tell ``user`` something in their own language, in the app and by e-mail.

    ``subject`` and ``body`` are callables (e.g. ``lambda: _("…", x=…)``) so they are
    translated in the recipient's locale, not in the language of whoever caused it.
    """
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        subject_text, body_text = str(subject()), str(body())
    notification = Notification(user_id=user.id, subject=subject_text, body=body_text, link=link)
    session.add(notification)
    send_mail(session, user.email, subject_text, body_text)
    return notification


def unread_count(session: Session, user: User) -> int:
    """How many notifications ``user`` has not opened yet."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
    )


def latest(session: Session, user: User, limit: int = 20) -> list[Notification]:
    """The newest notifications of ``user``."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def latest_and_unread(session: Session, user: User, limit: int) -> tuple[list[Notification], int]:
    """The newest ``limit`` notifications of ``user`` and how many are unread, in one query."""
    rows = session.execute(_latest_and_unread(), {"user_id": user.id, "limit": limit}).all()
    # No notification at all: none unread either.
    return [n for n, _count in rows], int(rows[0][1]) if rows else 0


@cache
def _latest_and_unread() -> Select:
    # Built once: the worker's dashboard runs it on every visit.
    user_id = bindparam("user_id", type_=Integer)
    unread = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    return (
        select(Notification, unread)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(bindparam("limit", type_=Integer))
    )


def mark_all_read(session: Session, user: User) -> None:
    """Mark every notification of ``user`` as read."""
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
