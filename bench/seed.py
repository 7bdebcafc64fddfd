"""Deterministic benchmark data, written on a database built by the real migrations.

The structure (programme, network, two alliances, projects, measures, the operator) goes
through the same services as an administrator's forms; the bulk (workers, employments,
applications, vouchers, claims, receipts) is inserted in batches, with the budget lines
and their ledger kept in step, so the rules the app enforces hold on the seeded data:
``reserved + spent <= allocated`` on every line, ``used <= amount`` on every voucher.

Claims grow in stages (:func:`grow`), so the same run measures the pages at 1,000 claims
and again at 10,000 (quick) or 100,000 and 500,000 (full). Nine claims in ten belong to
the benchmarked operator's alliance, the worst case for their queue. The benchmarked
worker (:data:`WORKER_EMAIL`) has the same ten claims at every stage.
"""

from __future__ import annotations

import random
from dataclasses import astuple, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session
from stdnum import luhn

from voucher.models import (
    Application,
    ApplicationStatus,
    BudgetLine,
    Claim,
    ClaimStatus,
    Dependant,
    DependantKind,
    Employment,
    EmploymentStatus,
    LedgerEntry,
    LedgerKind,
    MeasureKind,
    Notification,
    OrganisationKind,
    OrganisationSize,
    Receipt,
    ReceiptStatus,
    Role,
    User,
    Voucher,
    VoucherStatus,
)
from voucher.services import accounts, budget, structure

PASSWORD = "bench-password"  # noqa: S105 - a throw-away database on this machine only
WORKER_EMAIL = "worker0@bench.example"
OPERATOR_EMAIL = "operator@bench.example"
SEED = 20_260_101
EPOCH = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
VALID_FROM, VALID_UNTIL = date(2025, 1, 1), date(2030, 12, 31)
VOUCHER_CENTS = 500_00
RECEIPT_CENTS = 100_00
RATE_PCT = 80
BATCH = 5_000
# Of the claims outside the benchmarked worker's: what share is in each status.
STATUS_MIX = [
    (ClaimStatus.SUBMITTED, 40),
    (ClaimStatus.APPROVED, 15),
    (ClaimStatus.PARTIALLY_APPROVED, 5),
    (ClaimStatus.PAID, 30),
    (ClaimStatus.REJECTED, 5),
    (ClaimStatus.NEEDS_INFO, 5),
]
DECIDED = {ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED, ClaimStatus.PAID}


@dataclass
class World:
    """What the seeding created, and how far it has grown."""

    operator_id: int
    worker_ids: list[int]
    # alliance index -> (measure ids, budget line ids, organisation ids of partners)
    measures: list[list[int]]
    lines: dict[int, int]  # measure id -> budget line id
    employers: list[int]  # organisation id per alliance (workers are employed there)
    claims: int = 0
    next_id: dict[str, int] = field(default_factory=dict)


def _vat(n: int) -> str:
    body = f"{n % 10_000_000:07d}" + "001"
    return body + luhn.calc_check_digit(body)


