"""The indicators the Region asks for, with small cells suppressed so nobody can be singled out.

Beneficiaries are the distinct workers with a voucher in the report's scope (projects the
person may see, the programme, vouchers granted in the period). They are counted by sex and
age band (from the codice fiscale), number of children and the children's ages (from the
birth dates the worker gave), care of elderly or disabled relatives (counts only), kind of
measure and size of the employer the application rested on; and, for time-saving services,
the hours saved (quantity x minutes saved per unit of the bookings delivered in the period).

Every count of people goes through :func:`suppress` (1 to 4 is not shown). Breakdowns
whose categories split the total (sex, age, children…) also hide one more cell when a
single one is hidden, otherwise it could be worked out as the total minus the others
(:func:`suppress_partition`). Pages, exports and charts all read the suppressed values;
the raw counts never leave this module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from stdnum.it import codicefiscale

from voucher.models import (
    Application,
    Booking,
    BookingStatus,
    Dependant,
    DependantKind,
    Employment,
    Measure,
    MeasureKind,
    Organisation,
    OrganisationSize,
    Service,
    User,
    Voucher,
)
from voucher.services.access import visible
from voucher.services.labels import MEASURE_KIND_LABELS, ORGANISATION_SIZE_LABELS
from voucher.services.reports import ReportFilter, project_ids_in_scope

K = TypeVar("K", bound=Hashable)

# Fewer people than this in a cell could be recognised: the cell is not shown.
SMALL_CELL = 5

# Omocodia: when two people would share a codice fiscale, digits are replaced by letters.
_OMOCODIA = str.maketrans("LMNPQRSTUV", "0123456789")
# A worker is at least this old: it settles the century the codice fiscale leaves out.
MIN_WORKER_AGE = 14

WORKER_AGE_BANDS: list[tuple[int, Any]] = [
    (0, _l("Under 30")),
    (30, _l("30 to 39")),
    (40, _l("40 to 49")),
    (50, _l("50 to 59")),
    (60, _l("60 and over")),
]
CHILD_AGE_BANDS: list[tuple[int, Any]] = [
    (0, _l("Under 3 (nursery)")),
    (3, _l("3 to 5 (pre-school)")),
    (6, _l("6 to 10 (primary school)")),
    (11, _l("11 to 13 (lower secondary)")),
    (14, _l("14 to 17")),
    (18, _l("18 and over")),
]
NOT_KNOWN = _l("Not known")


def suppress(count: int) -> int | None:
    """``count``, or None when it is 1 to 4 people (shown as “fewer than 5”)."""
    # Zero singles nobody out and is shown: "nobody" is not a person.
    return None if 0 < count < SMALL_CELL else count


def suppress_partition(counts: Mapping[K, int]) -> dict[K, int | None]:
    """Suppress the small cells of a breakdown of a shown total, and one more if needed."""
    # With the total shown, a lone hidden cell is the total minus the others: hide the
    # smallest shown (non-zero) cell too, so the hidden ones add up to 5 or more.
    if suppress(sum(counts.values())) is None:
        # The total itself is small: nothing of it is shown.
        return dict.fromkeys(counts)
    result = {key: suppress(count) for key, count in counts.items()}
    hidden = [key for key, value in result.items() if value is None]
    while hidden and (len(hidden) == 1 or sum(counts[k] for k in hidden) < SMALL_CELL):
        candidates = [k for k, v in result.items() if v is not None and counts[k] > 0]
        if not candidates:
            break
        smallest = min(candidates, key=lambda k: counts[k])
        result[smallest] = None
        hidden.append(smallest)
    return result


@dataclass(frozen=True)
class Cell:
    """One category of a breakdown: its label and its count, None when suppressed."""

    key: str
    label: Any
    count: int | None


@dataclass(frozen=True)
class Breakdown:
    """One indicator: a titled list of categories."""

    key: str
    title: Any
    cells: list[Cell]
    note: Any = None


@dataclass(frozen=True)
class Indicators:
    """The Region's indicators for one scope, every count of people already suppressed."""

    beneficiaries: int | None
    breakdowns: list[Breakdown]
    # None when no time-saving service was delivered in the scope.
    hours_saved: HoursSaved | None = None

    def get(self, key: str) -> Breakdown:
        """The breakdown called ``key``."""
        return next(b for b in self.breakdowns if b.key == key)


