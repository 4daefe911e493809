"""CSV exports: the validated IPs of a VET for the information system, and group lists for teachers."""

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Group, GroupCollection, GroupMembership, Ip, IpVersion, Student, Vet
from ..services import clock
from .csv_files import write_csv
from .lookups import elp_ids_under_vets

IP_HEADERS = [
    "numero_etudiant", "annee", "code_vet", "version_vet", "code_elp", "code_elp_parent", "code_lse", "acquis",
    "date_validation",
]
GROUP_HEADERS = [
    "code_element", "libelle_element", "code_collection", "libelle_collection", "code_groupe", "libelle_groupe",
    "numero_etudiant", "nom", "prenom", "email",
]
EXPORT_KINDS = ("ips", "groups")


def ip_export_filename(vet: Vet | None, year: int) -> str:
    return f"ip-{vet.code}-{vet.version}-{year}.csv" if vet else f"ip-{year}.csv"


def group_export_filename(vet: Vet | None) -> str:
    return f"groupes-{vet.code}-{vet.version}.csv" if vet else "groupes.csv"


def export_ips(vet: Vet | None, year: int) -> bytes:
    """Write one line per element of the latest contract version of each IP of the year.

    With vet None, the file holds the IPs of every VET.
    """
    rows = []
    for version in latest_versions(vet, year):
        rows.extend(contract_lines(version))
    return write_csv(IP_HEADERS, rows)


def latest_versions(vet: Vet | None, year: int) -> list[IpVersion]:
    ips = select(Ip.id).where(Ip.year == year)
    if vet is not None:
        ips = ips.where(Ip.vet_id == vet.id)
    latest = (
        select(IpVersion.ip_id, func.max(IpVersion.number).label("number"))
        .where(IpVersion.ip_id.in_(ips))
        .group_by(IpVersion.ip_id)
        .subquery()
    )
    query = (
        select(IpVersion)
        .join(latest, (IpVersion.ip_id == latest.c.ip_id) & (IpVersion.number == latest.c.number))
        .join(Ip, Ip.id == IpVersion.ip_id)
        .join(Student, Student.id == Ip.student_id)
        .options(selectinload(IpVersion.ip))
        .order_by(Student.number, Ip.vet_id)
    )
    return list(db.session.scalars(query))


def contract_lines(version: IpVersion) -> list[list[str]]:
    """Return the export lines of a contract version, read from its frozen data only."""
    contract = version.contract
    validated_at = clock.to_local(version.validated_at).strftime("%d/%m/%Y %H:%M")
    lines = []
    for row in contract["rows"]:
        # NOTE: contract rows frozen without "parent_code" and "list_code" export those
        # two columns empty.
        lines.append([
            contract["student"]["number"], str(version.ip.year), contract["vet"]["code"], contract["vet"]["version"],
            row["code"], row.get("parent_code") or "", row.get("list_code") or "",
            "O" if row["situation"] == "acquired" else "N", validated_at,
        ])
    return lines


def export_groups(vet: Vet | None) -> bytes:
    """Write one line per student placed in a group of the VET or of an element of its structure.

    A group of an element shared with other VETs lists all its students, whatever their VET.
    With vet None, the file holds every group.
    """
    query = (
        select(GroupCollection, Group, Student)
        .join(Group, Group.collection_id == GroupCollection.id)
        .join(GroupMembership, GroupMembership.group_id == Group.id)
        .join(Student, Student.id == GroupMembership.student_id)
        .options(selectinload(GroupCollection.elp), selectinload(GroupCollection.vet))
    )
    if vet is not None:
        elp_ids = elp_ids_under_vets([vet.id])
        query = query.where(or_(GroupCollection.vet_id == vet.id, GroupCollection.elp_id.in_(elp_ids)))
    lines = []
    for collection, group, student in db.session.execute(query):
        owner_code, owner_label = owner_of(collection)
        lines.append([
            owner_code, owner_label, collection.code, collection.label, group.code, group.label,
            student.number, student.last_name, student.first_name, student.email,
        ])
    lines.sort(key=lambda line: (line[0], line[2], line[4], line[7].casefold(), line[8].casefold(), line[6]))
    return write_csv(GROUP_HEADERS, lines)


def owner_of(collection: GroupCollection) -> tuple[str, str]:
    """Return the code and label of the element, or the VET, that a collection belongs to."""
    if collection.elp is not None:
        return collection.elp.code, collection.elp.label
    return collection.vet.full_code, collection.vet.label
