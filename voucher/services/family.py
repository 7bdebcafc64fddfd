"""Dependants: the children and relatives a worker asks services for.

Disability is special-category data (GDPR art. 9): only a yes/no flag and, if the worker
wants, a certificate file; never a diagnosis. Every view of a certificate is audited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale

from voucher.models import Application, Dependant, DependantKind, User
from voucher.services import audit, clock, identifiers
from voucher.services.errors import ValidationFailed
from voucher.services.uploads import delete_stored

if TYPE_CHECKING:
    from voucher.services.uploads import StoredFile

ADULT_AGE = 18
NAME_MAX = 100
LABEL_MAX = 60
EARLIEST_BIRTH = date(1900, 1, 1)
# Kinds that are not the worker's children: the form asks how they are related.
RELATIVE_KINDS = (DependantKind.ELDERLY_RELATIVE, DependantKind.DISABLED_RELATIVE)


@dataclass(frozen=True)
class _Clean:
    kind: DependantKind
    first_name: str
    last_name: str
    birth_date: date
    tax_code: str | None
    relationship_label: str
    has_disability: bool


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _text(value: str | None, field: str, limit: int, errors: dict[str, list], required: bool):
    text = " ".join((value or "").split())
    if required and not text:
        errors.setdefault(field, []).append(_l("This field is required."))
    elif len(text) > limit:
        errors.setdefault(field, []).append(_l("Use at most %(count)d characters.", count=limit))
    return text


def _validate(
    session: Session,
    worker: User,
    dependant: Dependant | None,
    *,
    kind: Any,
    first_name: str,
    last_name: str,
    birth_date: date | None,
    tax_code: str | None,
    relationship_label: str,
    has_disability: bool,
    on: date,
) -> _Clean:
    errors: dict[str, list] = {}
    try:
        kind = DependantKind(kind)
    except ValueError:
        errors.setdefault("kind", []).append(_l("Choose who this person is."))
        kind = None
    first = _text(first_name, "first_name", NAME_MAX, errors, required=True)
    last = _text(last_name, "last_name", NAME_MAX, errors, required=True)
    label = _text(
        relationship_label, "relationship_label", LABEL_MAX, errors, required=kind in RELATIVE_KINDS
    )
    if birth_date is None:
        errors.setdefault("birth_date", []).append(_l("Enter the date of birth."))
    elif birth_date > on:
        errors.setdefault("birth_date", []).append(_l("The date of birth cannot be in the future."))
    elif birth_date < EARLIEST_BIRTH:
        errors.setdefault("birth_date", []).append(
            _l("This date is too far in the past: check the year.")
        )
    elif kind is DependantKind.CHILD and age_on(birth_date, on) >= ADULT_AGE:
        errors.setdefault("birth_date", []).append(
            _l(
                "A child must be under %(age)d. For an adult son or daughter with a "
                "disability choose \u201crelative with a disability\u201d.",
                age=ADULT_AGE,
            )
        )
    code = None
    if (tax_code or "").strip():
        try:
            code = identifiers.person_tax_code(tax_code)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if code and birth_date is not None and "birth_date" not in errors:
        _check_birth_date(code, birth_date, errors)
    if code and "tax_code" not in errors:
        # Codici fiscali are stored encrypted: compare with the worker's few dependants here.
        others = session.scalars(
            select(Dependant.tax_code).where(
                Dependant.worker_id == worker.id,
                Dependant.id != (dependant.id if dependant is not None else -1),
            )
        )
        if code == worker.tax_code or code in set(others):
            errors.setdefault("tax_code", []).append(
                _l("This codice fiscale is already in your family list, or it is yours.")
            )
    if errors:
        raise ValidationFailed(errors)
    return _Clean(
        kind=kind,
        first_name=first,
        last_name=last,
        birth_date=birth_date,
        tax_code=code,
        relationship_label=label,
        # A relative recorded as disabled has a disability; the flag says so explicitly.
        has_disability=bool(has_disability) or kind is DependantKind.DISABLED_RELATIVE,
    )


def _check_birth_date(code: str, birth_date: date, errors: dict[str, list]) -> None:
    """The codice fiscale encodes day, month and the year without its century: compare those."""
    try:
        encoded = codicefiscale.get_birth_date(code)
    except StdnumError:
        encoded = None
    if encoded is None or (encoded.day, encoded.month, encoded.year % 100) != (
        birth_date.day,
        birth_date.month,
        birth_date.year % 100,
    ):
        message = _l(
            "The date of birth does not match the codice fiscale: check both.",
        )
        if encoded is not None:
            message = _l(
                "The date of birth does not match the codice fiscale, which says born on "
                "%(day)02d/%(month)02d of a year ending in %(year)02d: check both.",
                day=encoded.day,
                month=encoded.month,
                year=encoded.year % 100,
            )
        errors.setdefault("birth_date", []).append(message)


def _discard(folder: str | None, *keys: str | None) -> None:
    keys = tuple(k for k in keys if k)
    if not keys:
        return
    if folder is None:
        raise ValueError("the upload folder is needed to delete a stored file")
    for key in keys:
        delete_stored(folder, key)


def _own(worker: User, dependant: Dependant) -> None:
    if dependant.worker_id != worker.id:
        raise ValueError("this dependant belongs to another worker")


def add_dependant(
    session: Session,
    worker: User,
    *,
    kind: Any,
    first_name: str,
    last_name: str,
    birth_date: date | None,
    tax_code: str | None = None,
    relationship_label: str = "",
    has_disability: bool = False,
    on: date | None = None,
) -> Dependant:
    """Add a family member to the worker's list."""
    clean = _validate(
        session,
        worker,
        None,
        kind=kind,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        tax_code=tax_code,
        relationship_label=relationship_label,
        has_disability=has_disability,
        on=on or clock.today(),
    )
    dependant = Dependant(worker=worker, **asdict(clean))
    session.add(dependant)
    audit.record(
        session,
        "dependant.create",
        dependant,
        actor=worker,
        kind=clean.kind.value,
        has_disability=clean.has_disability,
    )
    return dependant


