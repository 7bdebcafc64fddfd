"""The providers' catalogue: their time-saving services and the slots workers book.

A provider edits only its own organisation's services. Card payment can be switched on
only by private providers (DESIGN §8: a public body collects through pagoPA). Slots are
typed in Italian time and stored in UTC; a slot that anyone ever booked stays, so that
its bookings keep their history. Callers commit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, selectinload

from voucher.models import Booking, Role, Service, ServiceKind, ServiceUnit, Slot, User
from voucher.services import audit
from voucher.services.access import visible
from voucher.services.clock import ROME
from voucher.services.errors import IllegalTransition, ValidationFailed

MAX_PRICE_CENTS = 10_000_00
MAX_MINUTES_SAVED = 24 * 60
MAX_CANCELLATION_HOURS = 30 * 24
MAX_CAPACITY = 500
MAX_WEEKS = 12

KIND_LABELS = {
    ServiceKind.IRONING: _l("Ironing (stireria)"),
    ServiceKind.CONCIERGE: _l("Errands (maggiordomo aziendale)"),
    ServiceKind.PAPERWORK: _l("Help with paperwork"),
    ServiceKind.COWORKING: _l("Coworking desk"),
}
UNIT_LABELS = {
    ServiceUnit.KG: _l("kg"),
    ServiceUnit.HOUR: _l("hour"),
    ServiceUnit.ERRAND: _l("errand"),
    ServiceUnit.DAY: _l("day"),
}


def _ensure_provider(actor: User, organisation_id: int | None) -> None:
    if actor.role is not Role.PROVIDER or actor.organisation_id is None:
        raise IllegalTransition(_l("Only a provider can manage services."))
    if organisation_id is not None and organisation_id != actor.organisation_id:
        raise IllegalTransition(_l("This service belongs to another provider."))


def save_service(
    session: Session,
    service: Service | None,
    actor: User,
    *,
    kind: Any,
    title: str,
    description: str,
    unit: Any,
    price_cents: int | None,
    place: str,
    minutes_saved_per_unit: int | None,
    cancellation_hours: int | None,
    accepts_card: bool,
    active: bool,
) -> Service:
    """Create a service of the actor's organisation, or change one of its services."""
    _ensure_provider(actor, service.organisation_id if service is not None else None)
    errors: dict[str, list[Any]] = {}

    def error(field: str, message: Any) -> None:
        errors.setdefault(field, []).append(message)

    title, place = (title or "").strip(), (place or "").strip()
    description = (description or "").strip()
    if not title:
        error("title", _l("Give the service a name."))
    elif len(title) > 200:
        error("title", _l("At most %(count)d characters.", count=200))
    if len(place) > 200:
        error("place", _l("At most %(count)d characters.", count=200))
    if len(description) > 5000:
        error("description", _l("At most %(count)d characters.", count=5000))
    try:
        kind = ServiceKind(kind)
    except ValueError:
        error("kind", _l("Choose a kind of service."))
    try:
        unit = ServiceUnit(unit)
    except ValueError:
        error("unit", _l("Choose what the price is per."))
    if not isinstance(price_cents, int) or not 0 < price_cents <= MAX_PRICE_CENTS:
        error("price_cents", _l("Enter a price greater than zero, up to € 10.000."))
    minutes = minutes_saved_per_unit or 0
    if not isinstance(minutes, int) or not 0 <= minutes <= MAX_MINUTES_SAVED:
        error("minutes_saved_per_unit", _l("Enter minutes from 0 to 1440."))
    hours = cancellation_hours if cancellation_hours is not None else 24
    if not isinstance(hours, int) or not 0 <= hours <= MAX_CANCELLATION_HOURS:
        error("cancellation_hours", _l("Enter hours from 0 to 720."))
    organisation = actor.organisation
    if accepts_card and organisation is not None and organisation.is_public:
        error(
            "accepts_card",
            _l("A public body cannot take card payments here: co-payments go through pagoPA."),
        )
    if errors:
        raise ValidationFailed(errors)
    created = service is None
    if service is None:
        service = Service(organisation_id=actor.organisation_id)
        session.add(service)
    before = {} if created else _snapshot(service)
    service.kind = kind
    service.title = title
    service.description = description
    service.unit = unit
    service.price_cents = price_cents  # type: ignore[assignment]
    service.place = place
    service.minutes_saved_per_unit = minutes
    service.cancellation_hours = hours
    service.accepts_card = bool(accepts_card)
    service.active = bool(active)
    session.flush()
    after = _snapshot(service)
    audit.record(
        session,
        "service.create" if created else "service.update",
        service,
        actor,
        changes={k: v for k, v in after.items() if before.get(k) != v},
    )
    return service


