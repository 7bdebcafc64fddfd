"""One registry of the pages each person opens, for the checks that go over every page.

The accessibility test (axe-core, every page of every role, Italian and English), the
phone page-budget test and the queries-per-page test all read :data:`PAGES`. A new page
is added here once, as its endpoint and a path; ``{name}`` placeholders are filled with
the ids of the demo data (:func:`demo_ids`), which has something on every page.

:func:`tests.test_pages.test_every_page_is_registered` fails when a GET page of the app is
neither here nor in :data:`NOT_PAGES`, so a new page cannot be forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from voucher.models import (
    Application,
    ApplicationStatus,
    Booking,
    BookingStatus,
    Claim,
    Dependant,
    Employment,
    Measure,
    Payout,
    ProviderStatement,
    User,
    Voucher,
)

WORKER = "lavoratrice@demo.example"
WORKER_UNCONFIRMED = "lavoratore@demo.example"
HR = "hr@demo.example"
OPERATOR = "operatore@demo.example"
NETWORK = "ats@demo.example"
PROVIDER = "fornitore@demo.example"
ADMIN = "admin@demo.example"
ANONYMOUS = ""


@dataclass(frozen=True)
class Page:
    """A page as a person opens it: the endpoint that serves it and the path to open."""

    endpoint: str
    path: str


# Who opens what: the demo account (ANONYMOUS: nobody signed in) -> its pages.
PAGES: dict[str, list[Page]] = {
    ANONYMOUS: [
        Page("main.index", "/"),
        Page("main.privacy", "/privacy"),
        Page("auth.login", "/auth/login"),
        Page("auth.register", "/auth/register"),
        Page("auth.reset_request", "/auth/reset"),
        Page("auth.reset_password", "/auth/reset/{reset_token}"),
    ],
    WORKER: [
        Page("worker.home", "/worker/"),
        Page("worker.measures", "/worker/measures"),
        Page("worker.applications_list", "/worker/applications"),
        Page("worker.application", "/worker/applications/{application}"),
        Page("worker.application_new", "/worker/applications/new?measure={measure}"),
        Page("worker.vouchers", "/worker/vouchers"),
        Page("worker.voucher", "/worker/vouchers/{voucher}"),
        Page("worker.claims", "/worker/claims"),
        Page("worker.claim", "/worker/claims/{claim}"),
        Page("worker.notifications_list", "/worker/notifications"),
        Page("worker.family", "/worker/family"),
        Page("worker.family_new", "/worker/family/new"),
        Page("worker.family_edit", "/worker/family/{dependant}/edit"),
        Page("worker.family_certificate", "/worker/family/{dependant}/certificate"),
        Page("worker.employment", "/worker/employment"),
        Page("worker.employment_new", "/worker/employment/new"),
        Page("worker.profile", "/worker/profile"),
        Page("worker.profile_iban", "/worker/profile/iban"),
        Page("worker.privacy_page", "/worker/privacy"),
        Page("worker.services", "/worker/services"),
        Page("worker.service", "/worker/services/{service}"),
        Page("worker.bookings_list", "/worker/bookings"),
        Page("worker.booking", "/worker/bookings/{booking}"),
        Page("payments.checkout_success", "/payments/bookings/{booking}/paid"),
        Page("payments.checkout_cancel", "/payments/bookings/{booking}/not-paid"),
    ],
    WORKER_UNCONFIRMED: [
        # A draft application: its answers page and its edit form.
        Page("worker.application_check", "/worker/applications/{draft_application}/check"),
        Page("worker.application_edit", "/worker/applications/{draft_application}/edit"),
    ],
    HR: [
        Page("hr.home", "/hr/"),
        Page("hr.declaration", "/hr/declarations/{employment}"),
        Page("hr.roster", "/hr/roster"),
        Page("hr.uptake", "/hr/uptake"),
    ],
    OPERATOR: [
        Page("operator.home", "/operator/"),
        Page("operator.applications", "/operator/applications"),
        Page("operator.application", "/operator/applications/{application}"),
        Page("operator.claims", "/operator/claims"),
        Page("operator.claim", "/operator/claims/{claim}"),
        Page("operator.measure", "/operator/measures/{measure}"),
        Page("operator.reports", "/operator/reports"),
        Page("operator.project", "/operator/reports/projects/{project}"),
        Page("operator.payouts_list", "/operator/payouts"),
        Page("operator.payout_new", "/operator/projects/{project}/payouts/new"),
        Page("operator.payout", "/operator/payouts/{payout}"),
        Page("operator.bank_account", "/operator/bank-account"),
        Page("operator.statements", "/operator/statements"),
        Page("operator.statement", "/operator/statements/{statement}"),
    ],
    NETWORK: [
        Page("network.home", "/network/"),
        Page("network.applications", "/network/applications"),
        Page("network.application", "/network/applications/{application}"),
        Page("network.claims", "/network/claims"),
        Page("network.claim", "/network/claims/{claim}"),
        Page("network.reports", "/network/reports"),
        Page("network.project", "/network/projects/{project}"),
    ],
    PROVIDER: [
        Page("provider.home", "/provider/"),
        Page("provider.services", "/provider/services"),
        Page("provider.service", "/provider/services/{service}"),
        Page("provider.service_new", "/provider/services/new"),
        Page("provider.service_edit", "/provider/services/{service}/edit"),
        Page("provider.bookings_list", "/provider/bookings"),
        Page("provider.booking", "/provider/bookings/{booking}"),
        Page("provider.statements", "/provider/statements"),
        Page("provider.statement", "/provider/statements/{statement}"),
    ],
    ADMIN: [
        Page("admin.home", "/admin/"),
        Page("admin.programmes", "/admin/programmes"),
        Page("admin.programme_form", "/admin/programmes/new"),
        Page("admin.networks", "/admin/networks"),
        Page("admin.network_form", "/admin/networks/new"),
        Page("admin.organisations", "/admin/organisations"),
        Page("admin.organisation_form", "/admin/organisations/new"),
        Page("admin.alliances", "/admin/alliances"),
        Page("admin.alliance_form", "/admin/alliances/new"),
        Page("admin.projects", "/admin/projects"),
        Page("admin.project_form", "/admin/projects/new"),
        Page("admin.measures", "/admin/measures"),
        Page("admin.measure_form", "/admin/measures/{measure}/edit"),
        Page("admin.users", "/admin/users"),
        Page("admin.user_form", "/admin/users/{worker_user}/edit"),
        Page("admin.audit", "/admin/audit"),
    ],
}

# GET endpoints that are not pages, and why.
NOT_PAGES = {
    "static": "files: budgeted as part of each page",
    "main.healthz": "JSON for load balancers",
    "auth.logout": "redirects",
    "worker.receipt_file": "a download",
    "worker.receipt_thumbnail": "an image (receipt images are outside the page budget)",
    "worker.family_certificate_file": "a download",
    "operator.receipt_file": "a download",
    "operator.receipt_thumbnail": "an image (receipt images are outside the page budget)",
    "network.receipt_file": "a download",
    "network.receipt_thumbnail": "an image (receipt images are outside the page budget)",
    "provider.statement_xlsx": "a download",
    "operator.statement_xlsx": "a download",
    "operator.payout_sepa": "a download (pain.001 XML)",
    "operator.payout_xlsx": "a download",
    "operator.report_csv": "a download",
    "operator.report_pdf": "a download",
    "operator.report_xlsx": "a download",
    "network.report_csv": "a download",
    "network.report_pdf": "a download",
    "network.report_xlsx": "a download",
    "worker.privacy_export": "a download (the worker's data)",
    "auth.activate": "redirects (an activation link)",
    # Pages reached only between the password and the code of a staff sign-in: checked by
    # test_a11y.test_the_two_factor_pages_are_accessible and tests/test_security.py.
    "auth.two_factor": "mid-sign-in of a staff account with two-factor on",
    "auth.two_factor_setup": "mid-sign-in of a staff account with two-factor on",
}


def demo_ids(session: Session, secret_key: str) -> dict[str, str]:
    """The ids the paths above need, from the demo data (``voucher.services.demo``) plus a
    draft application of the unconfirmed worker (see ``fixtures_perf.demo_site``)."""
    from voucher.services import accounts

    worker = session.scalars(select(User).where(User.email == WORKER)).one()
    other = session.scalars(select(User).where(User.email == WORKER_UNCONFIRMED)).one()
    claim = session.scalars(select(Claim).where(Claim.worker_id == worker.id)).first()
    voucher = session.get(Voucher, claim.voucher_id)
    upcoming = session.scalars(
        select(Booking)
        .where(Booking.worker_id == worker.id, Booking.status == BookingStatus.CONFIRMED)
        .order_by(Booking.id)
    ).first()
    draft = session.scalars(
        select(Application).where(
            Application.worker_id == other.id, Application.status == ApplicationStatus.DRAFT
        )
    ).first()
    return {
        "application": str(voucher.application_id),
        "voucher": str(voucher.id),
        "claim": str(claim.id),
        "measure": str(voucher.measure_id),
        "project": str(session.get(Measure, voucher.measure_id).project_id),
        "dependant": str(
            session.scalars(select(Dependant.id).where(Dependant.worker_id == worker.id)).first()
        ),
        "employment": str(
            session.scalars(select(Employment.id).where(Employment.worker_id == other.id)).first()
        ),
        "worker_user": str(worker.id),
        "draft_application": str(draft.id),
        "reset_token": accounts.make_reset_token(worker, secret_key),
        # Time-saving services: the demo worker's upcoming booking, its service, and the
        # provider's statement of last month.
        "booking": str(upcoming.id),
        "service": str(upcoming.service_id),
        "statement": str(session.scalars(select(ProviderStatement.id)).first()),
        # The payout that paid the demo worker's earlier request.
        "payout": str(session.scalars(select(Payout.id)).first()),
    }


def paths(session: Session, secret_key: str) -> dict[str, list[tuple[str, str]]]:
    """Every registered page as (endpoint, path) per demo account, placeholders filled."""
    ids = demo_ids(session, secret_key)
    return {
        who: [(page.endpoint, page.path.format(**ids)) for page in pages]
        for who, pages in PAGES.items()
    }
