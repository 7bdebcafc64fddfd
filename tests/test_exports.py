"""Rendicontazione exports: XLSX, PDF and CSV equal the ledger, name nobody, and stream."""

from __future__ import annotations

import csv
import io
import tempfile
import time
import tracemalloc
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, insert, select

from tests import factories
from tests.fixtures_reporting import TODAY, approve, grant, ledger_at, pay, submitted, utc, worker
from voucher.i18n import format_money
from voucher.models import (
    Application,
    ApplicationStatus,
    Claim,
    ClaimStatus,
    LedgerEntry,
    LedgerKind,
    OrganisationSize,
    Receipt,
    Role,
    User,
    Voucher,
)
from voucher.services import exports
from voucher.services.reports import ReportFilter

KEY = "test-secret-key"
GENERATED = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
ALL = ReportFilter()


def _claims(db, world, n=3, names=("Giuseppina", "Verdi")):
    """``n`` workers with a childcare voucher and an approved claim of two receipts each;
    the first one paid."""
    result = []
    for i in range(n):
        u, employment = worker(
            db,
            world.orgs[OrganisationSize.SMALL],
            first_name=names[0],
            last_name=f"{names[1]}{i}",
        )
        v = grant(db, u, world.childcare, employment, 400_00)
        c = submitted(db, v, (100_01, 33_33), vat=factories.vat(777))
        result.append(approve(db, c, world.operator))
    pay(db, result[0], world.operator)
    db.commit()
    return result


def _ledger_sum(db, measure, kind, flt=ALL, ref=None):
    conditions = [
        LedgerEntry.budget_line_id == measure.budget_line.id,
        LedgerEntry.kind == kind,
        flt.within(LedgerEntry.created_at),
    ]
    if ref:
        conditions.append(LedgerEntry.reference_type == ref)
    return int(
        db.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(*conditions))
    )


def _workbook(db, world, user, flt=ALL):
    summary = exports.project_summary(db, user, world.project, flt, TODAY, GENERATED)
    out = io.BytesIO()
    exports.write_xlsx(out, db, user, world.project, summary, KEY)
    return out.getvalue()


def _cents(value) -> int:
    return round(float(value) * 100)