def beneficiary_vouchers(
    user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> Select:
    """The vouchers the indicators count: in scope, granted in the period."""
    return (
        visible(Voucher, user)
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(
            Measure.project_id.in_(project_ids_in_scope(user, flt, project_ids)),
            flt.within(Voucher.created_at),
        )
    )


def indicators(
    session: Session,
    user: User,
    flt: ReportFilter,
    today: date,
    project_ids: Iterable[int] | None = None,
) -> Indicators:
    """Every indicator for the scope, each in one grouped query, small cells suppressed."""
    vouchers = beneficiary_vouchers(user, flt, project_ids)
    people = vouchers.with_only_columns(Voucher.worker_id).distinct()
    total = int(session.scalar(select(func.count()).select_from(people.subquery())) or 0)
    reference = flt.reference_day(today)
    shown_total = suppress(total)
    if shown_total is None:
        # A handful of people: every breakdown would point at them.
        return Indicators(None, [], None)
    sexes, ages = _sex_and_age(session, people, reference)
    breakdowns = [
        _partition(
            "sex",
            _l("Beneficiaries by sex"),
            [("female", _l("Women")), ("male", _l("Men")), ("unknown", NOT_KNOWN)],
            sexes,
        ),
        _partition(
            "age",
            _l("Beneficiaries by age"),
            [(_band_key(lo), label) for lo, label in WORKER_AGE_BANDS] + [("unknown", NOT_KNOWN)],
            ages,
        ),
        _partition(
            "children",
            _l("Beneficiaries by number of children"),
            [
                ("0", _l("No children")),
                ("1", _l("1 child")),
                ("2", _l("2 children")),
                ("3", _l("3 or more children")),
            ],
            _children_per_beneficiary(session, people, total),
        ),
        _partition(
            "children_age",
            _l("Children of the beneficiaries by age"),
            [(_band_key(lo), label) for lo, label in CHILD_AGE_BANDS],
            _children_ages(session, people, reference),
            note=_l("Counts children, not beneficiaries."),
        ),
        _care(session, people, total),
        _by_measure_kind(session, vouchers),
        _by_employer_size(session, vouchers),
    ]
    return Indicators(shown_total, breakdowns, hours_saved(session, user, flt, project_ids))


# --- each indicator ---------------------------------------------------------------------


def _partition(
    key: str,
    title: Any,
    categories: list[tuple[str, Any]],
    counts: Mapping[str, int],
    note: Any = None,
) -> Breakdown:
    """A breakdown whose categories split the total; an empty "not known" is left out."""
    full = {k: int(counts.get(k, 0)) for k, _label in categories}
    if full.get("unknown") == 0:
        del full["unknown"]
    shown = suppress_partition(full)
    return Breakdown(
        key,
        title,
        [Cell(k, label, shown[k]) for k, label in categories if k in shown],
        note,
    )


def _band_key(lower: int) -> str:
    """The key of the band starting at ``lower`` years ("30+")."""
    return f"{lower}+"


def _band(age: int, bands: list[tuple[int, Any]]) -> str:
    """The key of the band ``age`` falls in."""
    lower = max(lo for lo, _label in bands if lo <= max(age, 0))
    return _band_key(lower)


def _age_on(birth: date, day: date) -> int:
    """Age in whole years on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def decode_birth(code: str | None, reference: date) -> tuple[str, date | None]:
    """Sex ("female", "male" or "unknown") and birth date from a codice fiscale's characters
    7 to 11 (year, month, day), which is all the indicators read of it."""
    if not code or len(code) != 5:
        return "unknown", None
    try:
        raw_day = int(code[3:5].upper().translate(_OMOCODIA))
    except ValueError:
        return "unknown", None
    sex = "female" if raw_day > 40 else "male"
    try:
        # stdnum reads the date from a full-length code; the other characters do not matter.
        # The century is the one that makes the person at least MIN_WORKER_AGE.
        birth = codicefiscale.get_birth_date(
            f"XXXXXX{code}X000X", minyear=reference.year - 100 - MIN_WORKER_AGE + 1
        )
    except (codicefiscale.ValidationError, KeyError):
        return sex, None
    return sex, birth


def _sex_and_age(
    session: Session, people: Select, reference: date
) -> tuple[Counter[str], Counter[str]]:
    """Beneficiaries by sex and by age band, from the birth part of the codice fiscale."""
    # Codici fiscali are stored encrypted (voucher.crypto), so they are decrypted here,
    # streamed in batches, and only their birth part (characters 7 to 11) is kept.
    births: Counter[str] = Counter()
    for code in session.scalars(
        select(User.tax_code).where(User.id.in_(people)).execution_options(yield_per=2000)
    ):
        births[(code or "")[6:11]] += 1
    sexes: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    for code, count in births.items():
        sex, birth = decode_birth(code, reference)
        sexes[sex] += count
        ages[_band(_age_on(birth, reference), WORKER_AGE_BANDS) if birth else "unknown"] += count
    return sexes, ages


def _children_per_beneficiary(session: Session, people: Select, total: int) -> Counter[str]:
    """Beneficiaries by number of children (0, 1, 2, 3 or more)."""
    per_worker = (
        select(Dependant.worker_id, func.count(Dependant.id).label("children"))
        .where(Dependant.kind == DependantKind.CHILD, Dependant.worker_id.in_(people))
        .group_by(Dependant.worker_id)
        .subquery()
    )
    rows = session.execute(
        select(per_worker.c.children, func.count()).group_by(per_worker.c.children)
    ).all()
    result: Counter[str] = Counter()
    for children, count in rows:
        result[str(min(int(children), 3))] += int(count)
    result["0"] = total - sum(result.values())
    return result


def _children_ages(session: Session, people: Select, reference: date) -> Counter[str]:
    """The beneficiaries' children by age band, grouped by birth date in SQL."""
    rows = session.execute(
        select(Dependant.birth_date, func.count(Dependant.id))
        .where(Dependant.kind == DependantKind.CHILD, Dependant.worker_id.in_(people))
        .group_by(Dependant.birth_date)
    ).all()
    result: Counter[str] = Counter()
    for birth, count in rows:
        result[_band(_age_on(birth, reference), CHILD_AGE_BANDS)] += int(count)
    return result


def _care(session: Session, people: Select, total: int) -> Breakdown:
    """Beneficiaries caring for an elderly or a disabled relative: counts, nothing else."""
    # The disability flag is stored encrypted: it is read here, not filtered in SQL.
    elderly_workers: set[int] = set()
    disabled_workers: set[int] = set()
    for worker_id, kind, has_disability in session.execute(
        select(Dependant.worker_id, Dependant.kind, Dependant.has_disability)
        .where(Dependant.worker_id.in_(people))
        .execution_options(yield_per=2000)
    ):
        if kind is DependantKind.ELDERLY_RELATIVE:
            elderly_workers.add(worker_id)
        if kind is DependantKind.DISABLED_RELATIVE or has_disability:
            disabled_workers.add(worker_id)
    row = (len(elderly_workers), len(disabled_workers))
    cells = []
    for key, label, count in (
        ("elderly", _l("Caring for an elderly relative"), int(row[0])),
        ("disabled", _l("Caring for a relative with a disability"), int(row[1])),
    ):
        shown = suppress_partition({"yes": count, "no": total - count})["yes"]
        cells.append(Cell(key, label, shown))
    return Breakdown(
        "care",
        _l("Beneficiaries caring for relatives"),
        cells,
        _l("A beneficiary may care for both."),
    )


def _by_measure_kind(session: Session, vouchers: Select) -> Breakdown:
    """Beneficiaries by kind of measure of their vouchers."""
    rows = session.execute(
        vouchers.with_only_columns(
            Measure.kind, func.count(func.distinct(Voucher.worker_id))
        ).group_by(Measure.kind)
    ).all()
    counts = {MeasureKind(kind): int(count) for kind, count in rows}
    return Breakdown(
        "measure_kind",
        _l("Beneficiaries by kind of measure"),
        [
            Cell(kind.value, MEASURE_KIND_LABELS[kind], suppress(counts[kind]))
            for kind in MeasureKind
            if kind in counts
        ],
        _l("A beneficiary with vouchers of several kinds counts under each."),
    )


def _by_employer_size(session: Session, vouchers: Select) -> Breakdown:
    """Beneficiaries by size of the employer their application rested on."""
    # No employment behind the application: a measure open to residents.
    rows = session.execute(
        vouchers.with_only_columns(Organisation.size, func.count(func.distinct(Voucher.worker_id)))
        .join(Application, Application.id == Voucher.application_id)
        .outerjoin(Employment, Employment.id == Application.employment_id)
        .outerjoin(Organisation, Organisation.id == Employment.organisation_id)
        .group_by(Organisation.size)
    ).all()
    counts = {(size.value if size else "none"): int(count) for size, count in rows}
    categories = [(s.value, ORGANISATION_SIZE_LABELS[s]) for s in OrganisationSize]
    categories.append(("none", _l("No employer (residents)")))
    return Breakdown(
        "employer_size",
        _l("Beneficiaries by size of employer"),
        [Cell(key, label, suppress(counts[key])) for key, label in categories if key in counts],
        _l("A beneficiary with vouchers through several employers counts under each."),
    )


@dataclass(frozen=True)
class HoursSaved:
    """Hours that delivered time-saving services saved, and how many people they saved them for.

    ``hours`` is None when those people are fewer than SMALL_CELL: a small total would
    tell what one or two colleagues booked.
    """

    hours: float | None
    people: int | None


def hours_saved(
    session: Session, user: User, flt: ReportFilter, project_ids: Iterable[int] | None = None
) -> HoursSaved | None:
    """Hours saved by time-saving services delivered in the period (None: none delivered)."""
    # quantity x minutes saved per unit, over bookings delivered (or delivered and settled)
    # on vouchers in scope, by the day of delivery.
    minutes, people = session.execute(
        visible(
            Booking,
            user,
            select(
                func.coalesce(func.sum(Booking.quantity * Service.minutes_saved_per_unit), 0),
                func.count(func.distinct(Booking.worker_id)),
            ).select_from(Booking),
        )
        .join(Service, Service.id == Booking.service_id)
        .join(Voucher, Voucher.id == Booking.voucher_id)
        .join(Measure, Measure.id == Voucher.measure_id)
        .where(
            Measure.project_id.in_(project_ids_in_scope(user, flt, project_ids)),
            Booking.status.in_((BookingStatus.DELIVERED, BookingStatus.SETTLED)),
            flt.within(Booking.delivered_at),
        )
    ).one()
    if not people:
        return None
    shown = suppress(int(people))
    return HoursSaved(int(minutes) / 60 if shown is not None else None, shown)
