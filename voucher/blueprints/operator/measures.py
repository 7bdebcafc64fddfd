"""Operator area: one measure's budget and settings, and the changes an operator makes.

Allocation (never below reserved + spent), application window, four-eyes threshold and
moves of budget to another measure of the same project. Measures load through the access
rules, so another alliance's measure answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from voucher.blueprints.admin.forms import ALLOCATION_LABELS, MEASURE_KIND_LABELS
from voucher.blueprints.common import apply_errors, current_actor, get_visible_or_404, role_required
from voucher.blueprints.operator import bp, forms
from voucher.extensions import db
from voucher.i18n import format_money
from voucher.models import (
    Application,
    ApplicationStatus,
    LedgerEntry,
    Measure,
    Role,
    User,
)
from voucher.services import budgets, clock
from voucher.services.access import visible
from voucher.services.errors import Conflict, ValidationFailed

LEDGER_SHOWN = 50
FORM_NAMES = ("allocation", "window", "four_eyes", "move")


@bp.route("/measures/<int:measure_id>")
@role_required(Role.OPERATOR)
def measure(measure_id: int):
    """A measure's budget, its latest movements and the forms to change it."""
    return _page(get_visible_or_404(Measure, measure_id))


@bp.route("/measures/<int:measure_id>/allocation", methods=["POST"])
@role_required(Role.OPERATOR)
def measure_allocation(measure_id: int):
    """Raise or lower the allocation (never below what is reserved and spent)."""

    def act(m: Measure, form: FlaskForm) -> str:
        promoted = budgets.set_allocation(
            db.session,
            m,
            current_actor(),
            form.allocated_cents.data,
            form.reason.data or "",
            today=clock.today(),
        )
        return _promoted(_("Allocation changed."), promoted)

    return _change(measure_id, "allocation", act)


@bp.route("/measures/<int:measure_id>/window", methods=["POST"])
@role_required(Role.OPERATOR)
def measure_window(measure_id: int):
    """Open, move or close the application window."""

    def act(m: Measure, form: FlaskForm) -> str:
        budgets.set_window(db.session, m, current_actor(), form.opens_on.data, form.closes_on.data)
        return _("Application window changed.")

    return _change(measure_id, "window", act)


@bp.route("/measures/<int:measure_id>/four-eyes", methods=["POST"])
@role_required(Role.OPERATOR)
def measure_four_eyes(measure_id: int):
    """Set or remove the amount above which a claim needs a second operator."""

    def act(m: Measure, form: FlaskForm) -> str:
        budgets.set_four_eyes(db.session, m, current_actor(), form.threshold_cents.data)
        return _("Four-eyes rule changed.")

    return _change(measure_id, "four_eyes", act)


@bp.route("/measures/<int:measure_id>/move", methods=["POST"])
@role_required(Role.OPERATOR)
def measure_move(measure_id: int):
    """Move budget from this measure to another of the same project."""

    def act(m: Measure, form: FlaskForm) -> str:
        target = get_visible_or_404(Measure, form.target.data)
        promoted = budgets.move_budget(
            db.session,
            m,
            target,
            form.amount_cents.data,
            current_actor(),
            form.reason.data,
            today=clock.today(),
        )
        return _promoted(
            _(
                "%(amount)s moved to “%(measure)s”.",
                amount=format_money(form.amount_cents.data),
                measure=target.title,
            ),
            promoted,
        )

    return _change(measure_id, "move", act)


# --- internals --------------------------------------------------------------------------


def _change(measure_id: int, name: str, act: Callable[[Measure, FlaskForm], str]):
    """Validate the posted form, make the change, commit; otherwise show the page again."""
    m = get_visible_or_404(Measure, measure_id)
    form = forms.build(name)
    if name == "move":
        form.target.choices = _targets(m)
    if form.validate_on_submit():
        try:
            done = act(m, form)
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        except Conflict as exc:
            # The budget changed meanwhile (a voucher was granted): nothing was written.
            db.session.rollback()
            form.form_errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(done, "success")
            return redirect(url_for("operator.measure", measure_id=m.id))
    return _page(m, {name: form})


def _page(m: Measure, posted: dict[str, FlaskForm] | None = None):
    """Render the measure's page; ``posted`` holds a submitted form to show with its input."""
    posted = posted or {}
    line = m.budget_line
    page_forms = {name: posted.get(name) or _prefilled(name, m) for name in FORM_NAMES}
    entries = []
    actors: dict[int, User] = {}
    if line is not None:
        entries = list(
            db.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.budget_line_id == line.id)
                .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
                .limit(LEDGER_SHOWN)
            ).all()
        )
        ids = {e.actor_id for e in entries if e.actor_id is not None}
        actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    waiting = db.session.scalar(
        select(func.count(Application.id)).where(
            Application.measure_id == m.id,
            Application.status == ApplicationStatus.WAITLISTED,
        )
    )
    today = clock.today()
    return render_template(
        "operator/measure.html",
        measure=m,
        project=m.project,
        line=line,
        entries=entries,
        actors=actors,
        waiting=int(waiting or 0),
        today=today,
        is_open=m.is_open_on(today),
        has_targets=bool(_targets(m)),
        forms=page_forms,
        kind_labels=MEASURE_KIND_LABELS,
        allocation_labels=ALLOCATION_LABELS,
    )


def _prefilled(name: str, m: Measure) -> FlaskForm:
    """A form showing the measure's current values (it does not read the request)."""
    values: dict[str, Any] = {
        "allocation": {"allocated_cents": m.budget_line.allocated_cents if m.budget_line else 0},
        "window": {"opens_on": m.opens_on, "closes_on": m.closes_on},
        "four_eyes": {"threshold_cents": m.four_eyes_threshold_cents},
        "move": {},
    }[name]
    form = forms.build(name, formdata=None, data=values)
    if name == "move":
        form.target.choices = _targets(m)
    return form


def _targets(m: Measure) -> list[SelectChoice]:
    """The other measures of the same project, where budget can be moved to."""
    others = db.session.scalars(
        visible(Measure, current_user)
        .where(Measure.project_id == m.project_id, Measure.id != m.id)
        .order_by(Measure.title, Measure.id)
    ).all()
    return [SelectChoice(o.id, o.title) for o in others]


def _promoted(text: str, promoted: list[Application]) -> str:
    """A confirmation, adding how many waiting applications the change approved."""
    if not promoted:
        return text
    return " ".join([text, approved_from_waitlist(len(promoted))])


def approved_from_waitlist(count: int) -> str:
    """How many waiting applications a change of budget approved, in words."""
    return ngettext(
        "%(num)d waiting application has been approved.",
        "%(num)d waiting applications have been approved.",
        count,
    )
