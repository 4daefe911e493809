"""Personal data: the student's JSON export, and the purge of what is older than the retention."""

import json
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import (
    AcquiredElp, AuditEntry, Block, BlockCode, Group, GroupMembership, Ia, Ip, IpSelection, IpVersion, OutboxMail,
    OwedElp, Student, WaitlistEntry,
)
from kiosk.services.personal_data import first_retained_year, purge_personal_data, year_start_utc

from .factories import complete_choice, make_collection, make_ia, make_student
from .helpers import elements_form, log_in, post_form

EXPORT_PATH = "/dossier/donnees-personnelles.json"
CURRENT_YEAR = 2026  # KIOSK_ACADEMIC_YEAR in the test app
RETENTION_YEARS = 5  # keeps 2021-2022 to 2026-2027


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def add_block(student: Student, code: str = "BIB") -> Block:
    if db.session.get(BlockCode, code) is None:
        db.session.add(BlockCode(code=code, label="Dette de bibliothèque", forbids_registration=False))
    block = Block(student_id=student.id, code=code, starts_on=date(2026, 9, 1), ends_on=None)
    db.session.add(block)
    return block


def add_mail(address: str, created_at: datetime, subject: str = "Votre contrat pédagogique") -> OutboxMail:
    mail = OutboxMail(
        message_id=f"<{address}-{created_at:%Y%m%d%H%M}@example.org>", sender_name="Scolarité",
        sender_address="scolarite@example.org", recipient_name="Étudiant", recipient_address=address,
        subject=subject, body_text="Corps du message", status="sent", created_at=created_at, sent_at=created_at,
    )
    db.session.add(mail)
    return mail


def add_audit(actor: str, object_type: str, object_id: str, at: datetime) -> AuditEntry:
    entry = AuditEntry(at=at, actor=actor, action="update_contact", object_type=object_type, object_id=object_id,
                       before={"phone": "01 02 03 04 05"}, after={"phone": "06 07 08 09 10"})
    db.session.add(entry)
    return entry


def add_ip(world, student: Student, year: int, created_at: datetime) -> Ip:
    """Add a validated IP with one selection and one contract version."""
    ip = Ip(student_id=student.id, year=year, vet_id=world.vet.id, campaign_id=world.campaign.id, status="complete",
            origin="web", version_count=1, created_at=created_at, updated_at=created_at)
    db.session.add(ip)
    db.session.flush()
    db.session.add(IpSelection(ip_id=ip.id, parent_elp_id=world.elps["S1"].id, lse_id=world.lists["CHOIX2"].id,
                               elp_id=world.elps["UEA"].id))
    db.session.add(IpVersion(ip_id=ip.id, number=1, status="complete", validated_at=created_at,
                             validated_by=student.number, contract={"student": {"number": student.number}}))
    return ip


def download_export(client, student_number: str) -> dict:
    log_in(client, student_number)
    response = client.get(EXPORT_PATH)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


@pytest.fixture
def validated(client, world):
    """Zoé corrects her phone, chooses a TD, then validates twice: two contract versions and two mails."""
    td = make_collection(world.campaign, world.elps["UEOBL"], "TD", [("TD1", 5, None), ("TD2", 1, None)], has_waitlist=True)
    td2 = next(group for group in td.groups if group.code == "TD2")
    td2.seats_taken = 1
    add_block(world.student)
    db.session.add(AcquiredElp(student_id=world.student.id, elp_id=world.elps["UED"].id, year=2025))
    db.session.add(OwedElp(student_id=world.student.id, elp_id=world.elps["UEE"].id, year=2026))
    db.session.commit()

    log_in(client, world.student.number)
    contact = {name: getattr(world.student, name) for name in ("email", "address_line", "postal_code", "city", "country")}
    post_form(client, "/dossier", {**contact, "phone": "07 98 76 54 32"})
    ia_path = f"/inscriptions/{world.ia.id}"
    post_form(client, f"{ia_path}/groupes/{td.id}/attente", {"group": td2.id}, htmx=True)
    post_form(client, f"{ia_path}/groupes/{td.id}", {"group": td.groups[0].id}, htmx=True)
    for _validation in range(2):
        response = post_form(client, f"{ia_path}/validation", elements_form(complete_choice(world)))
        assert response.status_code == 302, response.get_data(as_text=True)
    return td


