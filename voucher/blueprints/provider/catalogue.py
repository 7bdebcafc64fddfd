"""Provider area: the organisation's services and their slots.

Services and slots load through the access rules (``get_visible_or_404``), so another
provider's service is simply not found (404).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from voucher.blueprints.common import (
    ActionForm,
    apply_errors,
    current_actor,
    get_visible_or_404,
    role_required,
    run_posted_action,
)
from voucher.blueprints.provider import bp
from voucher.blueprints.provider.forms import ServiceForm, SlotForm
from voucher.extensions import db
from voucher.models import Role, Service, Slot
from voucher.models.base import utcnow
from voucher.services import catalogue
from voucher.services.errors import ValidationFailed


@bp.route("/services")
@role_required(Role.PROVIDER)
def services():
    """The organisation's services, bookable ones first."""
    return render_template(
        "provider/services.html",
        services=catalogue.provider_services(db.session, current_actor()),
        kind_labels=catalogue.KIND_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


def _save(service: Service | None, form: ServiceForm) -> Service | None:
    try:
        saved = catalogue.save_service(
            db.session,
            service,
            current_actor(),
            kind=form.kind.data,
            title=form.title.data,
            description=form.description.data,
            unit=form.unit.data,
            price_cents=form.price_cents.data,
            place=form.place.data,
            minutes_saved_per_unit=form.minutes_saved_per_unit.data,
            cancellation_hours=form.cancellation_hours.data,
            accepts_card=form.accepts_card.data,
            active=form.active.data,
        )
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        apply_errors(form, exc)
        return None
    return saved


@bp.route("/services/new", methods=["GET", "POST"])
@role_required(Role.PROVIDER)
def service_new():
    """Describe a new service, with its price per unit."""
    form = ServiceForm()
    if form.validate_on_submit():
        saved = _save(None, form)
        if saved is not None:
            flash(_("Service created: now add the slots workers can book."), "success")
            return redirect(url_for("provider.service", service_id=saved.id))
    return render_template("provider/service_form.html", form=form, service=None)


@bp.route("/services/<int:service_id>/edit", methods=["GET", "POST"])
@role_required(Role.PROVIDER)
def service_edit(service_id: int):
    """Change a service; bookings already made keep the price they were made at."""
    item = get_visible_or_404(Service, service_id)
    form = ServiceForm(obj=item)
    if form.validate_on_submit() and _save(item, form) is not None:
        flash(_("Service saved."), "success")
        return redirect(url_for("provider.service", service_id=item.id))
    return render_template("provider/service_form.html", form=form, service=item)


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@role_required(Role.PROVIDER)
def service(service_id: int):
    """A service's upcoming slots, and the form to add more."""
    item = get_visible_or_404(Service, service_id)
    form = SlotForm()
    now = utcnow()
    if form.validate_on_submit():
        try:
            slots = catalogue.add_slots(
                db.session,
                item,
                current_actor(),
                day=form.day.data,
                start=form.start.data,
                end=form.end.data,
                capacity=form.capacity.data,
                weeks=form.weeks.data,
                now=now,
            )
            db.session.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            flash(ngettext("%(num)d slot added.", "%(num)d slots added.", len(slots)), "success")
            return redirect(url_for("provider.service", service_id=item.id))
    return render_template(
        "provider/service.html",
        service=item,
        slots=catalogue.upcoming_slots(db.session, item, now),
        form=form,
        action=ActionForm(),
        kind_labels=catalogue.KIND_LABELS,
        unit_labels=catalogue.UNIT_LABELS,
    )


@bp.route("/slots/<int:slot_id>/remove", methods=["POST"])
@role_required(Role.PROVIDER)
def slot_remove(slot_id: int):
    """Remove a slot nobody has booked."""
    slot = get_visible_or_404(Slot, slot_id)
    service_id = slot.service_id
    run_posted_action(
        lambda: catalogue.remove_slot(db.session, slot, current_actor()), _("Slot removed.")
    )
    return redirect(url_for("provider.service", service_id=service_id))
