"""User accounts, each with one role scoped to an organisation, alliance or network."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.crypto import EncryptedString, blind_index
from voucher.models.base import Base, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.alliance import Alliance
    from voucher.models.family import Dependant, Employment
    from voucher.models.network import Network
    from voucher.models.organisation import Organisation


class Role(enum.StrEnum):
    WORKER = "worker"
    HR = "hr"
    OPERATOR = "operator"
    NETWORK = "network"
    PROVIDER = "provider"
    ADMIN = "admin"


# Which scope column each role needs; the CHECK below and the admin form follow it.
ROLE_SCOPE = {
    Role.WORKER: None,
    Role.HR: "organisation_id",
    Role.PROVIDER: "organisation_id",
    Role.OPERATOR: "alliance_id",
    Role.NETWORK: "network_id",
    Role.ADMIN: None,
}


class User(UserMixin, CreatedAtMixin, Base):
    """A person who can log in. Workers are self-registered; other roles are given by admins."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(role NOT IN ('hr', 'provider') OR organisation_id IS NOT NULL) "
            "AND (role <> 'operator' OR alliance_id IS NOT NULL) "
            "AND (role <> 'network' OR network_id IS NOT NULL)",
            name="role_scope",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so that uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Codice fiscale: how HR recognises an employee. Required for workers.
    tax_code: Mapped[str | None] = mapped_column(EncryptedString())
    # Keyed hash of the codice fiscale (see voucher.crypto): unique, for exact look-ups.
    tax_code_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(30), default="")
    # Where reimbursements are paid (workers); validated and stored in compact form.
    iban: Mapped[str | None] = mapped_column(EncryptedString())
    locale: Mapped[str | None] = mapped_column(String(5))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), default=Role.WORKER)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    alliance_id: Mapped[int | None] = mapped_column(ForeignKey("alliances.id"), index=True)
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on logout-everywhere and password change: the session id embeds it, so
    # every older session stops loading.
    session_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[datetime | None]
    # Two-factor authentication (TOTP): the shared secret once confirmed with a code, and
    # the last time step accepted, so a code seen over a shoulder cannot be used again.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # A worker who registers cannot sign in before opening the link e-mailed to the
    # address (which proves it); accounts created by an administrator are active at once.
    awaiting_activation: Mapped[bool] = mapped_column(default=False)
    # Erasure (GDPR art. 17): asked on this date; kept, restricted, until ``retain_until``
    # where money was paid (fiscal records), then pseudonymised (``erased_at``).
    erasure_requested_at: Mapped[datetime | None]
    retain_until: Mapped[date | None] = mapped_column(index=True)
    erased_at: Mapped[datetime | None]

    organisation: Mapped[Organisation | None] = relationship()
    alliance: Mapped[Alliance | None] = relationship()
    network: Mapped[Network | None] = relationship()
    # A worker's declarations. Loaded with the user on every request (``load_user`` in
    # voucher/__init__.py), so the worker's pages and eligibility need no query for them;
    # a new Employment(worker=...) or Dependant(worker=...) joins the list at once.
    employments: Mapped[list[Employment]] = relationship(
        primaryjoin="User.id == Employment.worker_id",
        order_by="(Employment.starts_on.desc(), Employment.id)",
        back_populates="worker",
    )
    dependants: Mapped[list[Dependant]] = relationship(
        primaryjoin="User.id == Dependant.worker_id",
        order_by="(Dependant.birth_date, Dependant.id)",
        back_populates="worker",
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def get_id(self) -> str:
        """What a session keeps of its person: the id, the session version (a password
        change raises it, ending the other sessions) and the role (what to load with them
        on each request); read back by :func:`parse_session_id`."""
        return f"{self.id}:{self.session_version}:{self.role.value}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


def parse_session_id(value: str) -> tuple[int, int, Role | None] | None:
    """The id, session version and role of :meth:`User.get_id` (the role is None in the
    sessions from before it was kept), or None for anything else.

    The role only chooses what is loaded with the user: access is always decided on the
    role the database holds."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    if len(parts) == 2:
        return int(parts[0]), int(parts[1]), None
    if parts[2] not in Role._value2member_map_:
        return None
    return int(parts[0]), int(parts[1]), Role(parts[2])


@event.listens_for(User.tax_code, "set")
def _index_tax_code(target: User, value: str | None, _old: object, _initiator: object) -> None:
    """Keep the blind index in step with the (encrypted) codice fiscale."""
    target.tax_code_index = blind_index(value) if value else None
