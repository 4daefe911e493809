"""Web IP campaigns: dated windows of a CIP, initialised on VETs and assigned to ELPs."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .structure import Cip, Elp, Vet


class Campaign(db.Model):
    """A campagne IP web. opens_at and closes_at are naive UTC; screens show Europe/Paris."""

    __table_args__ = (CheckConstraint("closes_at > opens_at", name="closes_after_opening"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    cip_id: Mapped[int] = mapped_column(ForeignKey("cip.id"))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    allows_partial: Mapped[bool] = mapped_column(default=True)

    cip: Mapped[Cip] = relationship()
    vets: Mapped[list[Vet]] = relationship(secondary="campaign_vet")

    def is_open_at(self, now_utc: datetime) -> bool:
        return self.opens_at <= now_utc < self.closes_at


class CampaignVet(db.Model):
    """A campaign initialised on a VET."""

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    vet_id: Mapped[int] = mapped_column(ForeignKey("vet.id"), primary_key=True)


class CampaignElp(db.Model):
    """A campaign assigned to an ELP of a VET's tree: the ELP is offered on the web."""

    __table_args__ = (UniqueConstraint("campaign_id", "vet_id", "elp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    vet_id: Mapped[int] = mapped_column(ForeignKey("vet.id"))
    elp_id: Mapped[int] = mapped_column(ForeignKey("elp.id"))

    elp: Mapped[Elp] = relationship()