@pytest.fixture
def english(app):
    """Exports in English (the language of the source strings) for these tests."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


@pytest.fixture
def world(reporting_world):
    """The reporting world (tests.fixtures_reporting) under a short name."""
    return reporting_world


# --- helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "amounts", "shares"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (10667, [10001, 3333], [8001, 2666]),
        (0, [5, 5], [0, 0]),
        (7, [0, 0], [7, 0]),
        (5, [], []),
    ],
)
def test_apportion_adds_up_to_the_total(total, amounts, shares):
    result = exports.apportion(total, amounts)
    assert result == shares
    assert sum(result) == (total if amounts else 0)


def test_pseudonyms_are_stable_keyed_and_not_the_id():
    first = exports.pseudonym(KEY, 42)
    assert first == exports.pseudonym(KEY, 42)
    assert first != exports.pseudonym(KEY, 43)
    assert first != exports.pseudonym("another-key", 42)
    assert first.startswith("W-") and len(first) == 14 and "42" not in first[2:4]


# --- XLSX ---------------------------------------------------------------------------------


def test_xlsx_summary_and_measures_equal_the_ledger(english, db, world):
    claims = _claims(db, world)
    book = load_workbook(io.BytesIO(_workbook(db, world, world.officer)))
    assert book.sheetnames == ["Summary", "Measures", "Expenses", "Indicators"]
    measures = list(book["Measures"].iter_rows(values_only=True))
    header, rows = measures[0], {r[0]: r for r in measures[1:]}
    assert header[:9] == (
        "Measure id",
        "Measure",
        "Kind of measure",
        "Allocated",
        "Reserved",
        "Spent",
        "of which reimbursement requests",
        "Paid",
        "Available",
    )
    for measure in (world.childcare, world.homecare):
        row = rows[measure.id]
        assert _cents(row[5]) == _ledger_sum(db, measure, LedgerKind.SPEND)
        assert _cents(row[7]) == _ledger_sum(db, measure, LedgerKind.PAY)
        allocated = _ledger_sum(db, measure, LedgerKind.ALLOCATE) + _ledger_sum(
            db, measure, LedgerKind.ADJUST
        )
        assert _cents(row[3]) == allocated
    assert _cents(rows[world.childcare.id][5]) == sum(c.approved_cents for c in claims)
    summary = dict(book["Summary"].iter_rows(values_only=True))
    assert summary["Project"] == world.project.title
    assert summary["Period"] == "since the start"
    measures_ = (world.childcare, world.homecare)
    assert _cents(summary["Spent in the period"]) == sum(
        _ledger_sum(db, m, LedgerKind.SPEND) for m in measures_
    )
    assert _cents(summary["Paid in the period"]) == sum(
        _ledger_sum(db, m, LedgerKind.PAY) for m in measures_
    )
    assert summary["Vouchers granted"] == len(claims)


def test_xlsx_expenses_add_up_to_the_approvals_in_the_ledger(english, db, world):
    claims = _claims(db, world)
    book = load_workbook(io.BytesIO(_workbook(db, world, world.officer)))
    rows = list(book["Expenses"].iter_rows(values_only=True))
    assert rows[0] == (
        "Claim id",
        "Worker (pseudonymous id)",
        "Measure",
        "Supplier VAT number",
        "Document number",
        "Document date",
        "Amount",
        "Reimbursed amount",
        "Decided on",
        "Paid on",
        "Status",
    )
    expenses = rows[1:]
    assert len(expenses) == 2 * len(claims)
    assert {r[0] for r in expenses} == {c.id for c in claims}
    assert {r[3] for r in expenses} == {factories.vat(777)}
    assert sum(_cents(r[7]) for r in expenses) == _ledger_sum(
        db, world.childcare, LedgerKind.SPEND, ref="claim"
    )
    # Per claim: 80% of 133.34 = 106.67, apportioned 80.01 + 26.66.
    first = [r for r in expenses if r[0] == claims[0].id]
    assert [(_cents(r[6]), _cents(r[7])) for r in first] == [(100_01, 80_01), (33_33, 26_66)]
    assert first[0][9] is not None and first[0][1] == exports.pseudonym(KEY, claims[0].worker_id)
    assert [r[9] for r in expenses if r[0] == claims[1].id] == [None, None]


def test_xlsx_period_takes_the_claims_decided_in_it(english, db, world):
    claims = _claims(db, world)
    claims[0].decided_at = utc(2025, 12, 31, 22)  # 31 December 23:00 in Rome
    db.commit()
    flt = ReportFilter(None, date(2026, 1, 1), None)
    book = load_workbook(io.BytesIO(_workbook(db, world, world.officer, flt)))
    ids = {r[0] for r in list(book["Expenses"].iter_rows(values_only=True))[1:]}
    assert ids == {c.id for c in claims[1:]}


def test_exports_name_no_worker(english, db, world):
    claims = _claims(db, world, 5, names=("Eleonora", "Zanichelli"))
    data = _workbook(db, world, world.officer)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = " ".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    csv_text = "".join(
        "".join(
            exports.csv_export(
                name,
                db,
                world.officer,
                world.project,
                ALL,
                KEY,
                lambda: exports.project_summary(
                    db, world.officer, world.project, ALL, TODAY, GENERATED
                ),
            )
        )
        for name in exports.CSV_LISTS
    )
    pdf = exports.pdf_bytes(
        exports.project_summary(db, world.officer, world.project, ALL, TODAY, GENERATED)
    )
    pdf_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for claim in claims:
        worker_ = db.get(User, claim.worker_id)
        for secret in (worker_.first_name, worker_.last_name, worker_.tax_code, worker_.email):
            assert secret not in text and secret not in csv_text and secret not in pdf_text
        assert exports.pseudonym(KEY, worker_.id) in text
        assert exports.pseudonym(KEY, worker_.id) in csv_text


def test_operators_export_their_alliance_only(app, db, world):
    _claims(db, world)
    other_operator = factories.user(db, Role.OPERATOR, all_=world.sibling_project.alliance)
    rows = list(exports.expenses(db, other_operator, world.project, ALL, KEY))
    assert rows == []
    assert len(list(exports.expenses(db, world.operator, world.project, ALL, KEY))) == 6


# --- PDF and CSV ----------------------------------------------------------------------------


def test_pdf_has_the_euro_sign_and_opens(english, db, world):
    claims = _claims(db, world)
    summary = exports.project_summary(db, world.officer, world.project, ALL, TODAY, GENERATED)
    data = exports.pdf_bytes(summary)
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    spent = sum(c.approved_cents for c in claims)
    assert spent == 3 * 106_67  # 80% of 133.34 each
    assert "€" in text and format_money(spent) in text
    assert world.project.title in text and "Summary" in text
    assert reader.metadata.title.startswith("Rendicontazione")
    assert reader.metadata.creation_date.year == 2026
    # Same report, same moment: the same bytes.
    assert exports.pdf_bytes(summary) == data


def test_csv_lists_stream_with_their_columns(english, db, world):
    claims = _claims(db, world)
    pieces = list(exports.csv_lines(["a", "b"], ([i, exports.Cents(i)] for i in range(1200))))
    assert len(pieces) == 3 and pieces[0].startswith("\ufeffa,b\r\n0,0.00\r\n")
    text = "".join(exports.csv_export("expenses", db, world.officer, world.project, ALL, KEY, None))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "Claim id" and len(rows) == 1 + 2 * len(claims)
    assert rows[1][5] == "2026-05-20" and rows[1][7] == "80.01"
    assert sum(int(r[7].replace(".", "")) for r in rows[1:]) == sum(
        c.approved_cents for c in claims
    )


def test_downloads_over_http(client, auth, db, world):
    _claims(db, world)
    client.get("/?lang=en")
    assert auth.login(world.officer).status_code == 302
    # buffered: the body is read in the request's own thread (see IsolatedClient), as
    # a WSGI server does.
    xlsx = client.get(f"/network/reports/{world.project.id}.xlsx?from=2026-01-01", buffered=True)
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in xlsx.headers["Content-Disposition"]
    assert xlsx.headers["Cache-Control"] == "private, no-store"
    assert load_workbook(io.BytesIO(xlsx.data)).sheetnames[2] == "Expenses"
    csv_response = client.get(f"/network/reports/{world.project.id}/measures.csv", buffered=True)
    assert csv_response.mimetype == "text/csv"
    body = csv_response.get_data(as_text=True)
    assert body.startswith("\ufeffMeasure id,Measure,Kind of measure")
    assert world.childcare.title in body
    pdf = client.get(f"/network/reports/{world.project.id}.pdf", buffered=True)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


# --- 100,000 claims -------------------------------------------------------------------------


def _bulk_claims(db, world, count: int) -> None:
    """``count`` approved claims with a receipt each, inserted in bulk (core INSERTs)."""
    measure = world.childcare
    workers = 500
    db.execute(
        insert(User),
        [
            {
                "email": f"bulk{i}@example.org",
                "password_hash": "x",
                "first_name": "Bulk",
                "last_name": f"Worker{i}",
                "tax_code": f"BLKWRK{i:010d}",
                "role": Role.WORKER,
            }
            for i in range(workers)
        ],
    )
    worker_ids = db.scalars(select(User.id).where(User.email.like("bulk%"))).all()
    db.execute(
        insert(Application),
        [
            {
                "worker_id": w,
                "measure_id": measure.id,
                "amount_requested_cents": 10_000_00,
                "status": ApplicationStatus.APPROVED,
            }
            for w in worker_ids
        ],
    )
    applications = db.execute(
        select(Application.id, Application.worker_id).where(Application.worker_id.in_(worker_ids))
    ).all()
    db.execute(
        insert(Voucher),
        [
            {
                "application_id": a,
                "worker_id": w,
                "measure_id": measure.id,
                "budget_line_id": measure.budget_line.id,
                "amount_cents": 10_000_00,
                "valid_from": date(2026, 1, 1),
                "valid_until": date(2026, 12, 31),
            }
            for a, w in applications
        ],
    )
    vouchers = db.execute(
        select(Voucher.id, Voucher.worker_id).where(Voucher.measure_id == measure.id)
    ).all()
    decided = datetime(2026, 3, 1, tzinfo=UTC)
    batch = 10_000
    first_id = (db.scalar(select(func.max(Claim.id))) or 0) + 1
    for start in range(0, count, batch):
        ids = range(first_id + start, first_id + min(start + batch, count))
        db.execute(
            insert(Claim),
            [
                {
                    "id": i,
                    "voucher_id": vouchers[i % len(vouchers)][0],
                    "worker_id": vouchers[i % len(vouchers)][1],
                    "status": ClaimStatus.APPROVED,
                    "requested_cents": 80_00,
                    "approved_cents": 80_00,
                    "submitted_at": decided - timedelta(days=3),
                    "decided_at": decided,
                }
                for i in ids
            ],
        )
        db.execute(
            insert(Receipt),
            [
                {
                    "claim_id": i,
                    "storage_key": f"bulk-{i}",
                    "original_filename": "r.pdf",
                    "content_type": "application/pdf",
                    "size_bytes": 1,
                    "sha256": f"{i:064d}",
                    "supplier_name": "Fornitore",
                    "supplier_vat": "01234567890",
                    "document_number": f"N{i}",
                    "issued_on": date(2026, 2, 1),
                    "amount_cents": 100_00,
                }
                for i in ids
            ],
        )
    db.commit()


@pytest.mark.slow
def test_100k_claims_stream_in_bounded_memory(english, db, world):
    count = 100_000
    _bulk_claims(db, world, count)
    ledger_at(db, world.childcare.budget_line.id, LedgerKind.SPEND, 1, utc(2026, 3, 1), "claim")
    db.commit()
    summary = exports.project_summary(db, world.officer, world.project, ALL, TODAY, GENERATED)

    # The CSV under tracemalloc (Python's own allocations).
    tracemalloc.start()
    started = time.perf_counter()
    rows = size = 0
    for piece in exports.csv_export(
        "expenses", db, world.officer, world.project, ALL, KEY, lambda: summary
    ):
        rows += piece.count("\r\n")
        size += len(piece)
    csv_seconds = time.perf_counter() - started
    _current, csv_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # The workbook by the process's peak resident memory: tracemalloc would not see what
    # lxml allocates, and it slows openpyxl's many small objects five-fold.
    rss_before = _reset_peak_rss()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        exports.write_xlsx(out, db, world.officer, world.project, summary, KEY)
        xlsx_size = out.tell()
        xlsx_seconds = time.perf_counter() - started
        xlsx_growth = _peak_rss() - rss_before
        out.seek(0)
        with zipfile.ZipFile(out) as archive, archive.open("xl/worksheets/sheet3.xml") as sheet:
            xlsx_rows = _count_rows(sheet)

    print(
        f"\n100k claims [{db.get_bind().dialect.name}]: CSV {size / 1e6:.1f} MB in "
        f"{csv_seconds:.1f} s, tracemalloc peak {csv_peak / 1e6:.1f} MB; XLSX "
        f"{xlsx_size / 1e6:.1f} MB in {xlsx_seconds:.1f} s, peak RSS growth "
        f"{xlsx_growth / 1e6:.1f} MB"
    )
    assert rows == count + 1  # the header and one line per receipt
    assert xlsx_rows == count + 1
    # The CSV text alone is about 10 MB: streaming keeps a small part of it in memory.
    assert csv_peak < 20 * 1024 * 1024 and csv_peak < size / 2
    # 0 where /proc is missing: the assertion then holds trivially.
    assert xlsx_growth < 60 * 1024 * 1024


def _count_rows(sheet) -> int:
    """Rows of a worksheet's XML, read a piece at a time (a tag may span two pieces)."""
    rows, tail = 0, b""
    for chunk in iter(lambda: sheet.read(1 << 16), b""):
        data = tail + chunk
        rows += data.count(b"<row ")
        tail = data[-4:]
    return rows


def _peak_rss() -> int:
    """The process's peak resident memory in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak_rss() -> int:
    """Reset the peak to the current resident memory (Linux), and return it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    return _peak_rss()