def build(session: Session, workers: int) -> World:
    """The structure and ``workers`` workers (the first one is the benchmarked worker)."""
    orgs = {}
    for n, (name, kind) in enumerate(
        [
            ("Comune di Bench", OrganisationKind.PUBLIC_BODY),
            ("Officine Bench S.r.l.", OrganisationKind.COMPANY),
            ("Tessitura Bench S.p.A.", OrganisationKind.COMPANY),
            ("Cooperativa Bench", OrganisationKind.COOPERATIVE),
            ("Comune di Altrove", OrganisationKind.PUBLIC_BODY),
            ("Altrove Meccanica S.r.l.", OrganisationKind.COMPANY),
            ("Altrove Servizi S.r.l.", OrganisationKind.COMPANY),
            ("Cooperativa Altrove", OrganisationKind.COOPERATIVE),
        ],
        start=1,
    ):
        orgs[name] = structure.save_organisation(
            session,
            None,
            name=name,
            kind=kind,
            size=OrganisationSize.SMALL,
            tax_code=_vat(9_000_000 + n),
            municipality="Tradate",
        )
    names = list(orgs)
    programme = structure.save_programme(
        session,
        None,
        name="Piano territoriale bench",
        legal_reference="DGR n. 2398 del 11/11/2019",
        starts_on=date(2024, 1, 1),
        ends_on=date(2030, 12, 31),
        regional_cap_cents=None,
    )
    network = structure.save_network(
        session, None, name="Rete bench", ats_name="ATS Bench", territory="Lombardia"
    )
    measures: list[list[int]] = []
    lines: dict[int, int] = {}
    employers: list[int] = []
    alliances = []
    for a in range(2):
        members = [orgs[n] for n in names[a * 4 : a * 4 + 4]]
        alliance = structure.save_alliance(
            session,
            None,
            network=network,
            name=f"Alleanza bench {a + 1}",
            lead=members[0],
            partners=members[1:],
        )
        alliances.append(alliance)
        total = 100_000_000_000
        project = structure.save_project(
            session,
            None,
            alliance=alliance,
            programme=programme,
            title=f"Progetto bench {a + 1}",
            starts_on=date(2024, 1, 1),
            ends_on=date(2030, 12, 31),
            total_cents=total,
            regional_share_cents=total * 70 // 100,
            cofunding_cents=total - total * 70 // 100,
        )
        ids = []
        for m in range(2 if a == 0 else 1):
            measure = structure.save_measure(
                session,
                None,
                project=project,
                kind=MeasureKind.FAMILY_VOUCHER,
                title=f"Voucher famiglia bench {a + 1}.{m + 1}",
                reimbursement_rate_pct=RATE_PCT,
                cap_per_voucher_cents=VOUCHER_CENTS,
                cap_per_worker_year_cents=None,
                opens_on=date(2024, 1, 1),
                closes_on=date(2030, 12, 31),
                allocated_cents=40_000_000_000,
            )
            session.flush()
            ids.append(measure.id)
            lines[measure.id] = measure.budget_line.id
        measures.append(ids)
        employers.append(members[1].id)
    operator = structure.save_user(
        session,
        None,
        email=OPERATOR_EMAIL,
        first_name="Olga",
        last_name="Operatrice",
        role=Role.OPERATOR,
        password=PASSWORD,
        alliance=alliances[0],
    )
    session.flush()
    world = World(
        operator_id=operator.id, worker_ids=[], measures=measures, lines=lines, employers=employers
    )
    world.next_id = {
        t: _max_id(session, model) + 1
        for t, model in [
            ("users", User),
            ("employments", Employment),
            ("applications", Application),
            ("vouchers", Voucher),
            ("claims", Claim),
            ("receipts", Receipt),
        ]
    }
    _workers(session, world, workers)
    _benchmarked_worker(session, world)
    return world


def _max_id(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.coalesce(func.max(model.id), 0))))


def _take(world: World, table: str, count: int) -> range:
    start = world.next_id[table]
    world.next_id[table] = start + count
    return range(start, start + count)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[start : start + BATCH])


def _workers(session: Session, world: World, count: int) -> None:
    password_hash = accounts.hash_password(PASSWORD)
    ids = list(_take(world, "users", count))
    world.worker_ids = ids
    _insert(
        session,
        User,
        [
            {
                "id": user_id,
                "email": WORKER_EMAIL if n == 0 else f"worker{n}@bench.example",
                "password_hash": password_hash,
                "first_name": "Lavoratrice",
                "last_name": f"Bench {n}",
                "tax_code": f"BNCWRK{n:010d}",
                "role": Role.WORKER,
                "locale": "it",
                "iban": "IT60X0542811101000000123456",
                "created_at": EPOCH,
            }
            for n, user_id in enumerate(ids)
        ],
    )
    # Nine workers in ten work at a partner of the benchmarked operator's alliance.
    _insert(
        session,
        Employment,
        [
            {
                "id": employment_id,
                "worker_id": user_id,
                "organisation_id": world.employers[0 if n % 10 else 1],
                "starts_on": date(2023, 1, 1),
                "status": EmploymentStatus.CONFIRMED,
                "decided_at": EPOCH,
                "created_at": EPOCH,
            }
            for n, (user_id, employment_id) in enumerate(
                zip(ids, _take(world, "employments", count), strict=True)
            )
        ],
    )