def _snapshot(service: Service) -> dict[str, Any]:
    return {
        "kind": service.kind.value if service.kind else None,
        "title": service.title,
        "unit": service.unit.value if service.unit else None,
        "price_cents": service.price_cents,
        "place": service.place,
        "minutes_saved_per_unit": service.minutes_saved_per_unit,
        "cancellation_hours": service.cancellation_hours,
        "accepts_card": service.accepts_card,
        "active": service.active,
    }


def local_moment(day: date, at: time) -> datetime:
    """A day and time typed in Italian time, as an aware UTC datetime."""
    return datetime.combine(day, at, tzinfo=ROME).astimezone(UTC)


def add_slots(
    session: Session,
    service: Service,
    actor: User,
    *,
    day: date | None,
    start: time | None,
    end: time | None,
    capacity: int | None,
    weeks: int | None,
    now: datetime,
) -> list[Slot]:
    """Add a slot (or the same one on ``weeks`` consecutive weeks) to the service."""
    _ensure_provider(actor, service.organisation_id)
    errors: dict[str, list[Any]] = {}
    if day is None:
        errors.setdefault("day", []).append(_l("Enter the day."))
    if start is None:
        errors.setdefault("start", []).append(_l("Enter the starting time."))
    if end is None:
        errors.setdefault("end", []).append(_l("Enter the ending time."))
    elif start is not None and end <= start:
        errors.setdefault("end", []).append(_l("The slot must end after it starts."))
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        errors.setdefault("capacity", []).append(
            _l("Enter how many bookings the slot takes, from 1 to %(max)d.", max=MAX_CAPACITY)
        )
    weeks = weeks or 1
    if not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        errors.setdefault("weeks", []).append(
            _l("Enter a number of weeks from 1 to %(max)d.", max=MAX_WEEKS)
        )
    if not errors and local_moment(day, start) <= now:  # type: ignore[arg-type]
        errors.setdefault("day", []).append(_l("The slot must start in the future."))
    if errors:
        raise ValidationFailed(errors)
    slots = []
    for week in range(weeks):
        when = day + timedelta(weeks=week)  # type: ignore[operator]
        slot = Slot(
            service=service,
            starts_at=local_moment(when, start),  # type: ignore[arg-type]
            ends_at=local_moment(when, end),  # type: ignore[arg-type]
            capacity=capacity,
            booked=0,
        )
        session.add(slot)
        slots.append(slot)
    session.flush()
    audit.record(
        session,
        "service.slots_add",
        service,
        actor,
        slot_ids=[s.id for s in slots],
        capacity=capacity,
    )
    return slots


def remove_slot(session: Session, slot: Slot, actor: User) -> None:
    """Remove a slot nobody ever booked (a booked one keeps its bookings' history)."""
    _ensure_provider(actor, slot.service.organisation_id)
    service = slot.service
    result = session.execute(
        delete(Slot)
        .where(
            Slot.id == slot.id,
            Slot.booked == 0,
            ~exists().where(Booking.slot_id == Slot.id),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise IllegalTransition(_l("This slot has bookings: it cannot be removed."))
    session.expunge(slot)
    audit.record(session, "service.slot_remove", service, actor, slot_id=slot.id)


def provider_services(session: Session, user: User) -> list[Service]:
    """The services ``user`` may see (a provider's own), by name."""
    return list(
        session.scalars(
            visible(Service, user)
            .options(selectinload(Service.organisation))
            .order_by(Service.active.desc(), Service.title, Service.id)
        ).all()
    )


def upcoming_slots(session: Session, service: Service, now: datetime) -> list[Slot]:
    """The service's slots that have not ended, soonest first."""
    return list(
        session.scalars(
            select(Slot)
            .where(Slot.service_id == service.id, Slot.ends_at > now)
            .order_by(Slot.starts_at, Slot.id)
        ).all()
    )
