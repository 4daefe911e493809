"""Builders of invented structures, campaigns and students for tests."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import (
    Campaign, CampaignElp, CampaignVet, Cip, Elp, Ia, ListLink, Lse, LseMember, Nature, Student, Vet,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
YEAR = 2026


def ensure_natures() -> None:
    for code, label, is_fictive, is_semester in [
        ("SEM", "Semestre", False, True),
        ("UE", "Unité d'enseignement", False, False),
        ("ECUE", "Élément constitutif", False, False),
        ("BLOC", "Bloc", True, False),
    ]:
        if db.session.get(Nature, code) is None:
            db.session.add(Nature(code=code, label=label, is_fictive=is_fictive, is_semester=is_semester))
    db.session.flush()


def make_elp(code: str, label: str, ects=0, nature: str = "UE", **bounds) -> Elp:
    elp = Elp(code=code, label=label, nature_code=nature, ects=Decimal(str(ects)), **bounds)
    db.session.add(elp)
    db.session.flush()
    return elp


def hang_list(parent: Vet | Elp, code: str, lse_type: str, elements: list[Elp], minimum=0, maximum=None,
              label: str | None = None, closes_on: date | None = None) -> Lse:
    """Create an LSE with its elements and hang it under a VET or an ELP with its rule."""
    lse = Lse(code=code, label=label or f"Liste {code}", type=lse_type)
    db.session.add(lse)
    for position, elp in enumerate(elements):
        lse.members.append(LseMember(elp=elp, position=position))
    link = ListLink(lse=lse, min_chosen=minimum, max_chosen=maximum, closes_on=closes_on)
    if isinstance(parent, Vet):
        link.vet_id = parent.id
    else:
        link.parent_elp_id = parent.id
    db.session.add(link)
    db.session.flush()
    return lse


def assign_campaign(campaign: Campaign, vet: Vet) -> None:
    """Initialise the campaign on the VET and assign it to every ELP of the VET's tree."""
    db.session.add(CampaignVet(campaign_id=campaign.id, vet_id=vet.id))
    links = db.session.scalars(select(ListLink).where(ListLink.vet_id == vet.id)).all()
    seen: set[int] = set()
    while links:
        parent_ids = []
        for link in links:
            for member in link.lse.members:
                if member.elp_id not in seen:
                    seen.add(member.elp_id)
                    parent_ids.append(member.elp_id)
                    db.session.add(CampaignElp(campaign_id=campaign.id, vet_id=vet.id, elp_id=member.elp_id))
        links = db.session.scalars(select(ListLink).where(ListLink.parent_elp_id.in_(parent_ids))).all() if parent_ids else []
    db.session.flush()


def make_student(number: str, first_name: str, last_name: str, email: str | None = None) -> Student:
    student = Student(
        number=number, first_name=first_name, last_name=last_name, birth_date=date(2004, 5, 17),
        email=email or f"{number}@example.org", phone="06 12 34 56 78",
        address_line="12 rue des Écoles", postal_code="75005", city="Paris", country="France",
    )
    db.session.add(student)
    db.session.flush()
    return student


def make_ia(student: Student, vet: Vet, state="E", payment_state="P", year=YEAR) -> Ia:
    ia = Ia(student_id=student.id, vet_id=vet.id, year=year, state=state, payment_state=payment_state)
    db.session.add(ia)
    db.session.flush()
    return ia


@dataclass
class World:
    cip: Cip
    vet: Vet
    campaign: Campaign
    student: Student
    ia: Ia
    elps: dict[str, Elp] = field(default_factory=dict)
    lists: dict[str, Lse] = field(default_factory=dict)

    def key(self, list_code: str, elp_code: str, parent_code: str | None = None) -> str:
        """Return the checkbox value of an element: parent ELP, list and ELP ids."""
        parent_id = self.elps[parent_code].id if parent_code else 0
        return f"{parent_id}-{self.lists[list_code].id}-{self.elps[elp_code].id}"


