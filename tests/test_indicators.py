"""The Region's indicators and their small-cell suppression, called on the services."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from tests import factories
from tests.fixtures_reporting import TODAY, grant, utc, worker
from voucher.models import (
    Booking,
    BookingStatus,
    MeasureKind,
    OrganisationSize,
    Role,
    Service,
    ServiceKind,
    ServiceUnit,
    Slot,
)
from voucher.services import indicators
from voucher.services.indicators import decode_birth, suppress, suppress_partition
from voucher.services.reports import ReportFilter

ALL = ReportFilter()


@pytest.fixture
def world(reporting_world):
    """The reporting world (tests.fixtures_reporting) under a short name."""
    return reporting_world


# --- suppression ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "shown"), [(0, 0), (1, None), (2, None), (4, None), (5, 5), (123, 123)]
)
def test_counts_of_one_to_four_people_are_suppressed(count, shown):
    assert suppress(count) == shown


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        # Nothing small: everything shown (zeros too: "nobody" is nobody).
        ({"f": 12, "m": 7, "x": 0}, {"f": 12, "m": 7, "x": 0}),
        # A lone small cell would be the total minus the other: the smallest other goes too.
        ({"f": 17, "m": 3}, {"f": None, "m": None}),
        ({"a": 20, "b": 9, "c": 2}, {"a": 20, "b": None, "c": None}),
        # Two small cells adding up to 5 or more hide each other.
        ({"a": 3, "b": 4, "c": 10}, {"a": None, "b": None, "c": 10}),
        # Two small cells adding up to less than 5: one more goes.
        ({"a": 1, "b": 2, "c": 10, "d": 6}, {"a": None, "b": None, "c": 10, "d": None}),
    ],
)
def test_a_suppressed_cell_cannot_be_worked_out_from_the_total(counts, shown):
    assert suppress_partition(counts) == shown


def test_no_hidden_cell_of_a_partition_can_be_recovered():
    """For many random splits: the hidden cells add up to 0 or to 5 or more."""
    rng = random.Random(7)
    for _ in range(500):
        counts = {k: rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 30]) for k in "abcde"}
        shown = suppress_partition(counts)
        hidden = [k for k, v in shown.items() if v is None]
        assert all(shown[k] == counts[k] for k in counts if k not in hidden)
        assert all(counts[k] >= 5 or counts[k] == 0 for k in counts if k not in hidden)
        total_hidden = sum(counts[k] for k in hidden)
        if 0 < sum(counts.values()) < 5:
            assert len(hidden) == len(counts)  # a small total hides everything
        else:
            assert total_hidden == 0 or (total_hidden >= 5 and len(hidden) != 1), counts


def test_sex_and_birth_date_come_from_the_codice_fiscale():
    woman = factories.person_tax_code(birth=date(1990, 3, 9), female=True)
    man = factories.person_tax_code(birth=date(1961, 12, 31))
    assert decode_birth(woman[6:11], TODAY) == ("female", date(1990, 3, 9))
    assert decode_birth(man[6:11], TODAY) == ("male", date(1961, 12, 31))
    # Omocodia: digits of the date replaced by letters (L=0, M=1 … V=9).
    assert decode_birth("9MA4M", TODAY) == ("female", date(1991, 1, 41 - 40))
    assert decode_birth(None, TODAY) == ("unknown", None)
    assert decode_birth("XXXXX", TODAY) == ("unknown", None)


# --- indicators over data ---------------------------------------------------------------


def _people(db, world, n, **kwargs):
    """``n`` workers with a childcare voucher, employed at the small partner."""
    people = []
    for _ in range(n):
        u, employment = worker(db, world.orgs[OrganisationSize.SMALL], **kwargs)
        grant(db, u, world.childcare, employment)
        people.append(u)
    return people


def test_indicators_count_beneficiaries_by_every_dimension(db, world):
    kids = (date(2024, 1, 1), date(2018, 5, 5))
    _people(db, world, 6, female=True, birth=date(1990, 1, 1), children=kids, elderly=True)
    _people(db, world, 5, female=False, birth=date(1970, 1, 1), children=(date(2012, 1, 1),))
    # Two more people at the large company, one also with a home care voucher.
    for birth in (date(1995, 6, 1), date(1996, 6, 1)):
        u, employment = worker(db, world.orgs[OrganisationSize.LARGE], female=True, birth=birth)
        grant(db, u, world.childcare, employment)
    grant(db, u, world.homecare, employment)
    # Someone of another network: never counted.
    stranger, employment = worker(db, factories.organisation(db), female=True)
    grant(db, stranger, world.foreign_project.measures[0], employment)
    db.commit()

    result = indicators.indicators(db, world.officer, ALL, TODAY)
    assert result.beneficiaries == 13
    by = {b.key: {c.key: c.count for c in b.cells} for b in result.breakdowns}
    assert by["sex"] == {"female": 8, "male": 5}
    # Ages on TODAY (2026-06-15): 6 are 36, 2 are 30-31, 5 are 56.
    assert by["age"] == {"0+": 0, "30+": 8, "40+": 0, "50+": 5, "60+": 0}
    # Two people without children would be the total minus the others: "1 child" goes too.
    assert by["children"] == {"0": None, "1": None, "2": 6, "3": 0}
    assert by["children_age"] == {"0+": 6, "3+": 0, "6+": 6, "11+": 0, "14+": 5, "18+": 0}
    assert by["care"] == {"elderly": 6, "disabled": 0}
    assert by["measure_kind"] == {"childcare": 13, "home_care": None}
    assert by["employer_size"] == {"small": 11, "large": None}
    # Another network's officer sees only their own (one person: nothing at all).
    other = factories.user(db, Role.NETWORK, net=world.foreign_project.alliance.network)
    assert indicators.indicators(db, other, ALL, TODAY).beneficiaries is None


def test_fewer_than_five_beneficiaries_show_no_indicator(db, world):
    _people(db, world, 4, female=True)
    db.commit()
    result = indicators.indicators(db, world.officer, ALL, TODAY)
    assert result.beneficiaries is None
    assert result.breakdowns == []


def test_the_period_selects_vouchers_by_the_day_they_were_granted(db, world):
    for when in [utc(2025, 3, 1)] * 5 + [utc(2026, 2, 1)] * 6:
        u, employment = worker(db, world.orgs[OrganisationSize.MICRO])
        grant(db, u, world.childcare, employment, when=when)
    db.commit()
    last_year = ReportFilter(None, date(2025, 1, 1), date(2025, 12, 31))
    this_year = ReportFilter(None, date(2026, 1, 1), None)
    assert indicators.indicators(db, world.officer, last_year, TODAY).beneficiaries == 5
    assert indicators.indicators(db, world.officer, this_year, TODAY).beneficiaries == 6
    assert indicators.indicators(db, world.officer, ALL, TODAY).beneficiaries == 11
    other = factories.programme(db)
    assert (
        indicators.indicators(db, world.officer, ReportFilter(other.id), TODAY).beneficiaries == 0
    )


def test_operators_count_their_alliance_only(db, world):
    _people(db, world, 5)
    sibling_measure = world.sibling_project.measures[0]
    for _ in range(5):
        u, employment = worker(db, factories.organisation(db))
        grant(db, u, sibling_measure, employment)
    db.commit()
    assert indicators.indicators(db, world.operator, ALL, TODAY).beneficiaries == 5
    assert indicators.indicators(db, world.officer, ALL, TODAY).beneficiaries == 10
    hr = factories.user(db, Role.HR, org=world.orgs[OrganisationSize.SMALL])
    assert indicators.indicators(db, hr, ALL, TODAY).beneficiaries == 0


def _booking(db, service, v, quantity, status, delivered_at):
    slot = Slot(
        service=service,
        starts_at=delivered_at - timedelta(hours=2),
        ends_at=delivered_at - timedelta(hours=1),
        capacity=10,
    )
    db.add(slot)
    db.flush()
    b = Booking(
        slot=slot,
        service=service,
        worker=v.worker,
        voucher=v,
        quantity=quantity,
        unit_price_cents=10_00,
        total_cents=10_00 * quantity,
        voucher_cents=10_00 * quantity,
        copay_cents=0,
        status=status,
        delivered_at=delivered_at if status is not BookingStatus.CONFIRMED else None,
    )
    db.add(b)
    db.flush()
    return b


def test_hours_saved_count_delivered_and_settled_bookings(db, world):
    measure = factories.measure(db, world.project, 5_000_00, MeasureKind.TIME_SAVING)
    provider = factories.organisation(db)
    ironing = Service(
        organisation=provider,
        kind=ServiceKind.IRONING,
        title="Stireria sociale",
        unit=ServiceUnit.KG,
        price_cents=10_00,
        minutes_saved_per_unit=30,
    )
    db.add(ironing)
    vouchers = []
    for _ in range(5):
        u, employment = worker(db, world.orgs[OrganisationSize.SMALL])
        vouchers.append(grant(db, u, measure, employment))
    june = utc(2026, 6, 10)
    for v in vouchers:
        _booking(db, ironing, v, 4, BookingStatus.DELIVERED, june)  # 5 x 4 x 30 min = 10 h
    _booking(db, ironing, vouchers[0], 2, BookingStatus.SETTLED, utc(2026, 3, 1))  # 1 h
    _booking(db, ironing, vouchers[1], 9, BookingStatus.CONFIRMED, june)  # not delivered
    db.commit()

    saved = indicators.indicators(db, world.officer, ALL, TODAY).hours_saved
    assert (saved.hours, saved.people) == (11.0, 5)
    june_only = ReportFilter(None, date(2026, 6, 1), date(2026, 6, 30))
    assert indicators.hours_saved(db, world.officer, june_only).hours == 10.0
    # March: one person only, so the hours are not shown.
    march = ReportFilter(None, date(2026, 3, 1), date(2026, 3, 31))
    assert indicators.hours_saved(db, world.officer, march) == indicators.HoursSaved(None, None)
    other = factories.user(db, Role.NETWORK)
    assert indicators.hours_saved(db, other, ALL) is None
