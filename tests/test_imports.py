"""CSV imports: encodings and separators, all-or-nothing checks, upserts, the structure, the console and the CLI."""

import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import (
    AcquiredElp, AuditEntry, Block, BlockCode, Cip, Elp, Group, GroupCollection, Ia, ListLink, OwedElp, Student, Vet,
)
from kiosk.services.tree import build_tree
from kiosk.transfers import jobs
from kiosk.transfers.base import ImportRejected
from kiosk.transfers.imports import import_file
from kiosk.transfers.models import ImportJob

from .factories import make_staff
from .helpers import csrf_token, log_in_staff

DATA = Path(__file__).parent / "data"
STRUCTURE_KINDS = ("cip", "nature", "vet", "elp", "lse", "lse-member", "link")


def read_data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def import_data(kind: str, name: str, data: bytes | None = None):
    result = import_file(kind, read_data(name) if data is None else data, name, actor="test")
    db.session.commit()
    return result


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def student(number: str) -> Student | None:
    return db.session.scalar(select(Student).where(Student.number == number))


def import_structure() -> Vet:
    for kind in STRUCTURE_KINDS:
        import_data(kind, f"structure-{kind}.csv")
    return db.session.scalar(select(Vet).where(Vet.code == "L1SCI"))


def cp1252_as_utf8_with_bom(name: str) -> bytes:
    return read_data(name).decode("cp1252").encode("utf-8-sig")


# --- Reading files ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig"])
def test_student_name_in_both_encodings(world, encoding):
    data = read_data("students-cp1252.csv") if encoding == "cp1252" else cp1252_as_utf8_with_bom("students-cp1252.csv")
    assert b"\r\n" in data
    result = import_data("students", "students-cp1252.csv", data)
    imported = student("22612345")
    assert imported is not None  # the first header, "Numéro étudiant", was recognised
    assert result.ignored_columns == []
    assert imported.last_name == "Lefèvre-Ngô"
    assert imported.first_name == "Hélène"
    assert imported.birth_date == date(2005, 7, 3)
    assert imported.phone == "06 12 34 56 78"
    ia = db.session.scalar(select(Ia).where(Ia.student_id == imported.id))
    assert (ia.vet_id, ia.year, ia.state, ia.payment_state, ia.is_principal) == (world.vet.id, 2026, "E", "P", True)


def test_invalid_bytes_name_line(world):
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "students-invalid-bytes.csv")
    issues = rejected.value.issues
    assert [issue.line for issue in issues] == [3]
    assert "0x81" in issues[0].message
    db.session.rollback()
    assert student("22612346") is None


def test_two_bad_rows_reported(world):
    students_before = count(Student)
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "students-two-bad-rows.csv")
    issues = rejected.value.issues
    assert [issue.line for issue in issues] == [3, 5]
    assert "31/02/2026" in issues[0].message
    assert "NOVET/1" in issues[1].message
    db.session.rollback()
    assert count(Student) == students_before


def test_comma_file_imports_when_fixed(world):
    text = read_data("students-two-bad-rows.csv").decode("utf-8")
    fixed = text.replace("31/02/2026", "28/02/2006").replace("NOVET", "TESTVET").encode("utf-8")
    result = import_data("students", "students-fixed.csv", fixed)
    assert result.counts.created == 5
    assert student("22612352").last_name == "Nguyễn"
    ia = db.session.scalar(select(Ia).join(Student).where(Student.number == "22612354"))
    assert ia.year == 2026


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "vide"),
    (b"numero_etudiant;nom\r\n", "aucune ligne"),
    (b"nom;prenom\r\nDurand;L\xc3\xa9a\r\n", "colonnes obligatoires absentes"),
    (b"numero_etudiant;numero_etudiant\r\n1;2\r\n", "deux fois"),
    (b"numero_etudiant;nom\r\n1;Du\x00pont\r\n", "caractère nul"),
    (b"numero_etudiant;nom\r\n1;\"Dupont\r\n", "guillemets"),
])
def test_unreadable_file_rejected(world, content, expected):
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "bad.csv", content)
    assert expected in rejected.value.issues[0].message


