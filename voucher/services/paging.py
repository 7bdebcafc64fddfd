"""List pages that cost the same with a thousand rows or a million: one query per page.

:func:`paginate` reads one page of a statement with LIMIT/OFFSET and, as an extra column
of the same query, counts the matching rows only up to :data:`COUNT_CAP` (past it a list
says "1000+"): an exact ``COUNT(*)`` would read every matching row on every visit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, literal, select
from sqlalchemy.orm import Session

# Rows counted at most; a list with more shows "1000+" and keeps a "Next" link.
COUNT_CAP = 1000


@dataclass
class Page:
    """One page of a list, with the attributes of Flask-SQLAlchemy's Pagination that the
    ``pager`` macro uses."""

    items: list[Any]
    page: int
    per_page: int
    total: int  # exact up to COUNT_CAP, else COUNT_CAP
    capped: bool  # more rows than COUNT_CAP match

    @property
    def total_label(self) -> str:
        """The count as a list shows it: "12", or "1000+" past the cap."""
        return f"{self.total}+" if self.capped else str(self.total)

    @property
    def pages(self) -> int:
        known = math.ceil(self.total / self.per_page) if self.total else 0
        if self.capped:
            # Past the counted rows the pages go on as long as they are full.
            return max(known, self.page + (1 if len(self.items) == self.per_page else 0))
        return known

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    def iter_pages(
        self, left_edge: int = 2, left_current: int = 2, right_current: int = 4, right_edge: int = 2
    ) -> Iterator[int | None]:
        """Page numbers to link, with None where a gap is shown ("…")."""
        pages = self.pages
        if not pages:
            return
        left_end = min(1 + left_edge, pages + 1)
        yield from range(1, left_end)
        if left_end == pages + 1:
            return
        mid_start = max(left_end, self.page - left_current)
        mid_end = min(self.page + right_current + 1, pages + 1)
        if mid_start - left_end > 0:
            yield None
        yield from range(mid_start, mid_end)
        if mid_end == pages + 1:
            return
        right_start = max(mid_end, pages - right_edge + 1)
        if right_start - mid_end > 0:
            yield None
        yield from range(right_start, pages + 1)


def capped_count(stmt: Select[Any], cap: int = COUNT_CAP) -> Any:
    """A scalar subquery: how many rows ``stmt`` selects, counting at most ``cap + 1``."""
    # Counted on a constant column, not the rows' own: the subquery then carries no data
    # (an entity's every column, read a thousand times on every visit of a list).
    limited = (
        stmt.with_only_columns(literal(1), maintain_column_froms=True)
        .order_by(None)
        .limit(literal(cap + 1, Integer, literal_execute=True))
        .subquery()
    )
    return select(func.count()).select_from(limited).scalar_subquery()


def inline_integer(name: str) -> Any:
    """A bind parameter for LIMIT or OFFSET whose value is written into the SQL text when
    the statement runs, rather than sent apart.

    PostgreSQL reuses the plan of a prepared statement only when a plan for any value of
    its parameters costs no more than one made for the values at hand. A LIMIT it cannot
    see makes it assume a tenth of the rows: the review queue's plan then sorts every
    request of the alliance, so PostgreSQL planned the queue afresh on every visit (0.8 ms,
    more than running it). Written in, LIMIT 50 is part of the text: one prepared statement
    per page number, planned once.
    """
    return bindparam(name, type_=Integer, literal_execute=True)


def page_number(value: str | None) -> int:
    """The ``?page=`` argument as a page number (1 when missing or invalid)."""
    return int(value) if value and value.isdigit() and 0 < int(value) < 1_000_000 else 1


def paginate(
    session: Session,
    stmt: Select[Any],
    page: int,
    per_page: int,
    count: Select[Any] | None = None,
) -> Page:
    """Page ``page`` of ``stmt`` (an ORM select of one entity) and its capped count, in one
    query. ``count``: the statement whose rows are counted, if not ``stmt`` itself."""
    count = stmt if count is None else count
    return paginate_prepared(session, paged_statement(stmt, count), count, page, per_page)


def paged_statement(stmt: Select[Any], count: Select[Any]) -> Select[Any]:
    """``stmt`` with the capped count of ``count``'s rows as an extra column, and LIMIT and
    OFFSET as the parameters ``page_limit`` and ``page_offset`` (:func:`inline_integer`): a
    statement a hot page can build once and run for any page (:func:`paginate_prepared`)."""
    return (
        stmt.add_columns(capped_count(count))
        .limit(inline_integer("page_limit"))
        .offset(inline_integer("page_offset"))
    )


def paginate_prepared(
    session: Session,
    paged: Select[Any],
    count: Select[Any],
    page: int,
    per_page: int,
    params: dict[str, Any] | None = None,
    item: Callable[[Sequence[Any]], Any] | None = None,
) -> Page:
    """Page ``page`` of a :func:`paged_statement` (``params``: its other bind parameters).

    Each row's first column is an item (an ORM entity), or ``item`` makes one from the row's
    columns without the count (a statement of plain columns)."""
    page = max(page, 1)
    params = params or {}
    rows = session.execute(
        paged, {**params, "page_limit": per_page, "page_offset": (page - 1) * per_page}
    ).all()
    items = [row[0] for row in rows] if item is None else [item(row[:-1]) for row in rows]
    if rows:
        counted = int(rows[0][-1])
    elif page == 1:
        counted = 0
    else:
        # Past the end: count on its own, so the pager still leads back.
        counted = int(session.scalar(select(capped_count(count)), params) or 0)
    return Page(
        items=items,
        page=page,
        per_page=per_page,
        total=min(counted, COUNT_CAP),
        capped=counted > COUNT_CAP,
    )
