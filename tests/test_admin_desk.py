"""The desk: search, IP on the student's behalf through the student's services, contract versions."""

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Block, BlockCode, GroupMembership, Ip, IpSelection, IpVersion, OutboxMail

from .factories import complete_choice, make_collection, make_ia, make_staff, make_student
from .helpers import elements_form, log_in_staff, post_form


@pytest.fixture
def staff(client, world):
    """Agnès, gestionnaire of CIP L01, logged in on the test client."""
    agnes = make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    return agnes


def post_staff(client, path, data):
    return post_form(client, path, data, token_page="/gestion/")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def desk_ip_url(world, step: str = "") -> str:
    return f"/gestion/guichet/ia/{world.ia.id}{step}"


def test_search_by_name(client, world, staff):
    page = text_of(client.get("/gestion/guichet?q=lefèvre"))
    assert f"/gestion/guichet/etudiants/{world.student.id}" in page


def test_search_by_number(client, world, staff):
    page = text_of(client.get(f"/gestion/guichet?q={world.student.number}"))
    assert f"/gestion/guichet/etudiants/{world.student.id}" in page


def test_search_skips_students_without_ia(client, world, staff):
    stranger = make_student("22699999", "Paul", "Lefèvre")
    db.session.commit()
    page = text_of(client.get("/gestion/guichet?q=Lefèvre"))
    assert f"/gestion/guichet/etudiants/{stranger.id}" not in page
    assert client.get(f"/gestion/guichet/etudiants/{stranger.id}").status_code == 404


def test_student_page_lists_ia(client, world, staff):
    page = text_of(client.get(f"/gestion/guichet/etudiants/{world.student.id}"))
    assert world.vet.label in page
    assert desk_ip_url(world) in page


def test_desk_validates_ip(client, world, staff):
    assert client.get(desk_ip_url(world)).status_code == 200
    form = elements_form(complete_choice(world)) + [("base_version", "0")]
    response = post_staff(client, desk_ip_url(world, "/validation"), form)
    assert response.status_code == 302, text_of(response)
    ip = db.session.scalar(select(Ip))
    assert ip.origin == "desk"
    assert ip.status == "complete"
    version = db.session.scalar(select(IpVersion))
    assert version.validated_by == "agnes"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "desk_validate_ip"))
    assert entry.actor == "agnes"
    assert entry.object_id == str(ip.id)
    assert entry.after["version"] == 1
    assert count(OutboxMail) == 1


def test_desk_rejects_incomplete_selection(client, world, staff):
    form = elements_form({world.key("CHOIX2", "UEA", "S1")})
    response = post_staff(client, desk_ip_url(world, "/validation"), form)
    assert response.status_code == 422
    assert "choisissez encore 1 élément" in text_of(response)
    assert count(IpVersion) == 0
    assert count(AuditEntry) == 0


def test_desk_rejects_forged_element(client, world, staff):
    world.elps["UEB"].is_suspended = True
    db.session.commit()
    response = post_staff(client, desk_ip_url(world, "/brouillon"), elements_form({world.key("CHOIX2", "UEB", "S1")}))
    assert response.status_code == 422
    assert count(Ip) == 0


def test_desk_draft_marks_origin(client, world, staff):
    chosen = {world.key("CHOIX2", "UEA", "S1")}
    response = post_staff(client, desk_ip_url(world, "/brouillon"), elements_form(chosen))
    assert response.status_code == 302
    ip = db.session.scalar(select(Ip))
    assert ip.origin == "desk"
    assert count(IpSelection) == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "desk_save_selection"))
    assert entry.after == {"selection": ["UEA"]}


def test_desk_acts_after_closing(client, world, staff, clock):
    clock.now = world.campaign.closes_at + timedelta(days=3)
    page = client.get(desk_ip_url(world))
    assert page.status_code == 200
    assert "La campagne est close" in text_of(page)
    form = elements_form(complete_choice(world)) + [("base_version", "0")]
    assert post_staff(client, desk_ip_url(world, "/validation"), form).status_code == 302
    assert count(IpVersion) == 1


def test_desk_ignores_web_access(client, world, staff):
    world.cip.is_web_open = False
    db.session.commit()
    assert client.get(desk_ip_url(world)).status_code == 200


def test_desk_refuses_unpaid_ia(client, world, staff):
    world.ia.payment_state = "A"
    db.session.commit()
    response = client.get(desk_ip_url(world))
    assert response.status_code == 403
    assert "L'inscription administrative n'est pas en règle" in text_of(response)


def test_desk_refuses_blocked_student(client, world, staff, clock):
    db.session.add(BlockCode(code="BIB", label="Livres non rendus", forbids_registration=True))
    db.session.add(Block(student_id=world.student.id, code="BIB", starts_on=clock.now.date() - timedelta(days=1), ends_on=None))
    db.session.commit()
    response = post_staff(client, desk_ip_url(world, "/brouillon"), elements_form(set()))
    assert response.status_code == 403
    assert "Livres non rendus" in text_of(response)
    assert count(Ip) == 0


def test_desk_contract_version(client, world, staff):
    form = elements_form(complete_choice(world)) + [("base_version", "0")]
    response = post_staff(client, desk_ip_url(world, "/validation"), form)
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = text_of(page)
    assert "Contrat pédagogique 2026-2027" in text
    assert "Lefèvre-Ngô" in text
    assert "Validée par agnes" in text


def test_student_page_lists_versions(client, world, staff):
    for base in (0, 1):
        form = elements_form(complete_choice(world)) + [("base_version", str(base))]
        post_staff(client, desk_ip_url(world, "/validation"), form)
    ip = db.session.scalar(select(Ip))
    page = text_of(client.get(f"/gestion/guichet/etudiants/{world.student.id}"))
    assert f"/gestion/guichet/contrats/{ip.id}/v1" in page
    assert f"/gestion/guichet/contrats/{ip.id}/v2" in page


def test_desk_places_in_staff_group(client, world, staff):
    collection = make_collection(world.campaign, world.vet, "TDV", [("TD1", 1, None), ("TD2", 1, None)], mode="staff")
    td2 = collection.groups[1]
    db.session.commit()
    url = desk_ip_url(world, f"/groupes/{collection.id}")
    response = post_staff(client, url, {f"collection-{collection.id}-group": str(td2.id)})
    assert response.status_code == 302
    membership = db.session.scalar(select(GroupMembership))
    assert membership.group_id == td2.id
    assert membership.assigned_by == "agnes"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "desk_place_group"))
    assert entry.after == {"collection": "TDV", "group": "TD2"}


def test_other_year_ia_not_found(client, world, staff):
    old = make_ia(world.student, world.vet, year=2025)
    db.session.commit()
    assert client.get(f"/gestion/guichet/ia/{old.id}").status_code == 404