def test_utf8_bad_byte_names_line(world):
    data = "numero_etudiant;nom\r\n1;Lefèvre\r\n2;Mar\x00tin\r\n".encode("utf-8").replace(b"\x00", b"\xe9")
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "mixed.csv", data)
    assert rejected.value.issues[0].line == 3


def test_excel_separator_line(world):
    data = read_data("students-cp1252.csv").replace(b";", b",")
    result = import_data("students", "sep.csv", b"sep=,\r\n" + data)
    assert result.counts.created == 1


# --- Rows -------------------------------------------------------------------------------------


def test_duplicate_row_rejected(world):
    data = read_data("students-cp1252.csv")
    last_line = data.splitlines()[1]
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "twice.csv", data + last_line + b"\r\n")
    issue = rejected.value.issues[0]
    assert issue.line == 3
    assert "double" in issue.message
    assert "ligne 2" in issue.message


def test_bad_cells_each_reported(world):
    header = "numero_etudiant;nom;prenom;date_naissance;email;code_vet;version_vet;annee;etat_ia;etat_paiement"
    row = "22612360;Blanc;Noé;1/13/2004;pas-une-adresse;TESTVET;1;26;Z;P"
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "cells.csv", f"{header}\r\n{row}\r\n".encode())
    messages = " | ".join(issue.message for issue in rejected.value.issues)
    assert "1/13/2004" in messages
    assert "pas-une-adresse" in messages
    assert "« 26 »" in messages
    assert "« Z »" in messages
    assert all(issue.line == 2 for issue in rejected.value.issues)


def test_student_rows_must_agree(world):
    header = "numero_etudiant;nom;prenom;date_naissance;email;code_vet;version_vet;annee;etat_ia;etat_paiement"
    rows = [
        "22612370;Blanc;Noé;01/02/2004;noe@example.org;TESTVET;1;2026;E;P",
        "22612370;Blanc;Noah;01/02/2004;noe@example.org;TESTVET;1;2025;E;P",
    ]
    with pytest.raises(ImportRejected) as rejected:
        import_data("students", "agree.csv", "\r\n".join([header, *rows]).encode())
    assert [issue.line for issue in rejected.value.issues] == [3]


# --- Upserts ----------------------------------------------------------------------------------


def test_same_file_twice_changes_nothing(world):
    first = import_data("students", "students-cp1252.csv")
    second = import_data("students", "students-cp1252.csv")
    assert (first.counts.created, first.counts.modified) == (1, 0)
    assert second.counts.created == 0
    assert second.counts.modified == 0
    assert second.counts.unchanged == 1
    assert second.counts.summary() == "0 créé, 0 modifié, 1 inchangé"


def test_changed_row_counts_modified(world):
    import_data("students", "students-cp1252.csv")
    changed = read_data("students-cp1252.csv").replace(b";E;P;O", b";E;A;O")
    result = import_data("students", "students-cp1252.csv", changed)
    assert result.counts.modified == 1
    assert db.session.scalar(select(Ia.payment_state).join(Student).where(Student.number == "22612345")) == "A"


def test_empty_contact_cell_keeps_value(world):
    import_data("students", "students-cp1252.csv")
    without_phone = read_data("students-cp1252.csv").replace(b"06 12 34 56 78", b"")
    result = import_data("students", "students-cp1252.csv", without_phone)
    assert result.counts.unchanged == 1
    assert student("22612345").phone == "06 12 34 56 78"


def test_import_recorded_in_audit(world):
    import_data("students", "students-cp1252.csv")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert entry.actor == "test"
    assert entry.object_id == "students"
    assert entry.after == {"file": "students-cp1252.csv", "rows": 1, "created": 1, "modified": 0, "unchanged": 0}


# --- Structure --------------------------------------------------------------------------------


