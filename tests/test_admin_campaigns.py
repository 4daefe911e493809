"""Staff console: CIP web access, campaigns, initialisation, assignment, groups, deletion and CIP scope."""

import html
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import (
    AuditEntry, Campaign, CampaignCollection, CampaignElp, CampaignVet, Cip, Elp, GroupMembership, Ip, IpVersion,
    ListLink, Vet,
)
from kiosk.services.audit import record_audit
from kiosk.services.eligibility import check_eligibility
from kiosk.services.groups import place_student
from kiosk.services.tree import build_tree

from .factories import (
    assign_campaign, hang_list, make_cohort, make_collection, make_elp, make_ia, make_staff, make_student,
)
from .helpers import log_in_staff, post_form

STAFF_PAGE = "/gestion/"


@pytest.fixture
def staff(client, world):
    """Agnès, gestionnaire of CIP L01, logged in on the test client."""
    agnes = make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    return agnes


def post_staff(client, path, data):
    return post_form(client, path, data, token_page=STAFF_PAGE)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def campaign_form(**overrides) -> dict:
    form = {
        "code": "L01-NEW", "label": "Campagne de printemps", "opens_at": "2027-01-10T09:00",
        "closes_at": "2027-02-10T18:00", "allows_partial": "y",
    }
    return form | overrides


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def student_tree_codes(world) -> set[str]:
    tree = build_tree(world.vet, date(2026, 12, 4), world.campaign.id)
    return {element.code for _depth, element in tree.walk()}


# --- CIP scope --------------------------------------------------------------------------------


def build_other_cip(now: datetime) -> dict:
    """Build CIP S02 with a VET, a list, a campaign, groups, a student, an IP and a contract version."""
    cip = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(cip)
    db.session.flush()
    vet = Vet(code="SCIVET", version="1", label="Licence de sciences", cip_id=cip.id)
    db.session.add(vet)
    db.session.flush()
    elp = make_elp("SCUE1", "Chimie", 6)
    lse = hang_list(vet, "SCLIST", "X", [elp, make_elp("SCUE2", "Physique", 6)], 1, 1)
    link = db.session.scalar(select(ListLink).where(ListLink.lse_id == lse.id))
    campaign = Campaign(
        code="S02-2026", label="IP web S02", cip_id=cip.id, opens_at=datetime(2026, 11, 1), closes_at=datetime(2027, 1, 1),
    )
    db.session.add(campaign)
    db.session.flush()
    assign_campaign(campaign, vet)
    collection = make_collection(campaign, vet, "SCTD", [("SCTD1", 20, None)])
    student = make_student("22700001", "Inès", "Moreau")
    ia = make_ia(student, vet)
    ip = Ip(student_id=student.id, year=2026, vet_id=vet.id, campaign_id=campaign.id, status="complete",
            version_count=1, created_at=now, updated_at=now)
    db.session.add(ip)
    db.session.flush()
    db.session.add(IpVersion(ip_id=ip.id, number=1, status="complete", validated_at=now, validated_by=student.number, contract={}))
    db.session.flush()
    return {
        "cip": cip.id, "vet": vet.id, "elp": elp.id, "link": link.id, "campaign": campaign.id,
        "collection": collection.id, "group": collection.groups[0].id, "student": student.id, "ia": ia.id, "ip": ip.id,
    }


