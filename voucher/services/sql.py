"""SQL expressions that SQLite and PostgreSQL spell differently, compiled for each dialect.

Reports aggregate in the database (GROUP BY) rather than row by row in Python; these few
date helpers let one query text serve both backends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class days_between(FunctionElement):  # noqa: N801  (reads like the SQL function it stands for)
    """Days (with fractions) from the first timestamp to the second; NULL if either is."""

    type = Float()
    name = "days_between"
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    # PostgreSQL (and any backend with EXTRACT on an interval).
    start, end = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
        f"{compiler.process(start, **kw)})) / 86400.0)"
    )


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    # SQLite keeps timestamps as UTC text, which julianday() reads.
    start, end = list(element.clauses)
    return (
        f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
    )


class year_month(FunctionElement):  # noqa: N801
    """The timestamp's month as text, ``YYYY-MM``, in UTC on both backends."""

    # UTC rather than Italian time: SQLite has no time-zone rules, and a chart by month does
    # not change shape for the hour or two around midnight at a month's end.
    type = String()
    name = "year_month"
    inherit_cache = True


@compiles(year_month)
def _year_month_default(element: year_month, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"to_char(({compiler.process(value, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(year_month, "sqlite")
def _year_month_sqlite(element: year_month, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"strftime('%Y-%m', {compiler.process(value, **kw)})"