def test_structure_gives_tree(app_context):
    vet = import_structure()
    tree = build_tree(vet, date(2026, 12, 4))

    assert [tree_list.code for tree_list in tree.lists] == ["SCI1SEM"]
    semester = tree.lists[0].elements[0]
    assert semester.code == "SCI1S1"
    lists = {tree_list.code: tree_list for tree_list in semester.lists}
    # The fictive block's list takes its place; the list closed on 31/08/2026 is gone.
    assert list(lists) == ["SCI1TRC", "SCI1CHX", "SCI1FAC", "SCI1LNG"]
    assert [e.code for e in lists["SCI1TRC"].elements] == ["SCI1MAT", "SCI1PHY"]
    assert [e.code for e in lists["SCI1CHX"].elements] == ["SCI1CHI", "SCI1BIO"]  # SCI1GEO is suspended
    assert (lists["SCI1CHX"].type, lists["SCI1CHX"].min_chosen, lists["SCI1CHX"].max_chosen) == ("X", 1, 2)
    assert (lists["SCI1FAC"].type, lists["SCI1FAC"].min_chosen, lists["SCI1FAC"].max_chosen) == ("F", 0, 1)
    assert (lists["SCI1LNG"].type, lists["SCI1LNG"].min_chosen, lists["SCI1LNG"].max_chosen) == ("X", 1, 1)
    assert lists["SCI1CHX"].elements[0].ects == Decimal("4.5")
    assert lists["SCI1CHX"].elements[0].label == "Chimie"
    assert semester.is_semester


def test_structure_twice_unchanged(app_context):
    import_structure()
    for kind in STRUCTURE_KINDS:
        counts = import_data(kind, f"structure-{kind}.csv").counts
        assert (kind, counts.created, counts.modified) == (kind, 0, 0)


def test_structure_loop_rejected(app_context):
    import_structure()
    links_before = count(ListLink)
    loop = b"code_lse;code_elp_parent;nb_min;nb_max\r\nSCI1SEM;SCI1MAT;;\r\n"
    with pytest.raises(ImportRejected) as rejected:
        import_data("link", "loop.csv", loop)
    assert "boucle" in rejected.value.issues[0].message
    assert "SCI1S1" in rejected.value.issues[0].message
    db.session.rollback()
    assert count(ListLink) == links_before


def test_link_needs_one_parent(app_context):
    import_structure()
    both = b"code_lse;code_vet;version_vet;code_elp_parent\r\nSCI1LNG;L1SCI;101;SCI1S1\r\n"
    with pytest.raises(ImportRejected) as rejected:
        import_data("link", "both.csv", both)
    assert rejected.value.issues[0].line == 2


# --- Records and groups -------------------------------------------------------------------------


def test_records_and_groups_imported(world):
    db.session.add(BlockCode(code="BU", label="Bibliothèque", forbids_registration=True))
    db.session.commit()
    import_data("blocks", "blocks.csv")
    import_data("acquired", "acquired.csv")
    import_data("owed", "owed.csv")
    result = import_data("groups", "groups.csv")

    block = db.session.scalar(select(Block))
    assert (block.code, block.starts_on, block.ends_on) == ("BU", date(2026, 9, 1), date(2026, 12, 15))
    acquired = db.session.scalar(select(AcquiredElp))
    assert (acquired.elp_id, acquired.year) == (world.elps["UED"].id, 2025)
    owed = db.session.scalar(select(OwedElp))
    assert (owed.elp_id, owed.year) == (world.elps["UEK"].id, 2026)
    assert result.counts.created == 3
    td1 = db.session.scalar(select(Group).where(Group.code == "TD1"))
    assert (td1.capacity, td1.intermediate_capacity, td1.collection.elp_id) == (30, 20, world.elps["UEA"].id)
    amphi = db.session.scalar(select(GroupCollection).where(GroupCollection.code == "VETAMPHI"))
    assert amphi.vet_id == world.vet.id


def test_group_capacity_change_modifies(world):
    import_data("groups", "groups.csv")
    raised = read_data("groups.csv").replace(b";TD2;TD 2;30;", b";TD2;TD 2;35;")
    result = import_data("groups", "groups.csv", raised)
    assert (result.counts.modified, result.counts.unchanged) == (1, 2)
    assert db.session.scalar(select(Group.capacity).where(Group.code == "TD2")) == 35


def test_unknown_student_rejected(world):
    with pytest.raises(ImportRejected) as rejected:
        import_data("acquired", "acquired.csv", b"numero_etudiant;code_elp;annee\r\n99999999;UED;2025\r\n")
    assert "99999999" in rejected.value.issues[0].message


# --- Console ----------------------------------------------------------------------------------


def upload(client, kind: str, data: bytes, filename: str = "fichier.csv"):
    token = csrf_token(client, "/gestion/imports")
    return client.post(
        "/gestion/imports", content_type="multipart/form-data",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), filename)},
    )