def other_cip_urls(o: dict, world) -> tuple[list[str], list[str]]:
    """Return the GET and POST URLs that name an object of CIP S02, some mixed with L01's objects."""
    campaign, vet = f"/gestion/campagnes/{o['campaign']}", f"/gestion/vets/{o['vet']}"
    get_urls = [
        f"/gestion/cips/{o['cip']}/campagnes",
        f"/gestion/cips/{o['cip']}/campagnes/nouvelle",
        campaign,
        f"{campaign}/modifier",
        f"{campaign}/vets",
        f"{campaign}/vets/{o['vet']}/affectation",
        f"{campaign}/vets/{o['vet']}/groupes",
        f"{campaign}/suppression",
        f"/gestion/campagnes/{world.campaign.id}/vets/{o['vet']}/affectation",
        f"/gestion/campagnes/{world.campaign.id}/vets/{o['vet']}/groupes",
        f"{vet}/structure",
        f"{vet}/elements/{o['elp']}",
        f"{vet}/liens/{o['link']}",
        f"/gestion/vets/{world.vet.id}/elements/{o['elp']}",
        f"/gestion/vets/{world.vet.id}/liens/{o['link']}",
        f"/gestion/guichet/etudiants/{o['student']}",
        f"/gestion/guichet/ia/{o['ia']}",
        f"/gestion/guichet/contrats/{o['ip']}/v1",
    ]
    post_urls = [
        f"/gestion/cips/{o['cip']}/acces-distance",
        f"/gestion/cips/{o['cip']}/campagnes/nouvelle",
        f"{campaign}/modifier",
        f"{campaign}/vets",
        f"{campaign}/vets/{o['vet']}/affectation",
        f"{campaign}/vets/{o['vet']}/groupes/collections/{o['collection']}",
        f"{campaign}/vets/{o['vet']}/groupes/{o['group']}/capacite",
        f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/groupes/{o['group']}/capacite",
        f"{campaign}/suppression",
        f"{vet}/elements/{o['elp']}",
        f"{vet}/liens/{o['link']}",
        f"{vet}/liens/{o['link']}/elements",
        f"{vet}/liens/{o['link']}/elements/{o['elp']}/retrait",
        f"/gestion/vets/{world.vet.id}/liens/{o['link']}/elements/{o['elp']}/retrait",
        f"/gestion/guichet/ia/{o['ia']}/brouillon",
        f"/gestion/guichet/ia/{o['ia']}/validation",
        f"/gestion/guichet/ia/{o['ia']}/validation-partielle",
        f"/gestion/guichet/ia/{o['ia']}/groupes/{o['collection']}",
    ]
    return get_urls, post_urls


def test_other_cip_objects_not_found(client, world, staff, clock):
    other = build_other_cip(clock.now)
    db.session.commit()
    get_urls, post_urls = other_cip_urls(other, world)
    for url in get_urls:
        assert client.get(url).status_code == 404, url
    for url in post_urls:
        assert post_staff(client, url, {"is_web_open": "0", "ip_count": "1", "capacity": "0"}).status_code == 404, url
    assert db.session.get(Cip, other["cip"]).is_web_open
    assert db.session.get(Campaign, other["campaign"]) is not None
    assert db.session.get(Ip, other["ip"]).campaign_id == other["campaign"]
    assert count(AuditEntry) == 0


def test_other_cip_hidden_from_lists(client, world, staff, clock):
    other = build_other_cip(clock.now)
    db.session.commit()
    assert "S02" not in client.get("/gestion/cips").get_data(as_text=True)
    assert "SCIVET" not in client.get("/gestion/structure").get_data(as_text=True)
    search = client.get("/gestion/guichet?q=Moreau").get_data(as_text=True)
    assert f"/gestion/guichet/etudiants/{other['student']}" not in search


def test_admin_reaches_other_cip(client, world, clock):
    other = build_other_cip(clock.now)
    make_staff("root", is_admin=True)
    db.session.commit()
    log_in_staff(client, "root")
    assert client.get(f"/gestion/campagnes/{other['campaign']}").status_code == 200


# --- Web access -------------------------------------------------------------------------------


def test_web_access_switch_changes_eligibility(client, world, staff, clock):
    assert check_eligibility(world.ia, clock.now).is_eligible
    response = post_staff(client, f"/gestion/cips/{world.cip.id}/acces-distance", {"is_web_open": "0"})
    assert response.status_code == 302
    assert not db.session.get(Cip, world.cip.id).is_web_open
    eligibility = check_eligibility(world.ia, clock.now)
    assert not eligibility.is_eligible
    assert "L'inscription pédagogique en ligne n'est pas ouverte pour cette formation." in eligibility.reasons
    [entry] = audit_entries("set_web_access")
    assert entry.actor == "agnes"
    assert entry.object_id == "L01"
    assert entry.before == {"is_web_open": True}
    assert entry.after == {"is_web_open": False}


def test_web_access_resubmission_changes_nothing(client, world, staff):
    post_staff(client, f"/gestion/cips/{world.cip.id}/acces-distance", {"is_web_open": "0"})
    post_staff(client, f"/gestion/cips/{world.cip.id}/acces-distance", {"is_web_open": "0"})
    assert not db.session.get(Cip, world.cip.id).is_web_open
    assert len(audit_entries("set_web_access")) == 1


