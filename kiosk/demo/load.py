"""Entry point of the demo data: structures, campaigns, groups and students in one call."""

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from ..extensions import db
from ..models import Campaign, CampaignElp, CampaignVet, Elp, Ia, ListLink, StaffUser, Student, Vet
from .cohort import create_cohort
from .groups import create_groups
from .programmes import DemoStructure, create_structure

logger = logging.getLogger(__name__)

# This CIP gets a campaign that closed 20 days before the load, and no open one.
CLOSED_CAMPAIGN_CIP = "INF"
OPEN_CAMPAIGN_WINDOW = (timedelta(days=-10), timedelta(days=30))
CLOSED_CAMPAIGN_WINDOW = (timedelta(days=-50), timedelta(days=-20))


class DatabaseNotEmptyError(RuntimeError):
    pass


def load_demo(now_utc: datetime, year: int) -> list[tuple[str, str]]:
    """Add the demo structures, campaigns and students to the session and flush.

    now_utc is naive UTC (an aware datetime is converted); campaign windows and block
    dates are counted from it. year is the academic year of the IAs, as the year it starts
    in (2026 for 2026-2027). Nothing is committed: the caller commits.
    Returns the personas as (student number, description in French).
    Raises DatabaseNotEmptyError if the database already contains a VET.
    """
    if db.session.scalar(select(Vet.id).limit(1)) is not None:
        raise DatabaseNotEmptyError(
            "The database already contains VETs, so the demo data was not loaded. "
            "Load it into an empty database."
        )
    if now_utc.tzinfo is not None:
        now_utc = now_utc.astimezone(timezone.utc).replace(tzinfo=None)

    structure = create_structure(now_utc.date())
    campaigns = create_campaigns(structure, now_utc, year)
    create_groups(campaigns)
    personas = create_cohort(structure, year, now_utc.date())
    create_demo_staff(structure)
    db.session.flush()

    logger.info(
        "Demo data loaded for %d-%d: %d CIPs, %d VETs, %d ELPs, %d campaigns, %d students, %d IAs.",
        year, year + 1, len(structure.cips), len(structure.vets), len(structure.elps),
        len(campaigns), count_rows(Student), count_rows(Ia),
    )
    return personas


def create_campaigns(structure: DemoStructure, now_utc: datetime, year: int) -> list[Campaign]:
    """Create one campaign per CIP, initialised on all its VETs and assigned to their trees.

    Every campaign is open now except the one of CLOSED_CAMPAIGN_CIP. The CIP whose web
    access is off gets an open campaign too, so that web access is the only reason why
    its students cannot do their IP.
    """
    campaigns = []
    for cip in structure.cips.values():
        is_closed = cip.code == CLOSED_CAMPAIGN_CIP
        opens_after, closes_after = CLOSED_CAMPAIGN_WINDOW if is_closed else OPEN_CAMPAIGN_WINDOW
        campaign = Campaign(
            code=f"IP{year % 100:02d}{cip.code}",
            label=f"IP web {year}-{year + 1} — {cip.label}",
            cip=cip,
            opens_at=now_utc + opens_after,
            closes_at=now_utc + closes_after,
        )
        db.session.add(campaign)
        campaigns.append(campaign)
    db.session.flush()

    for campaign in campaigns:
        for vet in campaign.cip.vets:
            initialise_and_assign(campaign, vet)
    db.session.flush()
    return campaigns


def initialise_and_assign(campaign: Campaign, vet: Vet) -> None:
    db.session.add(CampaignVet(campaign_id=campaign.id, vet_id=vet.id))
    for elp in elps_to_offer(vet):
        db.session.add(CampaignElp(campaign_id=campaign.id, vet_id=vet.id, elp_id=elp.id))


def elps_to_offer(vet: Vet) -> list[Elp]:
    """Walk the VET's tree and return its ELPs, without suspended ELPs and what is beneath them.

    Fictive ELPs and the ELPs under a closed link are included, as staff who tick the whole
    tree would do. Hiding them is the kiosk's job.
    """
    found: list[Elp] = []
    seen: set[int] = set()

    def visit(links: list[ListLink]) -> None:
        for link in links:
            for member in link.lse.members:
                elp = member.elp
                if elp.is_suspended or elp.id in seen:
                    continue
                seen.add(elp.id)
                found.append(elp)
                visit(child_links(ListLink.parent_elp_id == elp.id))

    visit(child_links(ListLink.vet_id == vet.id))
    return found


def child_links(condition) -> list[ListLink]:
    return list(db.session.scalars(select(ListLink).where(condition).order_by(ListLink.position)))


# Demo staff accounts (login, password, is_admin, CIP codes); README.md lists them.
DEMO_STAFF = [
    ("scolarite", "demo-scolarite", True, ()),
    ("gestion-sci", "demo-gestion", False, ("SCI",)),
]


def create_demo_staff(structure: DemoStructure) -> None:
    for login, password, is_admin, cip_codes in DEMO_STAFF:
        staff = StaffUser(
            login=login, display_name=f"Démo {login}", is_admin=is_admin,
            cips=[structure.cips[code] for code in cip_codes],
        )
        staff.set_password(password)
        db.session.add(staff)


def count_rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))
