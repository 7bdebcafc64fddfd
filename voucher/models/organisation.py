"""Organisation: a company, cooperative, association or public body."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from voucher.models.base import Base, CreatedAtMixin, str_enum

if TYPE_CHECKING:
    from voucher.models.alliance import Partnership


class OrganisationKind(enum.StrEnum):
    PUBLIC_BODY = "public_body"
    COMPANY = "company"
    COOPERATIVE = "cooperative"
    ASSOCIATION = "association"


class OrganisationSize(enum.StrEnum):
    """EU SME size classes, which the Region's indicators are broken down by."""

    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Organisation(CreatedAtMixin, Base):
    """A legal entity that can be a partner of alliances and employ workers."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind, "kind"))
    size: Mapped[OrganisationSize] = mapped_column(str_enum(OrganisationSize, "size"))
    # Codice fiscale of the entity (11 digits, or 16 characters for a sole trader),
    # normalised; unique because it identifies the entity for the tax office.
    tax_code: Mapped[str] = mapped_column(String(16), unique=True)
    vat_number: Mapped[str | None] = mapped_column(String(11), unique=True)
    municipality: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    # Used as debtor account when the organisation leads an alliance that pays out.
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))

    partnerships: Mapped[list[Partnership]] = relationship(back_populates="organisation")

    @property
    def is_public(self) -> bool:
        return self.kind is OrganisationKind.PUBLIC_BODY

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"
