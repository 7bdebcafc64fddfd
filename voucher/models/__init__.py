"""All models, importable from one place (and so registered on the metadata)."""

from voucher.models.alliance import Alliance, Partnership
from voucher.models.application import Application, ApplicationStatus, Voucher, VoucherStatus
from voucher.models.audit import AuditEvent
from voucher.models.base import Base
from voucher.models.booking import (
    Booking,
    BookingStatus,
    PaymentStatus,
    ProviderStatement,
    StatementStatus,
    StripeEvent,
)
from voucher.models.budget import BudgetLine, LedgerEntry, LedgerKind
from voucher.models.claim import Claim, ClaimStatus, Receipt, ReceiptStatus
from voucher.models.family import Dependant, DependantKind, Employment, EmploymentStatus
from voucher.models.measure import Allocation, Eligibility, Measure, MeasureKind
from voucher.models.network import Network
from voucher.models.notification import Notification
from voucher.models.organisation import Organisation, OrganisationKind, OrganisationSize
from voucher.models.outbox import OutboxEmail
from voucher.models.payout import Payout, PayoutLine, PayoutLineStatus, PayoutStatus
from voucher.models.programme import Programme
from voucher.models.project import Project
from voucher.models.service import Service, ServiceKind, ServiceUnit, Slot
from voucher.models.user import ROLE_SCOPE, Role, User

__all__ = [
    "ROLE_SCOPE",
    "Alliance",
    "Allocation",
    "Application",
    "ApplicationStatus",
    "AuditEvent",
    "Base",
    "Booking",
    "BookingStatus",
    "BudgetLine",
    "Claim",
    "ClaimStatus",
    "Dependant",
    "DependantKind",
    "Eligibility",
    "Employment",
    "EmploymentStatus",
    "LedgerEntry",
    "LedgerKind",
    "Measure",
    "MeasureKind",
    "Network",
    "Notification",
    "Organisation",
    "OrganisationKind",
    "OrganisationSize",
    "OutboxEmail",
    "Partnership",
    "PaymentStatus",
    "Payout",
    "PayoutLine",
    "PayoutLineStatus",
    "PayoutStatus",
    "Programme",
    "Project",
    "ProviderStatement",
    "Receipt",
    "ReceiptStatus",
    "Role",
    "Service",
    "ServiceKind",
    "ServiceUnit",
    "Slot",
    "StatementStatus",
    "StripeEvent",
    "User",
    "Voucher",
    "VoucherStatus",
]
