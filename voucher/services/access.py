"""What each person may see: one place that scopes every query by role.

Views load objects through :func:`visible` (or ``get_visible_or_404`` in the blueprints),
never with a bare ``session.get``, so a foreign object is simply not found.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, bindparam, false, select, true

from voucher.models import (
    Alliance,
    Application,
    Booking,
    BudgetLine,
    Claim,
    Dependant,
    Employment,
    Measure,
    MeasureKind,
    Network,
    Organisation,
    Partnership,
    Payout,
    PayoutLine,
    Project,
    ProviderStatement,
    Receipt,
    Role,
    Service,
    Slot,
    User,
    Voucher,
    VoucherStatus,
)

T = TypeVar("T")
Rule = Callable[[User], ColumnElement[bool]]


def _partner_of_alliances(alliance_ids: Any) -> ColumnElement[bool]:
    return Organisation.id.in_(
        select(Partnership.organisation_id).where(Partnership.alliance_id.in_(alliance_ids))
    )


def _alliances_of_network(user: User) -> Any:
    return select(Alliance.id).where(Alliance.network_id == user.network_id)


def _projects_of_alliances(alliance_ids: Any) -> Any:
    return select(Project.id).where(Project.alliance_id.in_(alliance_ids))


def _measures_of_projects(project_ids: Any) -> Any:
    return select(Measure.id).where(Measure.project_id.in_(project_ids))


def _own_alliance(user: User) -> Any:
    return select(Alliance.id).where(Alliance.id == user.alliance_id)


def _measures_of_alliances(alliance_ids: Any) -> Any:
    return _measures_of_projects(_projects_of_alliances(alliance_ids))


def _vouchers_of_alliances(alliance_ids: Any) -> Any:
    return select(Voucher.id).where(Voucher.measure_id.in_(_measures_of_alliances(alliance_ids)))


def _claims_of_alliances(alliance_ids: Any) -> Any:
    return select(Claim.id).where(Claim.voucher_id.in_(_vouchers_of_alliances(alliance_ids)))


def _money_rules(scope: Callable[[User], Any]) -> dict[type, Rule]:
    """Applications, vouchers, claims and receipts of the alliances ``scope`` selects."""
    return {
        Application: lambda u: Application.measure_id.in_(_measures_of_alliances(scope(u))),
        Voucher: lambda u: Voucher.measure_id.in_(_measures_of_alliances(scope(u))),
        # Row by row (EXISTS on the voucher's primary key), not IN (every voucher of the
        # alliances): a page of the queue then reads its fifty rows, not the whole list.
        Claim: lambda u: (
            select(Voucher.id)
            .where(
                Voucher.id == Claim.voucher_id,
                Voucher.measure_id.in_(_measures_of_alliances(scope(u))),
            )
            .exists()
        ),
        Receipt: lambda u: Receipt.claim_id.in_(_claims_of_alliances(scope(u))),
        Payout: lambda u: Payout.project_id.in_(_projects_of_alliances(scope(u))),
        PayoutLine: lambda u: PayoutLine.payout_id.in_(
            select(Payout.id).where(Payout.project_id.in_(_projects_of_alliances(scope(u))))
        ),
        # Time-saving services: bookings paid by the alliances' vouchers, the statements
        # of what they owe providers, and the partners' services and slots.
        Booking: lambda u: Booking.voucher_id.in_(_vouchers_of_alliances(scope(u))),
        ProviderStatement: lambda u: ProviderStatement.alliance_id.in_(scope(u)),
        Service: lambda u: Service.organisation_id.in_(_partner_ids_of_alliances(scope(u))),
        Slot: lambda u: Slot.service_id.in_(
            select(Service.id).where(
                Service.organisation_id.in_(_partner_ids_of_alliances(scope(u)))
            )
        ),
    }


def _partner_ids_of_alliances(alliance_ids: Any) -> Any:
    return select(Partnership.organisation_id).where(Partnership.alliance_id.in_(alliance_ids))


def _services_for_worker(user: User) -> ColumnElement[bool]:
    alliances = (
        select(Project.alliance_id)
        .join(Measure, Measure.project_id == Project.id)
        .join(Voucher, Voucher.measure_id == Measure.id)
        .where(
            Voucher.worker_id == user.id,
            Voucher.status == VoucherStatus.ACTIVE,
            Measure.kind.in_((MeasureKind.TIME_SAVING, MeasureKind.COWORKING)),
        )
    )
    return Service.active.is_(True) & Service.organisation_id.in_(
        _partner_ids_of_alliances(alliances)
    )


def _services_of_provider(user: User) -> Any:
    return select(Service.id).where(Service.organisation_id == user.organisation_id)


# (model, role) -> condition. Anything missing is invisible to that role.
RULES: dict[tuple[type, Role], Rule] = {
    # Network officers: every alliance of their network, read-only.
    (Network, Role.NETWORK): lambda u: Network.id == u.network_id,
    (Alliance, Role.NETWORK): lambda u: Alliance.network_id == u.network_id,
    (Project, Role.NETWORK): lambda u: Project.alliance_id.in_(_alliances_of_network(u)),
    (Measure, Role.NETWORK): lambda u: Measure.project_id.in_(
        _projects_of_alliances(_alliances_of_network(u))
    ),
    (BudgetLine, Role.NETWORK): lambda u: BudgetLine.measure_id.in_(
        _measures_of_projects(_projects_of_alliances(_alliances_of_network(u)))
    ),
    (Organisation, Role.NETWORK): lambda u: _partner_of_alliances(_alliances_of_network(u)),
    # Operators: everything of their alliance.
    (Network, Role.OPERATOR): lambda u: Network.id.in_(
        select(Alliance.network_id).where(Alliance.id == u.alliance_id)
    ),
    (Alliance, Role.OPERATOR): lambda u: Alliance.id == u.alliance_id,
    (Project, Role.OPERATOR): lambda u: Project.alliance_id == u.alliance_id,
    (Measure, Role.OPERATOR): lambda u: Measure.project_id.in_(
        _projects_of_alliances(_own_alliance(u))
    ),
    (BudgetLine, Role.OPERATOR): lambda u: BudgetLine.measure_id.in_(
        _measures_of_projects(_projects_of_alliances(_own_alliance(u)))
    ),
    (Organisation, Role.OPERATOR): lambda u: _partner_of_alliances(_own_alliance(u)),
    # HR: their organisation, and the declarations made to it (not dependants).
    (Organisation, Role.HR): lambda u: Organisation.id == u.organisation_id,
    (Employment, Role.HR): lambda u: Employment.organisation_id == u.organisation_id,
    (User, Role.HR): lambda u: User.id.in_(
        select(Employment.worker_id).where(Employment.organisation_id == u.organisation_id)
    ),
    # Providers: their own organisation.
    (Organisation, Role.PROVIDER): lambda u: Organisation.id == u.organisation_id,
    (Service, Role.PROVIDER): lambda u: Service.organisation_id == u.organisation_id,
    (Slot, Role.PROVIDER): lambda u: Slot.service_id.in_(_services_of_provider(u)),
    (Booking, Role.PROVIDER): lambda u: Booking.service_id.in_(_services_of_provider(u)),
    (ProviderStatement, Role.PROVIDER): lambda u: (
        ProviderStatement.organisation_id == u.organisation_id
    ),
    # Workers: their own data; the catalogue of partners and measures is public.
    (User, Role.WORKER): lambda u: User.id == u.id,
    (Employment, Role.WORKER): lambda u: Employment.worker_id == u.id,
    (Dependant, Role.WORKER): lambda u: Dependant.worker_id == u.id,
    (Organisation, Role.WORKER): lambda u: Organisation.id.in_(select(Partnership.organisation_id)),
    (Application, Role.WORKER): lambda u: Application.worker_id == u.id,
    (Voucher, Role.WORKER): lambda u: Voucher.worker_id == u.id,
    (Claim, Role.WORKER): lambda u: Claim.worker_id == u.id,
    (Booking, Role.WORKER): lambda u: Booking.worker_id == u.id,
    # Services open to the worker's vouchers: active ones of partners of the alliances
    # whose time-saving or coworking vouchers they hold (which voucher pays for which
    # service is the bookings service's business).
    (Service, Role.WORKER): lambda u: _services_for_worker(u),
    (Slot, Role.WORKER): lambda u: Slot.service_id.in_(
        select(Service.id).where(_services_for_worker(u))
    ),
    (Receipt, Role.WORKER): lambda u: Receipt.claim_id.in_(
        select(Claim.id).where(Claim.worker_id == u.id)
    ),
    (Measure, Role.WORKER): lambda u: true(),
    (Project, Role.WORKER): lambda u: true(),
    (Alliance, Role.WORKER): lambda u: true(),
}
# Operators decide on their alliance's money; network officers see their network's, read-only.
for _model, _rule in _money_rules(_own_alliance).items():
    RULES[(_model, Role.OPERATOR)] = _rule
for _model, _rule in _money_rules(_alliances_of_network).items():
    RULES[(_model, Role.NETWORK)] = _rule


def condition(model: type, user: User) -> ColumnElement[bool]:
    """The WHERE clause that limits ``model`` to what ``user`` may see."""
    return _rule(model, user.role, user)


def _rule(model: type, role: Role, who: Any) -> ColumnElement[bool]:
    if role is Role.ADMIN:
        return true()
    rule = RULES.get((model, role))
    return rule(who) if rule is not None else false()


class _Scope:
    """Bind parameters in place of a person's ids: the rules above, applied to this, give a
    condition that is built once per role and runs for anyone of it, with the values of
    :func:`scope_params`. A missing id compares ``= NULL``, which matches nothing."""

    id = bindparam("scope_user_id", type_=Integer)
    alliance_id = bindparam("scope_alliance_id", type_=Integer)
    network_id = bindparam("scope_network_id", type_=Integer)
    organisation_id = bindparam("scope_organisation_id", type_=Integer)


def scope_params(user: User) -> dict[str, int | None]:
    """The values of a statement from :func:`visible_to_role` for ``user``."""
    return {
        "scope_user_id": user.id,
        "scope_alliance_id": user.alliance_id,
        "scope_network_id": user.network_id,
        "scope_organisation_id": user.organisation_id,
    }


@cache
def visible_to_role(model: type, role: Role) -> Select:
    """``select(model)`` limited by ``role``'s rule, with the person's ids as bind parameters.

    The statement is made once per (model, role) and extended into statements that are
    themselves made once (``get_visible_or_404(..., loads=...)``, the review queue): on the
    pages everyone opens all day, building a statement and its cache key cost more than
    running it.
    """
    return select(model).where(_rule(model, role, _Scope))


def visible(model: type[T], user: User, stmt: Select | None = None) -> Select:
    """``stmt`` (default ``select(model)``) limited to the rows ``user`` may see."""
    stmt = select(model) if stmt is None else stmt
    return stmt.where(condition(model, user))
