"""Structure maintenance: the whole tree, ELP and list link edits, list members added and removed."""

import copy
import html
from decimal import Decimal

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Elp, IpSelection, IpVersion, ListLink, LseMember

from .factories import complete_choice, make_elp, make_staff
from .helpers import elements_form, log_in, log_in_staff, post_form


@pytest.fixture
def staff_client(app, world):
    """A second client with Agnès, gestionnaire of CIP L01, logged in; `client` stays free for the student."""
    make_staff("agnes", [world.cip])
    db.session.commit()
    staff_client = app.test_client()
    log_in_staff(staff_client, "agnes")
    return staff_client


def post_staff(client, path, data):
    return post_form(client, path, data, token_page="/gestion/")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def link_of(world, list_code: str) -> ListLink:
    return db.session.scalar(select(ListLink).where(ListLink.lse_id == world.lists[list_code].id))


def member_codes(world, list_code: str) -> list[str]:
    return list(db.session.scalars(
        select(Elp.code).join(LseMember, LseMember.elp_id == Elp.id)
        .where(LseMember.lse_id == world.lists[list_code].id).order_by(LseMember.position)
    ))


def elp_form(elp: Elp, **overrides) -> dict:
    form = {"label": elp.label, "ects": str(elp.ects), "min_chosen": "", "max_chosen": "", "min_ects": "", "max_ects": ""}
    return form | overrides


def test_tree_shows_suspended_and_fictive(staff_client, world):
    world.elps["UEC"].is_suspended = True
    db.session.commit()
    page = text_of(staff_client.get(f"/gestion/vets/{world.vet.id}/structure"))
    assert "UE C" in page
    assert "Suspendu" in page
    assert "Bloc fictif" in page
    assert "Fictif : jamais affiché" in page


def test_edit_elp_saves_and_audits(staff_client, world):
    elp = world.elps["S1"]
    form = elp_form(elp, label="Semestre 1 (automne)", ects="30", min_ects="30", max_ects="30")
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/elements/{elp.id}", form)
    assert response.status_code == 302
    db.session.refresh(elp)
    assert elp.label == "Semestre 1 (automne)"
    assert elp.min_ects == Decimal("30")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update_elp"))
    assert entry.object_id == "S1"
    assert entry.before["label"] == "Semestre 1"
    assert entry.after["max_ects"] == "30"


def test_edit_elp_suspends(staff_client, world):
    elp = world.elps["UEC"]
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/elements/{elp.id}", elp_form(elp, is_suspended="y"))
    assert response.status_code == 302
    db.session.refresh(elp)
    assert elp.is_suspended


def test_edit_elp_rejects_min_above_max(staff_client, world):
    elp = world.elps["S1"]
    form = elp_form(elp, min_chosen="5", max_chosen="3")
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/elements/{elp.id}", form)
    assert response.status_code == 422
    assert "Le maximum d'éléments choisis doit être supérieur ou égal au minimum." in text_of(response)
    db.session.refresh(elp)
    assert elp.min_chosen is None


def test_edit_elp_outside_vet_not_found(staff_client, world):
    stray = make_elp("STRAY", "Hors maquette", 3)
    db.session.commit()
    assert staff_client.get(f"/gestion/vets/{world.vet.id}/elements/{stray.id}").status_code == 404


def test_edit_link_saves_rule(staff_client, world):
    link = link_of(world, "AUMOINS2")
    data = {"min_chosen": "1", "max_chosen": "3", "closes_on": "2027-01-31"}
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/liens/{link.id}", data)
    assert response.status_code == 302
    db.session.refresh(link)
    assert (link.min_chosen, link.max_chosen) == (1, 3)
    assert link.closes_on.isoformat() == "2027-01-31"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update_list_link"))
    assert entry.before == {"list": "AUMOINS2", "min_chosen": 2, "max_chosen": None, "closes_on": None}


def test_edit_link_rejects_max_below_min(staff_client, world):
    link = link_of(world, "CHOIX2")
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/liens/{link.id}", {"min_chosen": "2", "max_chosen": "1"})
    assert response.status_code == 422
    assert "Le maximum doit être supérieur ou égal au minimum (2)." in text_of(response)
    db.session.refresh(link)
    assert link.max_chosen == 2


def test_facultative_link_keeps_zero_minimum(staff_client, world):
    link = link_of(world, "FACULT")
    post_staff(staff_client, f"/gestion/vets/{world.vet.id}/liens/{link.id}", {"min_chosen": "1", "max_chosen": "1"})
    db.session.refresh(link)
    assert link.min_chosen == 0


def test_add_member(staff_client, world):
    link = link_of(world, "OPT01")
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/liens/{link.id}/elements", {"elp_code": "uem"})
    assert response.status_code == 302
    assert member_codes(world, "OPT01") == ["UED", "UEE", "UEM"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "add_list_member"))
    assert entry.after == {"elp": "UEM"}


@pytest.mark.parametrize(("code", "message"), [
    ("NOPE", "Aucun élément ne porte le code NOPE."),
    ("UED", "L'élément UED est déjà dans cette liste."),
    ("S1", "L'élément S1 contient déjà cette liste : l'y ajouter formerait une boucle."),
])
def test_add_member_rejected(staff_client, world, code, message):
    link = link_of(world, "OPT01")
    response = post_staff(staff_client, f"/gestion/vets/{world.vet.id}/liens/{link.id}/elements", {"elp_code": code})
    assert response.status_code == 422
    assert message in text_of(response)
    assert member_codes(world, "OPT01") == ["UED", "UEE"]


def test_removed_element_keeps_draft_and_contract(client, staff_client, world):
    log_in(client, world.student.number)
    validated = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert validated.status_code == 302
    draft = complete_choice(world) | {world.key("OPT01", "UED", "S1")}
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(draft), htmx=True)
    contract_before = copy.deepcopy(db.session.scalar(select(IpVersion)).contract)

    link = link_of(world, "AUMOINS2")
    url = f"/gestion/vets/{world.vet.id}/liens/{link.id}/elements/{world.elps['UEF'].id}/retrait"
    assert post_staff(staff_client, url, {}).status_code == 302
    assert "UEF" not in member_codes(world, "AUMOINS2")

    assert client.get(f"/inscriptions/{world.ia.id}/elements").status_code == 200
    held = set(db.session.scalars(select(IpSelection.elp_id)))
    assert world.elps["UEF"].id in held
    version = db.session.scalar(select(IpVersion))
    assert version.contract == contract_before
    assert "UEF" in {row["code"] for row in version.contract["rows"]}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "remove_list_member"))
    assert entry.before == {"elp": "UEF"}