# --- Create and edit --------------------------------------------------------------------------


@pytest.mark.parametrize(("field_values", "message"), [
    ({"opens_at": "2027-02-10T09:00", "closes_at": "2027-01-10T09:00"}, "La fermeture doit être postérieure à l'ouverture."),
    ({"opens_at": "2027-01-10T09:00", "closes_at": "2027-01-10T09:00"}, "La fermeture doit être postérieure à l'ouverture."),
    ({"opens_at": "2026-08-31T09:00"}, "Choisissez une date de l'année universitaire 2026-2027"),
    ({"closes_at": "2027-09-01T09:00"}, "Choisissez une date de l'année universitaire 2026-2027"),
    ({"closes_at": ""}, "Indiquez la date et l'heure de fermeture."),
])
def test_create_rejects_bad_dates(client, world, staff, field_values, message):
    response = post_staff(client, f"/gestion/cips/{world.cip.id}/campagnes/nouvelle", campaign_form(**field_values))
    assert response.status_code == 422
    assert message in text_of(response)
    assert count(Campaign) == 1
    assert count(AuditEntry) == 0


def test_create_rejects_taken_code(client, world, staff):
    response = post_staff(client, f"/gestion/cips/{world.cip.id}/campagnes/nouvelle", campaign_form(code="L01-2026"))
    assert response.status_code == 422
    assert "Le code L01-2026 est déjà pris par une autre campagne." in text_of(response)
    assert count(Campaign) == 1


def test_create_stores_utc(client, world, staff):
    form = campaign_form(opens_at="2026-09-15T09:00", closes_at="2027-01-15T18:00")  # summer, then winter time
    response = post_staff(client, f"/gestion/cips/{world.cip.id}/campagnes/nouvelle", form)
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == "L01-NEW"))
    assert campaign.opens_at == datetime(2026, 9, 15, 7, 0)
    assert campaign.closes_at == datetime(2027, 1, 15, 17, 0)
    assert campaign.cip_id == world.cip.id
    assert len(audit_entries("create_campaign")) == 1


def test_edit_shows_local_time(client, world, staff):
    world.campaign.opens_at = datetime(2026, 9, 15, 7, 0)
    world.campaign.closes_at = datetime(2027, 1, 15, 17, 0)
    db.session.commit()
    page = client.get(f"/gestion/campagnes/{world.campaign.id}/modifier").get_data(as_text=True)
    assert 'value="2026-09-15T09:00"' in page
    assert 'value="2027-01-15T18:00"' in page


def test_edit_rejects_closing_before_opening(client, world, staff):
    before = (world.campaign.opens_at, world.campaign.closes_at)
    form = campaign_form(code="L01-2026", opens_at="2027-01-10T09:00", closes_at="2026-12-10T09:00")
    response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/modifier", form)
    assert response.status_code == 422
    assert "La fermeture doit être postérieure à l'ouverture." in text_of(response)
    campaign = db.session.get(Campaign, world.campaign.id)
    assert (campaign.opens_at, campaign.closes_at) == before
    assert campaign.label == "IP web L01 2026"


def test_edit_saves_and_audits(client, world, staff):
    form = campaign_form(code="L01-2026", label="IP web L01 prolongée", opens_at="2026-11-01T08:00", closes_at="2027-03-31T20:00")
    del form["allows_partial"]
    response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/modifier", form)
    assert response.status_code == 302
    campaign = db.session.get(Campaign, world.campaign.id)
    assert campaign.label == "IP web L01 prolongée"
    assert campaign.closes_at == datetime(2027, 3, 31, 18, 0)
    assert not campaign.allows_partial
    [entry] = audit_entries("update_campaign")
    assert entry.before["closes_at"] != entry.after["closes_at"]
    assert entry.after["closes_at"] == "2027-03-31 20:00"


# --- Initialisation and assignment ------------------------------------------------------------


def test_initialise_select_all(client, world, staff):
    second = Vet(code="TESTVET2", version="1", label="Licence de test, 2e année", cip_id=world.cip.id)
    db.session.add(second)
    db.session.commit()
    page = client.get(f"/gestion/campagnes/{world.campaign.id}/vets?tout=1").get_data(as_text=True)
    assert page.count("checked") == 2
    response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/vets", [("vets", world.vet.id), ("vets", second.id)])
    assert response.status_code == 302
    assert {v.code for v in db.session.get(Campaign, world.campaign.id).vets} == {"TESTVET", "TESTVET2"}


