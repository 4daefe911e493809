"""Who may do the web IP for an IA, and every reason why not."""

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..extensions import db
from ..models import Block, BlockCode, Campaign, CampaignVet, Ia
from . import clock


@dataclass
class Eligibility:
    campaign: Campaign | None  # the campaign that applies: open now, else the next, else the last
    reasons: list[str] = field(default_factory=list)

    @property
    def is_eligible(self) -> bool:
        return not self.reasons


def find_campaign(ia: Ia, now_utc: datetime) -> Campaign | None:
    """Return the campaign of the VET's CIP open now, else the next to open, else the last closed."""
    campaigns = db.session.scalars(
        select(Campaign)
        .join(CampaignVet, CampaignVet.campaign_id == Campaign.id)
        .where(CampaignVet.vet_id == ia.vet_id, Campaign.cip_id == ia.vet.cip_id)
        .order_by(Campaign.opens_at)
    ).all()
    open_now = [c for c in campaigns if c.is_open_at(now_utc)]
    if open_now:
        return open_now[0]
    upcoming = [c for c in campaigns if c.opens_at > now_utc]
    if upcoming:
        return upcoming[0]
    return campaigns[-1] if campaigns else None


def active_blocks(student_id: int, today: date) -> list[Block]:
    return list(
        db.session.scalars(
            select(Block)
            .join(BlockCode)
            .where(
                Block.student_id == student_id,
                BlockCode.forbids_registration.is_(True),
                Block.starts_on <= today,
                or_(Block.ends_on.is_(None), Block.ends_on >= today),
            )
        )
    )


def check_eligibility(ia: Ia, now_utc: datetime) -> Eligibility:
    """Collect every reason the web IP is closed for this IA, so the student reads them at once."""
    reasons: list[str] = []
    if ia.state == "A":
        reasons.append(_("Votre inscription administrative a été annulée."))
    elif ia.state == "R":
        reasons.append(_("Votre inscription administrative a été résiliée."))
    elif ia.state == "C":
        reasons.append(_("Votre inscription administrative est encore en cours de création."))
    if ia.payment_state != "P":
        reasons.append(_("Votre inscription administrative est en attente de paiement."))

    today = clock.to_local(now_utc).date()
    for block in active_blocks(ia.student_id, today):
        reasons.append(
            _("Un blocage est en cours sur votre dossier : %(label)s.", label=block.block_code.label)
        )

    if not ia.vet.cip.is_web_open:
        reasons.append(_("L'inscription pédagogique en ligne n'est pas ouverte pour cette formation."))

    campaign = find_campaign(ia, now_utc)
    if campaign is None:
        reasons.append(_("Aucune campagne d'inscription pédagogique en ligne ne concerne cette formation."))
    elif now_utc < campaign.opens_at:
        reasons.append(
            _("La campagne d'inscription pédagogique ouvrira le %(date)s.", date=_local_text(campaign.opens_at))
        )
    elif now_utc >= campaign.closes_at:
        reasons.append(
            _("La campagne d'inscription pédagogique est close depuis le %(date)s.", date=_local_text(campaign.closes_at))
        )

    if reasons:
        reasons.append(
            _("Pour toute question, adressez-vous à %(office)s.", office=current_app.config["KIOSK_CONTACT_OFFICE"])
        )
    return Eligibility(campaign=campaign, reasons=reasons)


def _local_text(moment_utc: datetime) -> str:
    return format_datetime(clock.to_local(moment_utc), _("d MMMM y 'à' HH:mm"))