def _benchmarked_worker(session: Session, world: World) -> None:
    """Worker 0: two children, open applications, ten claims, twenty messages."""
    worker_id = world.worker_ids[0]
    for n, name in enumerate(["Sofia", "Luca"]):
        session.add(
            Dependant(
                worker_id=worker_id,
                kind=DependantKind.CHILD,
                first_name=name,
                last_name="Bench 0",
                birth_date=date(2018 + n, 5, 4),
            )
        )
    statuses = [
        ClaimStatus.SUBMITTED,
        ClaimStatus.SUBMITTED,
        ClaimStatus.NEEDS_INFO,
        ClaimStatus.APPROVED,
        ClaimStatus.PARTIALLY_APPROVED,
        ClaimStatus.PAID,
        ClaimStatus.PAID,
        ClaimStatus.PAID,
        ClaimStatus.REJECTED,
        ClaimStatus.DRAFT,
    ]
    _claims(session, world, [(worker_id, s, 0) for s in statuses], random.Random(SEED))
    for n, application_id in enumerate(_take(world, "applications", 3)):
        session.add(
            Application(
                id=application_id,
                worker_id=worker_id,
                measure_id=world.measures[0][n % len(world.measures[0])],
                amount_requested_cents=200_00,
                status=ApplicationStatus.SUBMITTED,
                submitted_at=EPOCH + timedelta(days=n),
                created_at=EPOCH + timedelta(days=n),
            )
        )
    session.add_all(
        Notification(
            user_id=worker_id,
            subject=f"Aggiornamento {n}",
            body="La tua richiesta è stata aggiornata.",
            link="/worker/",
            created_at=EPOCH + timedelta(hours=n),
            read_at=None if n > 17 else EPOCH + timedelta(hours=n + 1),
        )
        for n in range(20)
    )


def _mix(rng: random.Random) -> ClaimStatus:
    roll = rng.randrange(100)
    for status, share in STATUS_MIX:
        if roll < share:
            return status
        roll -= share
    return ClaimStatus.SUBMITTED


def grow(session: Session, world: World, claims: int) -> None:
    """Add claims (each with its application, voucher and receipt) up to ``claims``."""
    rng = random.Random(SEED + claims)
    others = world.worker_ids[1:] or world.worker_ids
    wanted = []
    for n in range(world.claims, claims):
        index = n % len(others)
        # The worker's employer decides the alliance (see _workers): 9 in 10 the first.
        alliance = 0 if (index + len(world.worker_ids) - len(others)) % 10 else 1
        wanted.append((others[index], _mix(rng), alliance))
    for start in range(0, len(wanted), BATCH):
        _claims(session, world, wanted[start : start + BATCH], rng)
    world.claims = max(world.claims, claims)