def test_unticked_vet_uninitialised(client, world, staff, clock):
    response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/vets", {})
    assert response.status_code == 302
    assert count(CampaignVet) == 0
    assert check_eligibility(world.ia, clock.now).campaign is None
    [entry] = audit_entries("initialise_campaign")
    assert entry.before == {"vets": ["TESTVET/1"]}
    assert entry.after == {"vets": []}


def test_initialise_rejects_other_cip_vet(client, world, staff, clock):
    other = build_other_cip(clock.now)
    db.session.commit()
    response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/vets", [("vets", other["vet"])])
    assert response.status_code == 422
    assert [v.code for v in db.session.get(Campaign, world.campaign.id).vets] == ["TESTVET"]


def assign(client, world, codes: list[str]):
    data = [("elps", world.elps[code].id) for code in codes]
    return post_staff(client, f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/affectation", data)


def assigned_codes(world) -> set[str]:
    return set(db.session.scalars(
        select(Elp.code).join(CampaignElp, CampaignElp.elp_id == Elp.id).where(CampaignElp.campaign_id == world.campaign.id)
    ))


def test_assignment_page_shows_tree(client, world, staff):
    page = text_of(client.get(f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/affectation"))
    assert "Options majeures" in page
    assert "Choisissez 2 éléments" in page
    assert "liste obligatoire à choix" in page
    assert "Bloc fictif" not in page  # fictive: its list "Langue" is shown in its place
    assert "Langue" in page


def test_assign_brings_path(client, world, staff):
    assert assign(client, world, []).status_code == 302
    assert assigned_codes(world) == {"BLOC1"}  # the fictive ELP is not in the staff's tree: left as it was
    assert assign(client, world, ["ECA1"]).status_code == 302
    assert assigned_codes(world) == {"BLOC1", "ECA1", "UEA", "S1"}
    assert student_tree_codes(world) == {"S1", "UEA", "ECA1"}


def test_unassign_removes_subtree(client, world, staff):
    every_code = [code for code in world.elps if code != "BLOC1"]
    kept = [code for code in every_code if code != "UEA"]  # ECA1 and ECA2 stay ticked under UEA
    assert assign(client, world, kept).status_code == 302
    assert {"UEA", "ECA1", "ECA2"}.isdisjoint(assigned_codes(world))
    assert "UEB" in assigned_codes(world)
    codes = student_tree_codes(world)
    assert "UEA" not in codes
    assert "ECA1" not in codes
    assert "UEB" in codes


def test_mandatory_element_assignable(client, world, staff):
    every_code = [code for code in world.elps if code not in ("BLOC1", "UEOBL")]
    assign(client, world, every_code)
    assert "UEOBL" not in student_tree_codes(world)
    assign(client, world, every_code + ["UEOBL"])
    assert "UEOBL" in student_tree_codes(world)


def test_assign_audited(client, world, staff):
    assign(client, world, [])
    assign(client, world, ["ECA1"])
    entry = audit_entries("assign_campaign")[-1]
    assert entry.object_id == str(world.campaign.id)
    assert entry.before == {"vet": "TESTVET/1", "elements": []}
    assert entry.after == {"vet": "TESTVET/1", "elements": ["ECA1", "S1", "UEA"]}


# --- Groups -----------------------------------------------------------------------------------


def test_capacity_below_seats_keeps_students(client, world, staff, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 3, None)])
    group = collection.groups[0]
    for student in make_cohort(world, 3):
        place_student(student, group, "student", clock.now)
    db.session.commit()
    url = f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/groupes/{group.id}/capacite"
    response = post_staff(client, url, {f"group-{group.id}-capacity": "1", f"group-{group.id}-intermediate_capacity": ""})
    assert response.status_code == 302
    db.session.refresh(group)
    assert group.capacity == 1
    assert group.seats_taken == 3
    assert count(GroupMembership) == 3
    page = text_of(client.get(f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/groupes"))
    assert f'id="seats-taken-{group.id}">3<' in page
    assert f'id="seats-left-{group.id}">0 ' in page
    assert "(2 au-delà de la capacité)" in page
    assert len(audit_entries("set_group_capacity")) == 1


def test_capacity_rejects_intermediate_above_maximum(client, world, staff):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 10, None)])
    group = collection.groups[0]
    db.session.commit()
    url = f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/groupes/{group.id}/capacite"
    response = post_staff(client, url, {f"group-{group.id}-capacity": "10", f"group-{group.id}-intermediate_capacity": "12"})
    assert response.status_code == 422
    assert "La capacité intermédiaire doit être comprise entre 0 et la capacité maximale." in text_of(response)
    db.session.refresh(group)
    assert group.intermediate_capacity is None