def build_world(now: datetime) -> World:
    """Build CIP L01 (web open), VET TESTVET with one semester, an open campaign and Zoé.

    S1 (SEM) holds: O list [UEOBL 6]; X 2..2 "CHOIX2" [UEA, UEB, UEC 6 each, UEA with an
    X 1..1 sub-list of ECUEs]; X 0..1 "OPT01" [UED, UEE 3 each]; X 2..∞ "AUMOINS2" [UEF…UEJ
    3 each]; F 0..1 "FACULT" [UEK 0]; a fictive BLOC in an O list holding X 1..1 "BLOCX" [UEL, UEM 3].
    """
    ensure_natures()
    cip = Cip(code="L01", label="UFR Lettres", is_web_open=True)
    db.session.add(cip)
    db.session.flush()
    vet = Vet(code="TESTVET", version="1", label="Licence de test, 1re année", cip_id=cip.id)
    db.session.add(vet)
    db.session.flush()

    elps = {code: make_elp(code, label, ects) for code, label, ects in [
        ("UEOBL", "UE obligatoire", 6), ("UEA", "UE A", 6), ("UEB", "UE B", 6), ("UEC", "UE C", 6),
        ("UED", "UE D", 3), ("UEE", "UE E", 3), ("UEF", "UE F", 3), ("UEG", "UE G", 3),
        ("UEH", "UE H", 3), ("UEI", "UE I", 3), ("UEJ", "UE J", 3), ("UEK", "Stage facultatif", 0),
        ("UEL", "UE L", 3), ("UEM", "UE M", 3),
    ]}
    elps["S1"] = make_elp("S1", "Semestre 1", 30, nature="SEM")
    elps["BLOC1"] = make_elp("BLOC1", "Bloc fictif", 0, nature="BLOC")
    elps["ECA1"] = make_elp("ECA1", "ECUE A1", 3, nature="ECUE")
    elps["ECA2"] = make_elp("ECA2", "ECUE A2", 3, nature="ECUE")

    lists = {}
    lists["ROOT"] = hang_list(vet, "ROOT", "O", [elps["S1"]], label="Semestres")
    lists["OBL"] = hang_list(elps["S1"], "OBL", "O", [elps["UEOBL"]], label="Tronc commun")
    lists["CHOIX2"] = hang_list(elps["S1"], "CHOIX2", "X", [elps[c] for c in ("UEA", "UEB", "UEC")], 2, 2, label="Options majeures")
    lists["OPT01"] = hang_list(elps["S1"], "OPT01", "X", [elps["UED"], elps["UEE"]], 0, 1, label="Option libre")
    lists["AUMOINS2"] = hang_list(elps["S1"], "AUMOINS2", "X", [elps[c] for c in ("UEF", "UEG", "UEH", "UEI", "UEJ")], 2, None, label="Ouverture")
    lists["FACULT"] = hang_list(elps["S1"], "FACULT", "F", [elps["UEK"]], 0, 1, label="Stage")
    lists["BLOCO"] = hang_list(elps["S1"], "BLOCO", "O", [elps["BLOC1"]], label="Bloc")
    lists["BLOCX"] = hang_list(elps["BLOC1"], "BLOCX", "X", [elps["UEL"], elps["UEM"]], 1, 1, label="Langue")
    lists["SUBA"] = hang_list(elps["UEA"], "SUBA", "X", [elps["ECA1"], elps["ECA2"]], 1, 1, label="Parcours de l'UE A")

    campaign = Campaign(
        code="L01-2026", label="IP web L01 2026", cip_id=cip.id,
        opens_at=now - timedelta(days=10), closes_at=now + timedelta(days=20), allows_partial=True,
    )
    db.session.add(campaign)
    db.session.flush()
    assign_campaign(campaign, vet)

    student = make_student("22600001", "Zoé", "Lefèvre-Ngô", email="zoe.lefevre-ngo@example.org")
    ia = make_ia(student, vet)
    return World(cip=cip, vet=vet, campaign=campaign, student=student, ia=ia, elps=elps, lists=lists)


def complete_choice(world: World) -> set[str]:
    """Return a selection that meets every rule of TESTVET."""
    return {
        world.key("CHOIX2", "UEA", "S1"), world.key("CHOIX2", "UEB", "S1"),
        world.key("SUBA", "ECA1", "UEA"),
        world.key("AUMOINS2", "UEF", "S1"), world.key("AUMOINS2", "UEG", "S1"),
        world.key("BLOCX", "UEL", "BLOC1"),
    }


def make_collection(campaign: Campaign, owner: Elp | Vet, code: str, groups: list[tuple[str, int, int | None]],
                    mode: str = "student", has_waitlist: bool = False, label: str = "TD"):
    """Create a group collection on an ELP or a VET with its groups, and its mode in the campaign."""
    from kiosk.models import CampaignCollection, Group, GroupCollection

    collection = GroupCollection(code=code, label=label)
    if isinstance(owner, Vet):
        collection.vet_id = owner.id
    else:
        collection.elp_id = owner.id
    db.session.add(collection)
    db.session.flush()
    for group_code, capacity, intermediate in groups:
        db.session.add(Group(collection_id=collection.id, code=group_code, label=group_code,
                             capacity=capacity, intermediate_capacity=intermediate))
    db.session.add(CampaignCollection(campaign_id=campaign.id, collection_id=collection.id, mode=mode,
                                      has_waitlist=has_waitlist))
    db.session.flush()
    return collection


def make_cohort(world: World, count: int, prefix: str = "2269") -> list[Student]:
    """Create count students with a paid IA on the world's VET."""
    students = []
    for index in range(count):
        student = make_student(f"{prefix}{index:04d}", f"Prénom{index}", f"Nom{index}")
        make_ia(student, world.vet)
        students.append(student)
    return students


def make_staff(login: str, cips: list[Cip] = (), is_admin: bool = False, password: str = "mot-de-passe-test"):
    from kiosk.models import StaffUser

    staff = StaffUser(login=login, display_name=login.capitalize(), is_admin=is_admin, cips=list(cips))
    staff.set_password(password)
    db.session.add(staff)
    db.session.flush()
    return staff


def make_ip(student: Student, vet: Vet, status: str, updated_at: datetime, validated_at: list[datetime] = ()):
    """Create the student's IP on the VET with its status, and one contract version per validation time.

    The versions take the IP's status; their contract is left empty.
    """
    from kiosk.models import Ip, IpVersion

    ip = Ip(student_id=student.id, year=YEAR, vet_id=vet.id, status=status, origin="web",
            version_count=len(validated_at), created_at=updated_at, updated_at=updated_at)
    db.session.add(ip)
    db.session.flush()
    for number, moment in enumerate(validated_at, start=1):
        db.session.add(IpVersion(ip_id=ip.id, number=number, status=status, validated_at=moment,
                                 validated_by=student.number, contract={}))
    db.session.flush()
    return ip
