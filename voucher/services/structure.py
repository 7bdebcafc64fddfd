"""Programme structure: programmes, networks, organisations, alliances, projects, measures.

Every function validates the whole input first (so nothing is half-saved), then writes
and records an audit event. Callers commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voucher.crypto import blind_index
from voucher.models import (
    ROLE_SCOPE,
    Alliance,
    Allocation,
    BudgetLine,
    Eligibility,
    Measure,
    MeasureKind,
    Network,
    Organisation,
    OrganisationKind,
    OrganisationSize,
    Partnership,
    Programme,
    Project,
    Role,
    User,
)
from voucher.services import accounts, audit, budget, identifiers
from voucher.services.errors import ValidationFailed

# DGR 5755/2021 and the territorial plans: at least four partners, at least one public.
ALLIANCE_MIN_PARTNERS = 4
ALLIANCE_MIN_PUBLIC_PARTNERS = 1


class _Errors:
    """Collects every problem with an input so the form can show them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[Any]] = {}

    def add(self, field: str, message: Any) -> None:
        self.errors.setdefault(field, []).append(message)

    def check(self, func_: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a validator; keep its messages instead of stopping at the first failure."""
        try:
            return func_(*args, **kwargs)
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    self.add(field, message)
            return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def _taken(
    session: Session, column: Any, value: Any, own: Any | None, casefold: bool = False
) -> bool:
    """Whether another row than ``own`` already has ``value`` in the unique ``column``."""
    model = column.class_
    stmt = select(model.id).where(
        func.lower(column) == value.strip().lower() if casefold else column == value
    )
    if own is not None and own.id is not None:
        stmt = stmt.where(model.id != own.id)
    return session.scalar(stmt.limit(1)) is not None


def _check_period(errors: _Errors, starts_on: date, ends_on: date, field: str = "ends_on") -> None:
    if starts_on and ends_on and ends_on < starts_on:
        errors.add(field, _l("The end date must not be before the start date."))


# --- programmes -------------------------------------------------------------------------


def save_programme(
    session: Session,
    actor: User | None,
    *,
    name: str,
    legal_reference: str,
    starts_on: date,
    ends_on: date,
    description: str = "",
    max_regional_share_pct: int = 70,
    regional_cap_cents: int | None = None,
    programme: Programme | None = None,
) -> Programme:
    """Create a programme, or update ``programme``, after checking its rules."""
    errors = _Errors()
    _check_period(errors, starts_on, ends_on)
    if not 0 < max_regional_share_pct <= 100:
        errors.add("max_regional_share_pct", _l("The share is a percentage between 1 and 100."))
    if regional_cap_cents is not None and regional_cap_cents <= 0:
        errors.add("regional_cap_cents", _l("The cap must be greater than zero."))
    if _taken(session, Programme.name, name, programme, casefold=True):
        errors.add("name", _l("A programme with this name already exists."))
    errors.raise_if_any()
    creating = programme is None
    programme = programme or Programme()
    programme.name = name.strip()
    programme.legal_reference = legal_reference.strip()
    programme.description = description
    programme.starts_on = starts_on
    programme.ends_on = ends_on
    programme.max_regional_share_pct = max_regional_share_pct
    programme.regional_cap_cents = regional_cap_cents
    session.add(programme)
    audit.record(session, "programme.create" if creating else "programme.update", programme, actor)
    return programme


# --- networks ---------------------------------------------------------------------------


def save_network(
    session: Session,
    actor: User | None,
    *,
    name: str,
    ats_name: str,
    territory: str = "",
    network: Network | None = None,
) -> Network:
    """Create a network, or update ``network``."""
    errors = _Errors()
    if _taken(session, Network.name, name, network, casefold=True):
        errors.add("name", _l("A network with this name already exists."))
    errors.raise_if_any()
    creating = network is None
    network = network or Network()
    network.name = name.strip()
    network.ats_name = ats_name.strip()
    network.territory = territory.strip()
    session.add(network)
    audit.record(session, "network.create" if creating else "network.update", network, actor)
    return network


# --- organisations ----------------------------------------------------------------------


def save_organisation(
    session: Session,
    actor: User | None,
    *,
    name: str,
    kind: OrganisationKind,
    size: OrganisationSize,
    tax_code: str,
    vat_number: str | None = None,
    municipality: str = "",
    email: str = "",
    iban: str | None = None,
    bic: str | None = None,
    organisation: Organisation | None = None,
) -> Organisation:
    """Create an organisation, or update ``organisation``; tax codes and IBAN are validated."""
    errors = _Errors()
    tax_code = errors.check(identifiers.organisation_tax_code, tax_code)
    vat = errors.check(identifiers.vat_number, vat_number) if vat_number else None
    iban_value = errors.check(identifiers.iban, iban) if iban else None
    bic_value = errors.check(identifiers.bic, bic) if bic else None
    if tax_code and _taken(session, Organisation.tax_code, tax_code, organisation):
        errors.add("tax_code", _l("An organisation with this codice fiscale already exists."))
    if vat and _taken(session, Organisation.vat_number, vat, organisation):
        errors.add("vat_number", _l("An organisation with this partita IVA already exists."))
    if organisation is not None and kind is not OrganisationKind.PUBLIC_BODY:
        leads = session.scalar(
            select(func.count()).select_from(Alliance).where(Alliance.lead_id == organisation.id)
        )
        if leads:
            errors.add("kind", _l("This organisation leads an alliance, so it must stay public."))
    errors.raise_if_any()
    creating = organisation is None
    organisation = organisation or Organisation()
    organisation.name = name.strip()
    organisation.kind = kind
    organisation.size = size
    organisation.tax_code = tax_code
    organisation.vat_number = vat
    organisation.municipality = municipality.strip()
    organisation.email = email.strip()
    organisation.iban = iban_value
    organisation.bic = bic_value
    session.add(organisation)
    audit.record(
        session, "organisation.create" if creating else "organisation.update", organisation, actor
    )
    return organisation


# --- alliances --------------------------------------------------------------------------


def _check_partnership(errors: _Errors, lead: Organisation, partners: list[Organisation]) -> None:
    if not lead.is_public:
        errors.add("lead", _l("The lead partner (capofila) must be a public body."))
    if len(partners) < ALLIANCE_MIN_PARTNERS:
        errors.add(
            "partners",
            _l(
                "An alliance needs at least %(count)d partners, the lead included.",
                count=ALLIANCE_MIN_PARTNERS,
            ),
        )
    if sum(1 for p in partners if p.is_public) < ALLIANCE_MIN_PUBLIC_PARTNERS:
        errors.add("partners", _l("At least one partner must be a public body."))


def save_alliance(
    session: Session,
    actor: User | None,
    *,
    network: Network,
    name: str,
    lead: Organisation,
    partners: Iterable[Organisation],
    alliance: Alliance | None = None,
) -> Alliance:
    """Create an alliance, or update ``alliance``, with its full list of partners."""
    members = {p.id: p for p in partners}
    members[lead.id] = lead
    partner_list = list(members.values())
    errors = _Errors()
    _check_partnership(errors, lead, partner_list)
    if _taken(session, Alliance.name, name, alliance, casefold=True):
        errors.add("name", _l("An alliance with this name already exists."))
    errors.raise_if_any()
    creating = alliance is None
    alliance = alliance or Alliance()
    alliance.network = network
    alliance.name = name.strip()
    alliance.lead = lead
    current = {p.organisation_id: p for p in alliance.partnerships}
    for org_id, partnership in current.items():
        if org_id not in members:
            alliance.partnerships.remove(partnership)
    for org_id, org in members.items():
        if org_id not in current:
            alliance.partnerships.append(Partnership(organisation=org))
    session.add(alliance)
    audit.record(
        session,
        "alliance.create" if creating else "alliance.update",
        alliance,
        actor,
        lead=lead.name,
        partners=sorted(p.name for p in partner_list),
    )
    return alliance


# --- projects ---------------------------------------------------------------------------


def check_project_funding(
    programme: Programme, total_cents: int, regional_share_cents: int, cofunding_cents: int
) -> dict[str, list[Any]]:
    """The problems with a project's funding split under ``programme``'s rules (empty if none)."""
    errors = _Errors()
    if total_cents <= 0:
        errors.add("total_cents", _l("The total cost must be greater than zero."))
    if regional_share_cents < 0 or cofunding_cents < 0:
        errors.add("regional_share_cents", _l("Amounts cannot be negative."))
    if regional_share_cents + cofunding_cents != total_cents:
        errors.add(
            "cofunding_cents",
            _l("The regional share and the co-funding must add up to the total cost."),
        )
    pct = programme.max_regional_share_pct
    if total_cents > 0 and regional_share_cents * 100 > pct * total_cents:
        errors.add(
            "regional_share_cents",
            _l(
                "The regional share cannot exceed %(pct)d%% of the total cost under this "
                "programme.",
                pct=pct,
            ),
        )
    cap = programme.regional_cap_cents
    if cap is not None and regional_share_cents > cap:
        errors.add(
            "regional_share_cents",
            _l(
                "The regional share cannot exceed %(cap)s per project under this programme.",
                cap=format_eur(cap),
            ),
        )
    return errors.errors


def format_eur(cents: int) -> str:
    """Euro amount in the current locale (falls back to Italian outside a request)."""
    from voucher.i18n import format_money

    return format_money(cents)


def save_project(
    session: Session,
    actor: User | None,
    *,
    alliance: Alliance,
    programme: Programme,
    title: str,
    starts_on: date,
    ends_on: date,
    total_cents: int,
    regional_share_cents: int,
    cofunding_cents: int,
    code: str = "",
    description: str = "",
    project: Project | None = None,
) -> Project:
    """Create a project, or update ``project``; funding follows the programme's rules."""
    errors = _Errors()
    _check_period(errors, starts_on, ends_on)
    for field, messages in check_project_funding(
        programme, total_cents, regional_share_cents, cofunding_cents
    ).items():
        for message in messages:
            errors.add(field, message)
    if project is not None:
        allocated = session.scalar(
            select(func.coalesce(func.sum(BudgetLine.allocated_cents), 0))
            .join(Measure)
            .where(Measure.project_id == project.id)
        )
        if allocated > total_cents:
            errors.add(
                "total_cents",
                _l("The measures of this project already have more budget than this total."),
            )
    errors.raise_if_any()
    creating = project is None
    project = project or Project()
    project.alliance = alliance
    project.programme = programme
    project.title = title.strip()
    project.code = code.strip()
    project.description = description
    project.starts_on = starts_on
    project.ends_on = ends_on
    project.total_cents = total_cents
    project.regional_share_cents = regional_share_cents
    project.cofunding_cents = cofunding_cents
    session.add(project)
    audit.record(session, "project.create" if creating else "project.update", project, actor)
    return project


# --- measures and budgets ---------------------------------------------------------------


def unallocated_cents(session: Session, project: Project, exclude: Measure | None = None) -> int:
    """What of the project's total is not yet allocated to any measure."""
    stmt = (
        select(func.coalesce(func.sum(BudgetLine.allocated_cents), 0))
        .join(Measure)
        .where(Measure.project_id == project.id)
    )
    if exclude is not None and exclude.id is not None:
        stmt = stmt.where(Measure.id != exclude.id)
    return project.total_cents - int(session.scalar(stmt))


def save_measure(
    session: Session,
    actor: User | None,
    *,
    project: Project,
    kind: MeasureKind,
    title: str,
    reimbursement_rate_pct: int,
    cap_per_voucher_cents: int,
    opens_on: date,
    closes_on: date,
    allocated_cents: int,
    cap_per_worker_year_cents: int | None = None,
    allocation: Allocation = Allocation.MANUAL,
    eligibility: Eligibility = Eligibility.PARTNER_EMPLOYEES,
    residence_area: str = "",
    description: str = "",
    documents_required: str = "",
    four_eyes_threshold_cents: int | None = None,
    measure: Measure | None = None,
) -> Measure:
    """Create a measure with its budget line, or update ``measure`` and its allocation."""
    errors = _Errors()
    _check_period(errors, opens_on, closes_on, "closes_on")
    if opens_on and closes_on and (opens_on < project.starts_on or closes_on > project.ends_on):
        errors.add("opens_on", _l("The application window must fall within the project period."))
    if not 0 < reimbursement_rate_pct <= 100:
        errors.add("reimbursement_rate_pct", _l("The rate is a percentage between 1 and 100."))
    if cap_per_voucher_cents <= 0:
        errors.add("cap_per_voucher_cents", _l("The cap must be greater than zero."))
    if cap_per_worker_year_cents is not None and cap_per_worker_year_cents < cap_per_voucher_cents:
        errors.add(
            "cap_per_worker_year_cents",
            _l("The yearly cap cannot be lower than the cap per voucher."),
        )
    if eligibility is Eligibility.RESIDENTS and not residence_area.strip():
        errors.add("residence_area", _l("Name the municipalities whose residents may apply."))
    if four_eyes_threshold_cents is not None and four_eyes_threshold_cents < 0:
        errors.add("four_eyes_threshold_cents", _l("Amounts cannot be negative."))
    if allocated_cents < 0:
        errors.add("allocated_cents", _l("Amounts cannot be negative."))
    elif allocated_cents > unallocated_cents(session, project, exclude=measure):
        errors.add(
            "allocated_cents",
            _l(
                "Only %(amount)s of the project's total is still unallocated.",
                amount=format_eur(unallocated_cents(session, project, exclude=measure)),
            ),
        )
    errors.raise_if_any()
    creating = measure is None
    measure = measure or Measure()
    measure.project = project
    measure.kind = kind
    measure.title = title.strip()
    measure.description = description
    measure.documents_required = documents_required
    measure.eligibility = eligibility
    measure.residence_area = residence_area.strip()
    measure.reimbursement_rate_pct = reimbursement_rate_pct
    measure.cap_per_voucher_cents = cap_per_voucher_cents
    measure.cap_per_worker_year_cents = cap_per_worker_year_cents
    measure.opens_on = opens_on
    measure.closes_on = closes_on
    measure.allocation = allocation
    measure.four_eyes_threshold_cents = four_eyes_threshold_cents
    session.add(measure)
    audit.record(session, "measure.create" if creating else "measure.update", measure, actor)
    if creating:
        line = BudgetLine(measure=measure)
        session.add(line)
        session.flush()
        if allocated_cents:
            budget.change_allocation(session, line.id, allocated_cents, actor, initial=True)
    else:
        line = measure.budget_line
        assert line is not None
        delta = allocated_cents - line.allocated_cents
        if delta:
            budget.change_allocation(session, line.id, delta, actor)
    return measure


# --- staff accounts ---------------------------------------------------------------------


def save_user(
    session: Session,
    actor: User | None,
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: Role,
    password: str | None = None,
    organisation: Organisation | None = None,
    alliance: Alliance | None = None,
    network: Network | None = None,
    tax_code: str | None = None,
    active: bool = True,
    user: User | None = None,
) -> User:
    """Create an account with any role, or update ``user``; the scope must fit the role."""
    errors = _Errors()
    if accounts.email_taken(session, email, exclude_id=user.id if user else None):
        errors.add("email", _l("An account with this e-mail already exists."))
    if user is None and not password:
        errors.add("password", _l("Set an initial password."))
    if password:
        errors.check(accounts.check_password_strength, password)
    code = errors.check(identifiers.person_tax_code, tax_code) if tax_code else None
    if code and _taken(session, User.tax_code_index, blind_index(code), user):
        errors.add("tax_code", _l("An account with this codice fiscale already exists."))
    if role is Role.WORKER and not code:
        errors.add("tax_code", _l("A worker needs a codice fiscale."))
    scope = ROLE_SCOPE[role]
    given = {"organisation_id": organisation, "alliance_id": alliance, "network_id": network}
    if scope is not None and given[scope] is None:
        errors.add(scope.removesuffix("_id"), _l("This role needs a scope: choose one."))
    if role is Role.PROVIDER and organisation is not None and organisation.is_public:
        errors.add(
            "organisation",
            _l("Service providers are cooperatives or companies, not public bodies."),
        )
    errors.raise_if_any()
    creating = user is None
    user = user or User(session_version=1)
    user.email = accounts.normalise_email(email)
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.tax_code = code
    previous_role = user.role if not creating else None
    user.role = role
    # Only the column that the role uses is kept, so an old scope cannot linger.
    user.organisation = organisation if scope == "organisation_id" else None
    user.alliance = alliance if scope == "alliance_id" else None
    user.network = network if scope == "network_id" else None
    if not creating and (previous_role is not role or user.active != active):
        # A change of role or a suspension ends the sessions opened under the old rights.
        user.session_version += 1
    user.active = active
    if password:
        user.password_hash = accounts.hash_password(password)
        if not creating:
            user.session_version += 1
    session.add(user)
    audit.record(
        session,
        "user.create" if creating else "user.update",
        user,
        actor,
        role=role.value,
        active=active,
    )
    return user