def _claims(
    session: Session, world: World, wanted: list[tuple[int, ClaimStatus, int]], rng: random.Random
) -> None:
    """One application, voucher, claim and receipt for each (worker, status, alliance)."""
    count = len(wanted)
    app_ids = _take(world, "applications", count)
    voucher_ids = _take(world, "vouchers", count)
    claim_ids = _take(world, "claims", count)
    receipt_ids = _take(world, "receipts", count)
    applications, vouchers, claims, receipts = [], [], [], []
    reserved: dict[int, int] = {}
    spent: dict[int, int] = {}
    paid: dict[int, int] = {}
    for n, (worker_id, status, alliance) in enumerate(wanted):
        measure_id = world.measures[alliance][n % len(world.measures[alliance])]
        line_id = world.lines[measure_id]
        when = EPOCH + timedelta(minutes=rng.randrange(60 * 24 * 300))
        requested = RECEIPT_CENTS * RATE_PCT // 100
        approved = (
            requested
            if status in (ClaimStatus.APPROVED, ClaimStatus.PAID)
            else requested // 2
            if status is ClaimStatus.PARTIALLY_APPROVED
            else None
        )
        used = approved or 0
        applications.append(
            {
                "id": app_ids[n],
                "worker_id": worker_id,
                "measure_id": measure_id,
                "amount_requested_cents": VOUCHER_CENTS,
                "status": ApplicationStatus.APPROVED,
                "submitted_at": when - timedelta(days=20),
                "decided_at": when - timedelta(days=15),
                "created_at": when - timedelta(days=20),
            }
        )
        vouchers.append(
            {
                "id": voucher_ids[n],
                "application_id": app_ids[n],
                "worker_id": worker_id,
                "measure_id": measure_id,
                "budget_line_id": line_id,
                "amount_cents": VOUCHER_CENTS,
                "used_cents": used,
                "status": VoucherStatus.ACTIVE,
                "valid_from": VALID_FROM,
                "valid_until": VALID_UNTIL,
                "created_at": when - timedelta(days=15),
            }
        )
        submitted = status is not ClaimStatus.DRAFT
        claims.append(
            {
                "id": claim_ids[n],
                "voucher_id": voucher_ids[n],
                "worker_id": worker_id,
                "status": status,
                "requested_cents": requested if submitted else 0,
                "approved_cents": approved,
                "operator_message": "",
                "submitted_at": when if submitted else None,
                "decided_at": when + timedelta(days=3) if status in DECIDED else None,
                "decided_by_id": world.operator_id if status in DECIDED else None,
                "paid_at": when + timedelta(days=10) if status is ClaimStatus.PAID else None,
                "created_at": when - timedelta(days=1),
            }
        )
        supplier = rng.randrange(1_000)
        receipts.append(
            {
                "id": receipt_ids[n],
                "claim_id": claim_ids[n],
                "storage_key": f"bench/{receipt_ids[n]:09d}.jpg",
                "thumbnail_key": None,
                "original_filename": "scontrino.jpg",
                "content_type": "image/jpeg",
                "size_bytes": 48_000,
                "sha256": f"{receipt_ids[n]:064x}",
                "supplier_name": f"Asilo nido bench {supplier}",
                "supplier_vat": _vat(supplier),
                "document_number": f"FT-{receipt_ids[n]}",
                "issued_on": (when - timedelta(days=2)).date(),
                "amount_cents": RECEIPT_CENTS,
                "status": ReceiptStatus.ACCEPTED if status in DECIDED else ReceiptStatus.PENDING,
                "created_at": when - timedelta(days=1),
            }
        )
        reserved[line_id] = reserved.get(line_id, 0) + VOUCHER_CENTS - used
        spent[line_id] = spent.get(line_id, 0) + used
        if status is ClaimStatus.PAID:
            paid[line_id] = paid.get(line_id, 0) + used
    _insert(session, Application, applications)
    _insert(session, Voucher, vouchers)
    _insert(session, Claim, claims)
    _insert(session, Receipt, receipts)
    # The budget lines and their ledger, as budget.reserve/spend/pay would have left them.
    for line_id in reserved:
        line = BudgetLine.__table__.c
        session.execute(
            update(BudgetLine)
            .where(BudgetLine.id == line_id)
            .values(
                reserved_cents=line.reserved_cents + reserved[line_id],
                spent_cents=line.spent_cents + spent.get(line_id, 0),
                paid_cents=line.paid_cents + paid.get(line_id, 0),
            )
        )
        for kind, amount in [
            (LedgerKind.RESERVE, reserved[line_id] + spent.get(line_id, 0)),
            (LedgerKind.SPEND, spent.get(line_id, 0)),
            (LedgerKind.PAY, paid.get(line_id, 0)),
        ]:
            if amount:
                session.add(
                    LedgerEntry(
                        budget_line_id=line_id,
                        kind=kind,
                        amount_cents=amount,
                        reference_type="bench",
                        note="benchmark seed",
                    )
                )


def fix_sequences(session: Session) -> None:
    """After inserts with explicit ids, PostgreSQL's sequences must start past them."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("users", "employments", "applications", "vouchers", "claims", "receipts"):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        )


def submitted_claims(session: Session, world: World, limit: int) -> list[int]:
    """Claims the benchmarked operator can approve (submitted, in their alliance)."""
    return list(
        session.scalars(
            select(Claim.id)
            .join(Voucher, Claim.voucher_id == Voucher.id)
            .where(
                Claim.status == ClaimStatus.SUBMITTED,
                Voucher.measure_id.in_(world.measures[0]),
                Claim.worker_id != world.worker_ids[0],
            )
            .order_by(Claim.id)
            .limit(limit)
        )
    )


def overspend(session: Session) -> dict[str, int]:
    """Money beyond what it may be: lines over allocation, vouchers over amount, lines whose
    balances differ from their ledger (all zero when the rules held)."""
    line = BudgetLine
    over_lines = session.scalar(
        select(func.count()).where(line.reserved_cents + line.spent_cents > line.allocated_cents)
    )
    over_vouchers = session.scalar(
        select(func.count()).where(Voucher.used_cents > Voucher.amount_cents)
    )
    drift = 0
    for stored in session.scalars(select(BudgetLine)):
        ledger = budget.ledger_balances(session, stored.id)
        drift += sum(
            abs(a - b)
            for a, b in zip(astuple(budget.line_balances(stored)), astuple(ledger), strict=True)
        )
    return {
        "lines_over_allocation": int(over_lines or 0),
        "vouchers_over_amount": int(over_vouchers or 0),
        "ledger_drift_cents": drift,
    }