def test_collection_mode_saved(client, world, staff):
    collection = make_collection(world.campaign, world.vet, "TDV", [("TD1", 10, None)], mode="student")
    db.session.commit()
    url = f"/gestion/campagnes/{world.campaign.id}/vets/{world.vet.id}/groupes/collections/{collection.id}"
    prefix = f"collection-{collection.id}"
    response = post_staff(client, url, {f"{prefix}-mode": "auto", f"{prefix}-has_waitlist": "y"})
    assert response.status_code == 302
    setting = db.session.get(CampaignCollection, (world.campaign.id, collection.id))
    assert setting.mode == "auto"
    assert setting.has_waitlist
    [entry] = audit_entries("set_collection_mode")
    assert entry.before == {"collection": "TDV", "mode": "student", "has_waitlist": False}


# --- Deletion ---------------------------------------------------------------------------------


def make_ip(world, now) -> Ip:
    ip = Ip(student_id=world.student.id, year=2026, vet_id=world.vet.id, campaign_id=world.campaign.id,
            created_at=now, updated_at=now)
    db.session.add(ip)
    db.session.commit()
    return ip


def test_delete_without_ips(client, world, staff):
    response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/suppression", {"ip_count": "0"})
    assert response.status_code == 302
    assert count(Campaign) == 0
    assert count(CampaignElp) == 0
    assert count(CampaignVet) == 0


def test_delete_with_ips_needs_confirmation(client, world, staff, clock):
    ip = make_ip(world, clock.now)
    page = client.get(f"/gestion/campagnes/{world.campaign.id}/suppression")
    assert world.student.number in page.get_data(as_text=True)
    for data in ({}, {"ip_count": "0"}):
        response = post_staff(client, f"/gestion/campagnes/{world.campaign.id}/suppression", data)
        assert response.status_code in (409, 422), data
    assert count(Campaign) == 1
    assert db.session.get(Ip, ip.id).campaign_id == world.campaign.id


def test_delete_confirmed_detaches_ips(client, world, staff, clock):
    ip = make_ip(world, clock.now)
    campaign_id = world.campaign.id
    response = post_staff(client, f"/gestion/campagnes/{campaign_id}/suppression", {"ip_count": "1"})
    assert response.status_code == 302
    assert db.session.get(Campaign, campaign_id) is None
    kept = db.session.get(Ip, ip.id)
    assert kept is not None
    assert kept.campaign_id is None
    [entry] = audit_entries("delete_campaign")
    assert entry.after == {"detached_ips": [{"ip": ip.id, "student": "22600001", "vet": "TESTVET/1"}]}
    assert entry.before["code"] == "L01-2026"


# --- Audit page -------------------------------------------------------------------------------


def test_audit_page_scoped_to_cip(client, world, staff, clock):
    build_other_cip(clock.now)
    root = make_staff("root", is_admin=True)
    record_audit(root.login, "set_web_access", "cip", "S02", {"is_web_open": True}, {"is_web_open": False})
    record_audit(root.login, "update_campaign", "campaign", world.campaign.id, {"label": "avant"}, {"label": "après"})
    db.session.commit()
    page = text_of(client.get("/gestion/journal"))
    assert "avant" in page
    assert "CIP S02" not in page
    assert "L01-2026" in page
    filtered = text_of(client.get("/gestion/journal?action=set_web_access"))
    assert "Aucune entrée ne correspond à ces filtres." in filtered


def test_audit_page_filters_by_date(client, world, staff, clock):
    record_audit("agnes", "update_campaign", "campaign", world.campaign.id, {"label": "avant"}, {"label": "après"})
    db.session.commit()
    assert "avant" in text_of(client.get("/gestion/journal?date_from=2026-12-04&date_to=2026-12-04"))
    assert "avant" not in text_of(client.get("/gestion/journal?date_from=2026-12-05"))