@pytest.fixture
def other_student(world, clock):
    """Another student of the same VET, with an IP, a mail and an audit entry of their own."""
    other = make_student("22600002", "Ilias", "Papadopoulos", email="ilias.p@example.org")
    make_ia(other, world.vet)
    add_ip(world, other, 2026, clock.now)
    add_mail(other.email, clock.now)
    add_audit(other.number, "student", other.number, clock.now)
    db.session.commit()
    return other


# The export


def test_profile_links_to_personal_data(client, world):
    log_in(client, world.student.number)
    profile = client.get("/dossier").get_data(as_text=True)
    assert 'href="/dossier/donnees-personnelles"' in profile


def test_personal_data_page_links_download(client, world):
    log_in(client, world.student.number)
    page = client.get("/dossier/donnees-personnelles").get_data(as_text=True)
    assert f'href="{EXPORT_PATH}"' in page
    assert "5 années de plus" in page


def test_export_needs_login(client, world):
    response = client.get(EXPORT_PATH)
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion"


def test_export_is_json_attachment(client, world):
    log_in(client, world.student.number)
    response = client.get(EXPORT_PATH)
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == "attachment; filename=donnees-personnelles-22600001.json"
    assert response.headers["Cache-Control"] == "no-store"


def test_export_identity(client, world):
    data = download_export(client, world.student.number)
    assert data["student"]["number"] == "22600001"
    assert data["student"]["last_name"] == "Lefèvre-Ngô"
    assert data["student"]["first_name"] == "Zoé"
    assert data["student"]["birth_date"] == "2004-05-17"


def test_export_contact_details(client, world, validated):
    data = download_export(client, world.student.number)
    assert data["student"]["email"] == "zoe.lefevre-ngo@example.org"
    assert data["student"]["phone"] == "07 98 76 54 32"
    assert data["student"]["address_line"] == "12 rue des Écoles"
    assert data["student"]["postal_code"] == "75005"
    assert data["student"]["city"] == "Paris"
    assert data["student"]["country"] == "France"


def test_export_ias(client, world):
    data = download_export(client, world.student.number)
    assert data["ias"] == [{
        "year": "2026-2027", "vet_code": "TESTVET", "vet_version": "1", "vet_label": "Licence de test, 1re année",
        "state": "E", "payment_state": "P", "is_principal": True,
    }]


def test_export_blocks(client, world, validated):
    data = download_export(client, world.student.number)
    assert data["blocks"] == [{"code": "BIB", "label": "Dette de bibliothèque", "starts_on": "2026-09-01", "ends_on": None}]


def test_export_acquired_and_owed(client, world, validated):
    data = download_export(client, world.student.number)
    assert data["acquired_elements"] == [{"year": "2025-2026", "code": "UED", "label": "UE D"}]
    assert data["owed_elements"] == [{"year": "2026-2027", "code": "UEE", "label": "UE E"}]


def test_export_ip_selections(client, world, validated):
    ip = download_export(client, world.student.number)["ips"][0]
    chosen = {(row["list"], row["element_code"]) for row in ip["selections"]}
    assert ip["status"] == "complete"
    assert ip["campaign"] == "L01-2026"
    assert chosen == {("CHOIX2", "UEA"), ("CHOIX2", "UEB"), ("SUBA", "ECA1"), ("AUMOINS2", "UEF"), ("AUMOINS2", "UEG"), ("BLOCX", "UEL")}


def test_export_every_contract_version(client, world, validated):
    versions = download_export(client, world.student.number)["ips"][0]["versions"]
    assert [version["number"] for version in versions] == [1, 2]
    assert versions[1]["validated_by"] == "22600001"
    assert versions[1]["contract"]["student"]["last_name"] == "Lefèvre-Ngô"
    assert versions[1]["validated_at"] == "2026-12-04T10:00:00+00:00"


def test_export_groups_and_waitlists(client, world, validated):
    data = download_export(client, world.student.number)
    assert [(row["collection"], row["group"], row["assigned_by"]) for row in data["group_memberships"]] == [("TD", "TD1", "student")]
    assert [(row["collection"], row["group"]) for row in data["waitlist_entries"]] == [("TD", "TD2")]


def test_export_mails_without_body(client, world, validated):
    mails = download_export(client, world.student.number)["mails"]
    assert len(mails) == 2
    assert mails[0]["subject"].startswith("Votre contrat pédagogique 2026-2027")
    assert mails[0]["recipient_address"] == "zoe.lefevre-ngo@example.org"
    assert "body_text" not in mails[0]
    assert "attachment_data" not in mails[0]


