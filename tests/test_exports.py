"""CSV exports: validated IPs for the information system and group lists, from the console and the CLI."""

import csv
import io
from datetime import datetime

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AcquiredElp, Cip, GroupMembership, Ip, IpVersion
from kiosk.transfers.exports import GROUP_HEADERS, IP_HEADERS, export_ips

from .factories import complete_choice, make_collection, make_staff, make_student
from .helpers import elements_form, log_in, log_in_staff, post_form

BOM = b"\xef\xbb\xbf"


def read_lines(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def validate_as_student(client, world) -> IpVersion:
    log_in(client, world.student.number)
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalar(select(IpVersion))


def download(client, world, path: str) -> bytes:
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return response.data


@pytest.fixture
def ip_export(client, world):
    """The IP export of TESTVET after Zoé, who acquired UED earlier, validated a complete choice."""
    db.session.add(AcquiredElp(student_id=world.student.id, elp_id=world.elps["UED"].id, year=2025))
    db.session.commit()
    version = validate_as_student(client, world)
    data = download(client, world, f"/gestion/exports/{world.vet.id}/ip.csv")
    return data, version


def test_ip_export_is_excel_csv(ip_export):
    data, _version = ip_export
    assert data.startswith(BOM)
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert text.splitlines()[0] == ";".join(IP_HEADERS)


def test_ip_export_one_line_per_element(ip_export):
    data, version = ip_export
    lines = read_lines(data)[1:]
    assert len(lines) == len(version.contract["rows"])
    assert [line[4] for line in lines] == [row["code"] for row in version.contract["rows"]]
    assert {line[4] for line in lines} == {"S1", "UEOBL", "UEA", "ECA1", "UEB", "UED", "UEF", "UEG", "UEL"}


def test_ip_export_columns(ip_export):
    data, _version = ip_export
    lines = {line[4]: line for line in read_lines(data)[1:]}
    assert lines["UEA"][:4] == ["22600001", "2026", "TESTVET", "1"]
    assert lines["UEA"][7] == "N"
    assert lines["UED"][7] == "O"
    assert lines["UEA"][8] == "04/12/2026 11:00"  # 10:00 UTC is 11:00 in Paris in December


def test_ip_export_parent_and_list(ip_export):
    data, _version = ip_export
    lines = {line[4]: line for line in read_lines(data)[1:]}
    assert lines["ECA1"][5:7] == ["UEA", "SUBA"]
    assert lines["UEL"][5:7] == ["BLOC1", "BLOCX"]
    assert lines["S1"][5:7] == ["", "ROOT"]


def test_ip_export_reads_contract_codes(app_context, world):
    ip = Ip(student_id=world.student.id, year=2026, vet_id=world.vet.id, status="complete", origin="import",
            version_count=1, created_at=datetime(2026, 12, 1), updated_at=datetime(2026, 12, 1))
    contract = {
        "student": {"number": "22600001"}, "vet": {"code": "TESTVET", "version": "1"},
        "rows": [{"code": "ECA1", "parent_code": "UEA", "list_code": "SUBA", "situation": "chosen"}],
    }
    db.session.add(IpVersion(ip=ip, number=1, status="complete", validated_at=datetime(2026, 7, 1, 8, 30),
                             validated_by="test", contract=contract))
    db.session.flush()
    lines = read_lines(export_ips(world.vet, 2026))
    assert lines[1] == ["22600001", "2026", "TESTVET", "1", "ECA1", "UEA", "SUBA", "N", "01/07/2026 10:30"]


def test_ip_export_latest_version_only(client, world):
    validate_as_student(client, world)
    changed = complete_choice(world) - {world.key("CHOIX2", "UEB", "S1")} | {world.key("CHOIX2", "UEC", "S1")}
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation",
                         elements_form(changed) + [("base_version", "1")])
    assert response.status_code == 302
    codes = [line[4] for line in read_lines(download(client, world, f"/gestion/exports/{world.vet.id}/ip.csv"))[1:]]
    assert "UEC" in codes
    assert "UEB" not in codes


def test_group_export(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "UEATD", [("TD1", 30, None), ("TD2", 30, None)])
    other = make_student("22600002", "Émile", "Ábrahám")
    for student, group in ((world.student, collection.groups[1]), (other, collection.groups[0])):
        db.session.add(GroupMembership(collection_id=collection.id, group_id=group.id, student_id=student.id,
                                       assigned_by="staff", created_at=datetime(2026, 12, 1)))
    db.session.commit()
    lines = read_lines(download(client, world, f"/gestion/exports/{world.vet.id}/groupes.csv"))
    assert lines[0] == GROUP_HEADERS
    assert lines[1] == ["UEA", "UE A", "UEATD", "TD", "TD1", "TD1", "22600002", "Ábrahám", "Émile", "22600002@example.org"]
    assert lines[2][4] == "TD2"
    assert lines[2][6:8] == ["22600001", "Lefèvre-Ngô"]


def test_export_other_cip_hidden(client, world):
    other_cip = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other_cip)
    db.session.flush()
    make_staff("bruno", [other_cip])
    db.session.commit()
    log_in_staff(client, "bruno")
    assert client.get(f"/gestion/exports/{world.vet.id}/ip.csv").status_code == 404
    assert "TESTVET" not in client.get("/gestion/exports").get_data(as_text=True)


def test_cli_export_ips(app, client, world, tmp_path):
    validate_as_student(client, world)
    output = tmp_path / "ip.csv"
    result = app.test_cli_runner().invoke(args=["export", "ips", "--vet", "TESTVET/1", "--output", str(output)])
    assert result.exit_code == 0, result.output
    lines = read_lines(output.read_bytes())
    assert lines[0] == IP_HEADERS
    assert len(lines) == 1 + 8


def test_cli_export_to_stdout(app, world):
    result = app.test_cli_runner().invoke(args=["export", "groups"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == BOM + (";".join(GROUP_HEADERS) + "\r\n").encode()


def test_cli_export_unknown_vet(app, world):
    result = app.test_cli_runner().invoke(args=["export", "ips", "--vet", "NOVET/9"])
    assert result.exit_code == 2
    assert "NOVET/9" in result.output