def update_dependant(
    session: Session,
    worker: User,
    dependant: Dependant,
    *,
    kind: Any,
    first_name: str,
    last_name: str,
    birth_date: date | None,
    tax_code: str | None = None,
    relationship_label: str = "",
    has_disability: bool = False,
    folder: str | None = None,
    on: date | None = None,
) -> None:
    """Correct a family member; without a disability any certificate is deleted."""
    _own(worker, dependant)
    clean = _validate(
        session,
        worker,
        dependant,
        kind=kind,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        tax_code=tax_code,
        relationship_label=relationship_label,
        has_disability=has_disability,
        on=on or clock.today(),
    )
    changed = sorted(
        name for name, value in asdict(clean).items() if getattr(dependant, name) != value
    )
    # No disability, no reason to keep its certificate (data minimisation).
    old_certificate = dependant.certificate_key if not clean.has_disability else None
    if not changed and old_certificate is None:
        return
    for name in changed:
        setattr(dependant, name, getattr(clean, name))
    if old_certificate is not None:
        dependant.certificate_key = None
        dependant.certificate_content_type = None
    audit.record(
        session,
        "dependant.update",
        dependant,
        actor=worker,
        fields=changed,
        has_disability=clean.has_disability,
        certificate_removed=old_certificate is not None,
    )
    # Files go only once the database has accepted the change.
    session.flush()
    _discard(folder, old_certificate)


def has_applications(session: Session, dependant: Dependant) -> bool:
    """Whether any application names this dependant (then it cannot be removed)."""
    stmt = select(Application.id).where(Application.dependant_id == dependant.id).limit(1)
    return session.scalar(stmt) is not None


def remove_dependant(
    session: Session, worker: User, dependant: Dependant, *, folder: str | None = None
) -> None:
    """Delete a family member no application refers to, with any certificate."""
    _own(worker, dependant)
    if has_applications(session, dependant):
        raise ValidationFailed.single(
            "",
            _l(
                "%(name)s cannot be removed: an application of yours is for them, and "
                "applications and their decisions are kept.",
                name=dependant.first_name,
            ),
        )
    certificate = dependant.certificate_key
    audit.record(
        session,
        "dependant.remove",
        dependant,
        actor=worker,
        kind=dependant.kind.value,
        has_disability=dependant.has_disability,
    )
    session.delete(dependant)
    session.flush()
    _discard(folder, certificate)


def attach_certificate(
    session: Session,
    worker: User,
    dependant: Dependant,
    stored: StoredFile,
    *,
    folder: str,
) -> None:
    """Keep ``stored`` as the dependant's disability certificate, deleting the previous one."""
    _own(worker, dependant)
    # A certificate needs no preview: a thumbnail would be one more copy of health data.
    _discard(folder, stored.thumbnail_key)
    if not dependant.has_disability:
        _discard(folder, stored.storage_key)
        raise ValidationFailed.single(
            "",
            _l(
                "A certificate is only needed for a person with a disability: mark it in "
                "the family member's details first."
            ),
        )
    old = dependant.certificate_key
    dependant.certificate_key = stored.storage_key
    dependant.certificate_content_type = stored.content_type
    audit.record(
        session,
        "dependant.certificate_upload",
        dependant,
        actor=worker,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        replaced=old is not None,
    )
    session.flush()
    if old and old != stored.storage_key:
        _discard(folder, old)


def certificate_viewed(session: Session, viewer: User, dependant: Dependant) -> None:
    """Audit that ``viewer`` opened the dependant's certificate (special-category data)."""
    audit.record(
        session,
        "dependant.certificate_view",
        dependant,
        actor=viewer,
        worker_id=dependant.worker_id,
    )
