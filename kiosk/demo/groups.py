"""Demo TD and TP groups, one collection per assignment mode, sized like Lyon 1's published UE sheets.

Lyon 1 publishes TD groups of 35 and TP groups of 18 for a 210-student lecture; the demo keeps
those sizes, except one deliberately small group so that "groupe complet" and the waitlist show.
"""

from sqlalchemy import select

from ..extensions import db
from ..models import Campaign, CampaignCollection, Elp, Group, GroupCollection

# (collection code, label, ELP code, mode, has_waitlist, [(group code, capacity, intermediate)])
DEMO_COLLECTIONS = [
    ("ARCHTD", "TD", "UCL3ARCH", "student", True, [("TD1", 35, None), ("TD2", 35, None), ("TD3", 2, None)]),
    ("CRYPTP", "TP", "UCL3CRYP", "student", False, [("TP1", 18, None), ("TP2", 18, None)]),
    ("ALG2TD", "TD", "UCL3ALG2", "auto", False, [("TD1", 35, 25), ("TD2", 35, 25), ("TD3", 35, 25)]),
    ("AGELV", "TD de langue", "AGE5E532", "staff", False, [("ANG1", 35, None), ("ANG2", 35, None)]),
]


def create_groups(campaigns: list[Campaign]) -> None:
    """Create the demo collections and set their mode in every campaign that offers their ELP."""
    for code, label, elp_code, mode, has_waitlist, groups in DEMO_COLLECTIONS:
        elp = db.session.scalar(select(Elp).where(Elp.code == elp_code))
        collection = GroupCollection(code=code, label=label, elp_id=elp.id)
        db.session.add(collection)
        db.session.flush()
        for group_code, capacity, intermediate in groups:
            db.session.add(Group(
                collection_id=collection.id, code=group_code, label=f"{label} {group_code}",
                capacity=capacity, intermediate_capacity=intermediate,
            ))
        for campaign in campaigns:
            db.session.add(CampaignCollection(
                campaign_id=campaign.id, collection_id=collection.id, mode=mode, has_waitlist=has_waitlist,
            ))
    db.session.flush()
