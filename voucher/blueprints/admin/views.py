"""Views of the admin area: lists and create/edit forms of the programme's structure."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased, contains_eager, selectinload
from wtforms import Field, StringField
from wtforms.fields.choices import SelectChoice

from voucher.blueprints.admin import bp
from voucher.blueprints.admin.forms import (
    ALLOCATION_LABELS,
    ELIGIBILITY_LABELS,
    EMPTY_CHOICE,
    MEASURE_KIND_LABELS,
    ORGANISATION_KIND_LABELS,
    ORGANISATION_SIZE_LABELS,
    ROLE_LABELS,
    AllianceForm,
    EuroField,
    MeasureForm,
    NetworkForm,
    OrganisationForm,
    ProgrammeForm,
    ProjectForm,
    UserForm,
)
from voucher.blueprints.common import apply_errors, current_actor, get_visible_or_404, role_required
from voucher.extensions import db
from voucher.models import (
    Alliance,
    AuditEvent,
    Measure,
    Network,
    Organisation,
    OrganisationKind,
    Programme,
    Project,
    Role,
    User,
)
from voucher.services import structure, twofactor
from voucher.services.errors import ServiceError, ValidationFailed
from voucher.services.search import contains

T = TypeVar("T")
PER_PAGE = 50


@bp.context_processor
def _labels() -> dict[str, Any]:
    """Translated names of the enums, for the list pages."""
    return {
        "labels": SimpleNamespace(
            role=ROLE_LABELS,
            organisation_kind=ORGANISATION_KIND_LABELS,
            organisation_size=ORGANISATION_SIZE_LABELS,
            measure_kind=MEASURE_KIND_LABELS,
            allocation=ALLOCATION_LABELS,
            eligibility=ELIGIBILITY_LABELS,
        )
    }


# --- helpers ----------------------------------------------------------------------------


def _load(model: type[T], object_id: int | None) -> T | None:
    """The object to edit (404 if unknown), or None on the "new" route."""
    return None if object_id is None else get_visible_or_404(model, object_id)


def _pick(model: type[T], object_id: int | None, field: str, required: bool = True) -> T | None:
    """Resolve a submitted id to its row; an unknown id is a field error, not a crash."""
    if object_id is None and not required:
        return None
    found = db.session.get(model, object_id) if object_id is not None else None
    if found is None:
        raise ValidationFailed.single(field, _l("Choose one of the options in the list."))
    return found


def _fields(form: FlaskForm, *exclude: str) -> dict[str, Any]:
    """The form's values as service keyword arguments (ids are replaced by the caller)."""
    return {
        # A text input missing from the request means "empty", as a browser would send it.
        name: "" if field.data is None and _is_text(field) else field.data
        for name, field in form._fields.items()
        if name != "csrf_token" and name not in exclude
    }


def _is_text(field: Field) -> bool:
    return isinstance(field, StringField) and not isinstance(field, EuroField)


class _Prefill:
    """An entity seen through an edit form: ``overrides`` replace related objects by ids."""

    def __init__(self, entity: Any, **overrides: Any) -> None:
        self._entity = entity
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._entity, name)


def _form_page(
    form: FlaskForm,
    save: Callable[[], Any],
    *,
    title: str,
    list_endpoint: str,
    saved_name: Callable[[Any], str],
    extra: str | None = None,
) -> Any:
    """Validate, save through the service and commit; otherwise show the form again."""
    if form.validate_on_submit():
        try:
            saved = save()
        except ValidationFailed as exc:
            db.session.rollback()
            apply_errors(form, exc)
        except ServiceError as exc:
            # E.g. a budget cut below what vouchers already hold: not tied to one field.
            db.session.rollback()
            form.form_errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("Saved: %(name)s.", name=saved_name(saved)), "success")
            return redirect(url_for(list_endpoint))
    return render_template(
        "admin/form.html",
        form=form,
        title=title,
        cancel_url=url_for(list_endpoint),
        extra=extra,
    )