def run_steps(client, job_path: str, htmx: bool = False) -> list[str]:
    """Post the job's steps as its page does until it finishes; return the pages seen."""
    pages = []
    for _attempt in range(50):
        page = client.get(job_path).get_data(as_text=True)
        pages.append(page)
        step = re.search(r'name="step" value="(\d+)"', page)
        if step is None:
            return pages
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.post(f"{job_path}/etape", data={"csrf_token": token, "step": step.group(1)}, headers=headers)
        assert response.status_code in (200, 303), response.get_data(as_text=True)
    pytest.fail("the import job did not finish in 50 steps")


def test_web_import_other_cip_refused(client, world):
    other_cip = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other_cip)
    db.session.flush()
    db.session.add(Vet(code="OTHER", version="1", label="Autre formation", cip_id=other_cip.id))
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    data = read_data("students-cp1252.csv").replace(b"TESTVET;1;", b"OTHER;1;")

    response = upload(client, "students", data)
    assert response.status_code == 303
    pages = run_steps(client, response.headers["Location"])

    job = db.session.scalar(select(ImportJob))
    assert job.status == "failed"
    assert "CIP S02" in pages[-1]
    assert "Ligne 2" in pages[-1]
    assert student("22612345") is None
    assert job.content is None


def test_web_import_admin_kind_refused(client, world):
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    response = upload(client, "elp", read_data("structure-elp.csv"))
    assert response.status_code == 422
    assert count(ImportJob) == 0


def test_web_import_shows_progress(client, world, monkeypatch):
    monkeypatch.setattr(jobs, "CHECK_CHUNK_ROWS", 2)
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    text = read_data("students-two-bad-rows.csv").decode("utf-8")
    data = text.replace("31/02/2026", "28/02/2006").replace("NOVET", "TESTVET").encode("utf-8")

    response = upload(client, "students", data, "etudiants.csv")
    pages = run_steps(client, response.headers["Location"], htmx=True)

    assert "Vérification : 0 lignes sur 5." in pages[0]
    assert "Vérification : 2 lignes sur 5." in pages[1]
    assert "Vérification : 4 lignes sur 5." in pages[2]
    assert "Enregistrement des 5 lignes" in pages[3]
    assert "Import terminé : 5 créés, 0 modifié, 0 inchangé." in pages[4]
    assert count(Ia) == 1 + 5
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert entry.actor == "agnes"


def test_web_step_runs_once(client, world):
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    response = upload(client, "students", read_data("students-cp1252.csv"))
    job_path = response.headers["Location"]
    token = csrf_token(client, job_path)
    for _attempt in range(2):
        client.post(f"{job_path}/etape", data={"csrf_token": token, "step": "0"})
    job = db.session.scalar(select(ImportJob))
    assert job.step_count == 1
    assert job.status == "importing"


def test_web_job_hidden_from_others(client, world):
    make_staff("agnes", [world.cip])
    make_staff("bruno", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    job_path = upload(client, "students", read_data("students-cp1252.csv")).headers["Location"]
    log_in_staff(client, "bruno")
    assert client.get(job_path).status_code == 404


def test_web_unreadable_file_shown_on_form(client, world):
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    response = upload(client, "students", read_data("students-invalid-bytes.csv"))
    assert response.status_code == 422
    assert "Ligne 3" in response.get_data(as_text=True)
    assert count(ImportJob) == 0


# --- Command line -------------------------------------------------------------------------------


def test_cli_import(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "students", str(DATA / "students-cp1252.csv")])
    assert result.exit_code == 0, result.output
    assert "1 créé" in result.output
    assert student("22612345").last_name == "Lefèvre-Ngô"
    again = runner.invoke(args=["import", "students", str(DATA / "students-cp1252.csv")])
    assert "0 créé, 0 modifié, 1 inchangé" in again.output


def test_cli_import_rejected(app, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "students", str(DATA / "students-two-bad-rows.csv")])
    assert result.exit_code == 1
    assert "Ligne 3 :" in result.output
    assert "Ligne 5 :" in result.output
    assert "Rien n'a été importé" in result.output
    assert student("22612350") is None