def test_export_mails_to_earlier_address(client, world, clock):
    add_mail("ancienne.adresse@example.org", clock.now)
    db.session.commit()
    log_in(client, world.student.number)
    post_form(client, "/dossier", {"email": "ANCIENNE.adresse@example.org"})
    post_form(client, "/dossier", {"email": "nouvelle.adresse@example.org"})
    mails = download_export(client, world.student.number)["mails"]
    assert [mail["recipient_address"] for mail in mails] == ["ancienne.adresse@example.org"]


def test_export_audit_entries(client, world, validated):
    entries = download_export(client, world.student.number)["audit_entries"]
    contact_change = [entry for entry in entries if entry["action"] == "update_contact"]
    assert len(contact_change) == 1
    assert contact_change[0]["after"] == {"phone": "07 98 76 54 32"}


def test_export_has_only_own_data(client, world, validated, other_student):
    text = json.dumps(download_export(client, world.student.number), ensure_ascii=False)
    assert other_student.number not in text
    assert other_student.email not in text
    assert other_student.last_name not in text


def test_export_of_other_student(client, world, other_student):
    data = download_export(client, other_student.number)
    assert data["student"]["number"] == other_student.number
    assert len(data["ips"]) == 1
    assert len(data["mails"]) == 1
    assert len(data["audit_entries"]) == 1


# The purge


@pytest.fixture
def history(world, clock):
    """Students across the years, dated so that RETENTION_YEARS keeps 2021-2022 onwards.

    former: IAs in 2019 and 2020 only, with everything a student can have.
    returning: an IA in 2019 and one in 2026, old and new data side by side.
    edge: an IA in 2021 only, the oldest year kept.
    """
    old_moment = datetime(2020, 3, 2, 9, 0)
    students = {
        "former": make_student("21900001", "Ada", "Ancienne", email="ada@example.org"),
        "returning": make_student("21900002", "Basile", "Revenant", email="basile@example.org"),
        "edge": make_student("22100001", "Chloé", "Limite", email="chloe@example.org"),
    }
    former, returning, edge = students["former"], students["returning"], students["edge"]
    make_ia(former, world.vet, year=2019)
    make_ia(former, world.vet, year=2020)
    make_ia(returning, world.vet, year=2019)
    make_ia(returning, world.vet, year=2026)
    make_ia(edge, world.vet, year=2021)

    add_ip(world, former, 2019, old_moment)
    add_ip(world, returning, 2019, old_moment)
    add_ip(world, returning, 2026, clock.now)
    add_ip(world, edge, 2021, datetime(2021, 10, 1))
    for student in students.values():
        add_block(student)
        db.session.add(AcquiredElp(student_id=student.id, elp_id=world.elps["UED"].id, year=2019))
    db.session.add(OwedElp(student_id=former.id, elp_id=world.elps["UEE"].id, year=2020))
    db.session.add(OwedElp(student_id=returning.id, elp_id=world.elps["UEE"].id, year=2019))
    db.session.add(OwedElp(student_id=returning.id, elp_id=world.elps["UEF"].id, year=2026))

    td = make_collection(world.campaign, world.elps["UEOBL"], "TD", [("TD1", 5, None), ("TD2", 1, None)], has_waitlist=True)
    td1, td2 = td.groups
    td1.seats_taken = 2
    td2.seats_taken = 1
    db.session.add(GroupMembership(collection_id=td.id, group_id=td1.id, student_id=former.id, assigned_by="student", created_at=old_moment))
    db.session.add(GroupMembership(collection_id=td.id, group_id=td1.id, student_id=returning.id, assigned_by="student", created_at=clock.now))
    db.session.add(WaitlistEntry(group_id=td2.id, student_id=former.id, created_at=old_moment))

    add_mail(former.email, clock.now, subject="Relance récente")  # to a purged student: goes whatever its date
    add_mail(returning.email, old_moment)
    add_mail(returning.email, clock.now)
    add_mail(edge.email, datetime(2021, 10, 1))
    add_audit(former.number, "student", former.number, clock.now)
    add_audit(returning.number, "student", returning.number, old_moment)
    add_audit("gestionnaire", "student", returning.number, clock.now)
    add_audit("gestionnaire", "campaign", str(world.campaign.id), old_moment)  # not about a student: kept
    db.session.commit()
    return students, td1


def test_first_retained_year():
    assert first_retained_year(2026, 5) == 2021