def _paginate(stmt: Select) -> Any:
    return db.paginate(stmt, per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False)


def _search_query() -> str:
    return request.args.get("q", "").strip()[:100]


def _organisation_choices(public_only: bool = False) -> list[SelectChoice]:
    stmt = select(Organisation).order_by(Organisation.name, Organisation.id)
    if public_only:
        stmt = stmt.where(Organisation.kind == OrganisationKind.PUBLIC_BODY)
    return [
        SelectChoice(str(o.id), f"{o.name} ({ORGANISATION_KIND_LABELS[o.kind]})")
        for o in db.session.scalars(stmt)
    ]


def _network_choices() -> list[SelectChoice]:
    return [
        SelectChoice(str(n.id), n.name)
        for n in db.session.scalars(select(Network).order_by(Network.name))
    ]


def _alliance_choices() -> list[SelectChoice]:
    return [
        SelectChoice(str(a.id), a.name)
        for a in db.session.scalars(select(Alliance).order_by(Alliance.name))
    ]


# --- dashboard --------------------------------------------------------------------------


@bp.route("/")
@role_required(Role.ADMIN)
def home():
    """The admin dashboard: how much of each thing exists, with links to manage them."""
    counts = {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (
            ("programmes", Programme),
            ("networks", Network),
            ("organisations", Organisation),
            ("alliances", Alliance),
            ("projects", Project),
            ("measures", Measure),
            ("users", User),
        )
    }
    return render_template("admin/home.html", counts=counts)


# --- programmes -------------------------------------------------------------------------


@bp.route("/programmes")
@role_required(Role.ADMIN)
def programmes():
    """List programmes, the most recent first."""
    page = _paginate(select(Programme).order_by(Programme.starts_on.desc(), Programme.name))
    return render_template("admin/programmes.html", page=page)


