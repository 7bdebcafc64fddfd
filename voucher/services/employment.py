"""Employment declarations: a worker says where they work, that organisation's HR confirms."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from voucher.models import Employment, EmploymentStatus, Organisation, Partnership, User
from voucher.services import audit, clock
from voucher.services.errors import ValidationFailed

# How far ahead a worker may declare a job that has not started yet (a signed contract).
MAX_DAYS_AHEAD = 30
# Before this a start date is a typing slip (a year of 0202), not a career.
EARLIEST_START = date(1950, 1, 1)


def _is_partner(organisation_id: int):
    return exists().where(Partnership.organisation_id == organisation_id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def partner_organisations(session: Session, q: str = "", limit: int = 50) -> list[Organisation]:
    """Partners of at least one alliance whose name or municipality contains ``q``, by name."""
    stmt = select(Organisation).where(
        Organisation.id.in_(select(Partnership.organisation_id).distinct())
    )
    text = " ".join((q or "").split())
    if text:
        pattern = _like(text)
        stmt = stmt.where(
            or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.municipality.ilike(pattern, escape="\\"),
            )
        )
    return list(session.scalars(stmt.order_by(Organisation.name, Organisation.id).limit(limit)))


def open_declaration(
    session: Session, worker: User, organisation: Organisation, on: date
) -> Employment | None:
    """The worker's declaration at ``organisation`` still awaiting HR or still running."""
    return session.scalar(
        select(Employment)
        .where(
            Employment.worker_id == worker.id,
            Employment.organisation_id == organisation.id,
            or_(
                Employment.status == EmploymentStatus.AWAITING_HR,
                (Employment.status == EmploymentStatus.CONFIRMED)
                & (Employment.ends_on.is_(None) | (Employment.ends_on >= on)),
            ),
        )
        .limit(1)
    )


def declare(
    session: Session,
    worker: User,
    organisation: Organisation | None,
    starts_on: date | None,
    *,
    on: date | None = None,
) -> Employment:
    """Record that ``worker`` works at ``organisation`` since ``starts_on``; HR confirms later."""
    on = on or clock.today()
    errors: dict[str, list] = {}
    # One message for "no such organisation" and "not a partner": nothing to probe.
    if organisation is None or not session.scalar(select(_is_partner(organisation.id))):
        errors.setdefault("organisation", []).append(
            _l(
                "Choose one of the listed organisations: only partners of an alliance "
                "can confirm employment for these vouchers."
            )
        )
    if starts_on is None:
        errors.setdefault("starts_on", []).append(_l("Enter the date you started working there."))
    elif starts_on > on + timedelta(days=MAX_DAYS_AHEAD):
        errors.setdefault("starts_on", []).append(
            _l(
                "The start date can be at most %(days)d days from today: declare the job "
                "closer to your first day.",
                days=MAX_DAYS_AHEAD,
            )
        )
    elif starts_on < EARLIEST_START:
        errors.setdefault("starts_on", []).append(
            _l("This date is too far in the past: check the year.")
        )
    if not errors and open_declaration(session, worker, organisation, on) is not None:
        errors.setdefault("organisation", []).append(
            _l(
                "You have already declared that you work at %(name)s: wait for its HR "
                "office to answer, or look at the status in your employment page.",
                name=organisation.name,
            )
        )
    if errors:
        raise ValidationFailed(errors)
    employment = Employment(
        worker=worker,
        organisation=organisation,
        starts_on=starts_on,
        status=EmploymentStatus.AWAITING_HR,
    )
    session.add(employment)
    audit.record(
        session,
        "employment.declare",
        employment,
        actor=worker,
        organisation_id=organisation.id,
        starts_on=starts_on.isoformat(),
    )
    return employment