def test_year_start_is_paris_midnight(app_context):
    assert year_start_utc(2021) == datetime(2021, 8, 31, 22, 0)


def test_purge_counts(history):
    counts = purge_personal_data(CURRENT_YEAR, RETENTION_YEARS)
    assert counts.students == 1
    assert counts.ips == 2
    assert counts.ip_versions == 2
    assert counts.ip_selections == 2
    assert counts.ias == 3
    assert counts.owed_elements == 2
    assert counts.outbox_mails == 2
    assert counts.audit_entries == 2
    assert counts.blocks == 1
    assert counts.acquired_elements == 1
    assert counts.group_memberships == 1
    assert counts.waitlist_entries == 1


def test_purge_deletes_student_without_kept_ia(history):
    students, _td1 = history
    purge_personal_data(CURRENT_YEAR, RETENTION_YEARS)
    db.session.commit()
    remaining = set(db.session.scalars(select(Student.number)))
    assert "21900001" not in remaining
    assert {"21900002", "22100001", "22600001"} <= remaining


def test_purge_keeps_recent_years(history):
    students, _td1 = history
    purge_personal_data(CURRENT_YEAR, RETENTION_YEARS)
    db.session.commit()
    returning_ias = db.session.scalars(select(Ia.year).where(Ia.student_id == students["returning"].id)).all()
    returning_ips = db.session.scalars(select(Ip.year).where(Ip.student_id == students["returning"].id)).all()
    edge_ips = db.session.scalars(select(Ip.year).where(Ip.student_id == students["edge"].id)).all()
    assert returning_ias == [2026]
    assert returning_ips == [2026]
    assert edge_ips == [2021]


def test_purge_keeps_recent_mails_and_audit(history):
    students, _td1 = history
    purge_personal_data(CURRENT_YEAR, RETENTION_YEARS)
    db.session.commit()
    addresses = sorted(db.session.scalars(select(OutboxMail.recipient_address)))
    audit_objects = sorted(db.session.scalars(select(AuditEntry.object_type)))
    assert addresses == ["basile@example.org", "chloe@example.org"]
    assert audit_objects == ["campaign", "student"]


def test_purge_gives_seat_back(history):
    _students, td1 = history
    purge_personal_data(CURRENT_YEAR, RETENTION_YEARS)
    db.session.commit()
    assert db.session.get(Group, td1.id).seats_taken == 1


def test_purge_keeps_current_student(history, world):
    purge_personal_data(CURRENT_YEAR, RETENTION_YEARS)
    db.session.commit()
    assert db.session.get(Student, world.student.id) is not None
    assert count(Block) == 2
    assert count(AcquiredElp) == 2


def test_purge_command_prints_counts(app, history):
    result = app.test_cli_runner().invoke(args=["purge-personal-data"])
    assert result.exit_code == 0, result.output
    assert "Deleted, before 2021-2022:" in result.output
    assert "  students: 1" in result.output
    assert "  ips: 2" in result.output
    assert count(Student) == 3


def test_purge_dry_run_deletes_nothing(app, history):
    before = {model.__name__: count(model) for model in (Student, Ia, Ip, IpVersion, OutboxMail, AuditEntry)}
    result = app.test_cli_runner().invoke(args=["purge-personal-data", "--dry-run"])
    after = {model.__name__: count(model) for model in (Student, Ia, Ip, IpVersion, OutboxMail, AuditEntry)}
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing deleted." in result.output
    assert "  students: 1" in result.output
    assert after == before


def test_purge_rejects_zero_retention(app, history, monkeypatch):
    monkeypatch.setitem(app.config, "KIOSK_RETENTION_YEARS", 0)
    result = app.test_cli_runner().invoke(args=["purge-personal-data"])
    assert result.exit_code == 1
    assert "KIOSK_RETENTION_YEARS is 0" in result.output
    assert count(Student) == 4


def test_purge_is_one_transaction(app, history, monkeypatch):
    """A failure late in the purge leaves every row in place."""
    from kiosk.services import personal_data

    def fail(_purged_students):
        raise RuntimeError("simulated failure before deleting students")

    monkeypatch.setattr(personal_data, "delete_other_references", fail)
    result = app.test_cli_runner().invoke(args=["purge-personal-data"])
    db.session.rollback()
    assert isinstance(result.exception, RuntimeError)
    assert count(Ip) == 4
    assert count(OutboxMail) == 4
    assert count(AuditEntry) == 4