@bp.route("/programmes/new", methods=["GET", "POST"], defaults={"programme_id": None})
@bp.route("/programmes/<int:programme_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def programme_form(programme_id: int | None):
    """Create a programme, or edit one."""
    programme = _load(Programme, programme_id)
    form = ProgrammeForm(obj=programme)
    return _form_page(
        form,
        lambda: structure.save_programme(
            db.session, current_actor(), programme=programme, **_fields(form)
        ),
        title=_("Edit programme") if programme else _("New programme"),
        list_endpoint="admin.programmes",
        saved_name=lambda p: p.name,
    )


# --- networks ---------------------------------------------------------------------------


@bp.route("/networks")
@role_required(Role.ADMIN)
def networks():
    """List the territorial networks by name."""
    page = _paginate(select(Network).order_by(Network.name))
    return render_template("admin/networks.html", page=page)


@bp.route("/networks/new", methods=["GET", "POST"], defaults={"network_id": None})
@bp.route("/networks/<int:network_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def network_form(network_id: int | None):
    """Create a network, or edit one."""
    network = _load(Network, network_id)
    form = NetworkForm(obj=network)
    return _form_page(
        form,
        lambda: structure.save_network(
            db.session, current_actor(), network=network, **_fields(form)
        ),
        title=_("Edit network") if network else _("New network"),
        list_endpoint="admin.networks",
        saved_name=lambda n: n.name,
    )


# --- organisations ----------------------------------------------------------------------


@bp.route("/organisations")
@role_required(Role.ADMIN)
def organisations():
    """List organisations by name, filtered by name, codice fiscale or municipality."""
    q = _search_query()
    stmt = select(Organisation).order_by(Organisation.name, Organisation.id)
    if q:
        stmt = stmt.where(
            contains(q, Organisation.name, Organisation.tax_code, Organisation.municipality)
        )
    return render_template("admin/organisations.html", page=_paginate(stmt), q=q)


@bp.route("/organisations/new", methods=["GET", "POST"], defaults={"organisation_id": None})
@bp.route("/organisations/<int:organisation_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def organisation_form(organisation_id: int | None):
    """Create an organisation, or edit one."""
    organisation = _load(Organisation, organisation_id)
    form = OrganisationForm(obj=organisation)
    return _form_page(
        form,
        lambda: structure.save_organisation(
            db.session, current_actor(), organisation=organisation, **_fields(form)
        ),
        title=_("Edit organisation") if organisation else _("New organisation"),
        list_endpoint="admin.organisations",
        saved_name=lambda o: o.name,
    )


# --- alliances --------------------------------------------------------------------------


@bp.route("/alliances")
@role_required(Role.ADMIN)
def alliances():
    """List alliances by network and name."""
    stmt = (
        select(Alliance)
        .join(Alliance.network)
        .options(
            contains_eager(Alliance.network),
            selectinload(Alliance.lead),
            selectinload(Alliance.partnerships),
        )
        .order_by(Network.name, Alliance.name)
    )
    return render_template("admin/alliances.html", page=_paginate(stmt))


@bp.route("/alliances/new", methods=["GET", "POST"], defaults={"alliance_id": None})
@bp.route("/alliances/<int:alliance_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def alliance_form(alliance_id: int | None):
    """Create an alliance with its partners, or edit one."""
    alliance = _load(Alliance, alliance_id)
    prefill = alliance and _Prefill(
        alliance,
        network=alliance.network_id,
        lead=alliance.lead_id,
        partners=[p.organisation_id for p in alliance.partnerships],
    )
    form = AllianceForm(obj=prefill)
    form.network.choices = _network_choices()
    form.lead.choices = [EMPTY_CHOICE, *_organisation_choices(public_only=True)]
    form.partners.choices = _organisation_choices()

    def save() -> Alliance:
        partners = db.session.scalars(
            select(Organisation).where(Organisation.id.in_(form.partners.data or []))
        ).all()
        return structure.save_alliance(
            db.session,
            current_actor(),
            network=_pick(Network, form.network.data, "network"),
            name=form.name.data,
            lead=_pick(Organisation, form.lead.data, "lead"),
            partners=partners,
            alliance=alliance,
        )

    return _form_page(
        form,
        save,
        title=_("Edit alliance") if alliance else _("New alliance"),
        list_endpoint="admin.alliances",
        saved_name=lambda a: a.name,
    )


# --- projects ---------------------------------------------------------------------------


@bp.route("/projects")
@role_required(Role.ADMIN)
def projects():
    """List projects by alliance and title."""
    stmt = (
        select(Project)
        .join(Project.alliance)
        .options(contains_eager(Project.alliance), selectinload(Project.programme))
        .order_by(Alliance.name, Project.title)
    )
    return render_template("admin/projects.html", page=_paginate(stmt))


@bp.route("/projects/new", methods=["GET", "POST"], defaults={"project_id": None})
@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def project_form(project_id: int | None):
    """Create a project, or edit one."""
    project = _load(Project, project_id)
    prefill = project and _Prefill(
        project, alliance=project.alliance_id, programme=project.programme_id
    )
    form = ProjectForm(obj=prefill)
    form.alliance.choices = _alliance_choices()
    form.programme.choices = [
        SelectChoice(str(p.id), p.name)
        for p in db.session.scalars(select(Programme).order_by(Programme.starts_on.desc()))
    ]
    return _form_page(
        form,
        lambda: structure.save_project(
            db.session,
            current_actor(),
            **_fields(form, "alliance", "programme"),
            alliance=_pick(Alliance, form.alliance.data, "alliance"),
            programme=_pick(Programme, form.programme.data, "programme"),
            project=project,
        ),
        title=_("Edit project") if project else _("New project"),
        list_endpoint="admin.projects",
        saved_name=lambda p: p.title,
    )


# --- measures ---------------------------------------------------------------------------


@bp.route("/measures")
@role_required(Role.ADMIN)
def measures():
    """List measures by project, with their budget."""
    stmt = (
        select(Measure)
        .join(Measure.project)
        .options(contains_eager(Measure.project), selectinload(Measure.budget_line))
        .order_by(Project.title, Measure.title)
    )
    return render_template("admin/measures.html", page=_paginate(stmt))


@bp.route("/measures/new", methods=["GET", "POST"], defaults={"measure_id": None})
@bp.route("/measures/<int:measure_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def measure_form(measure_id: int | None):
    """Create a measure with its budget allocation, or edit one."""
    measure = _load(Measure, measure_id)
    prefill = measure and _Prefill(
        measure,
        project=measure.project_id,
        allocated_cents=measure.budget_line.allocated_cents if measure.budget_line else 0,
    )
    form = MeasureForm(obj=prefill)
    alliance = aliased(Alliance)
    form.project.choices = [
        SelectChoice(str(p.id), f"{p.title} · {name}")
        for p, name in db.session.execute(
            select(Project, alliance.name)
            .join(alliance, Project.alliance)
            .order_by(Project.title, Project.id)
        )
    ]
    return _form_page(
        form,
        lambda: structure.save_measure(
            db.session,
            current_actor(),
            **_fields(form, "project"),
            project=_pick(Project, form.project.data, "project"),
            measure=measure,
        ),
        title=_("Edit measure") if measure else _("New measure"),
        list_endpoint="admin.measures",
        saved_name=lambda m: m.title,
    )


# --- users ------------------------------------------------------------------------------


@bp.route("/users")
@role_required(Role.ADMIN)
def users():
    """List accounts by name, filtered by name or e-mail."""
    q = _search_query()
    stmt = (
        select(User)
        .options(
            selectinload(User.organisation),
            selectinload(User.alliance),
            selectinload(User.network),
        )
        .order_by(User.last_name, User.first_name, User.email)
    )
    if q:
        stmt = stmt.where(contains(q, User.email, User.first_name, User.last_name))
    return render_template("admin/users.html", page=_paginate(stmt), q=q)


@bp.route("/users/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_form(user_id: int | None):
    """Create an account with a role and its scope, or edit one."""
    user = _load(User, user_id)
    prefill = user and _Prefill(
        user,
        organisation=user.organisation_id,
        alliance=user.alliance_id,
        network=user.network_id,
    )
    form = UserForm(obj=prefill)
    form.organisation.choices = [EMPTY_CHOICE, *_organisation_choices()]
    form.alliance.choices = [EMPTY_CHOICE, *_alliance_choices()]
    form.network.choices = [EMPTY_CHOICE, *_network_choices()]
    return _form_page(
        form,
        lambda: structure.save_user(
            db.session,
            current_actor(),
            **_fields(form, "organisation", "alliance", "network"),
            organisation=_pick(Organisation, form.organisation.data, "organisation", False),
            alliance=_pick(Alliance, form.alliance.data, "alliance", False),
            network=_pick(Network, form.network.data, "network", False),
            user=user,
        ),
        title=_("Edit account") if user else _("New account"),
        list_endpoint="admin.users",
        saved_name=lambda u: u.email,
        extra="admin/_two_factor.html" if user is not None else None,
    )


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@role_required(Role.ADMIN)
def user_two_factor_reset(user_id: int):
    """Remove a lost authenticator app: the person sets up a new one at the next sign-in."""
    user = _load(User, user_id)
    if user is None:
        abort(404)
    twofactor.reset(db.session, user, current_actor())
    db.session.commit()
    flash(_("Two-factor authentication reset for %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.user_form", user_id=user.id))


# --- audit ------------------------------------------------------------------------------


@bp.route("/audit")
@role_required(Role.ADMIN)
def audit():
    """The audit trail, newest first (read-only)."""
    page = _paginate(
        select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    actor_ids = {event.actor_id for event in page.items if event.actor_id is not None}
    actors = {
        user.id: user for user in db.session.scalars(select(User).where(User.id.in_(actor_ids)))
    }
    return render_template("admin/audit.html", page=page, actors=actors)
