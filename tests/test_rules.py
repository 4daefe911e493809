"""Rules of the element choice, checked on the service and through forged POSTs."""

from datetime import date

import pytest
from sqlalchemy import func, select

from kiosk.demo.programmes import create_structure
from kiosk.extensions import db
from kiosk.models import AcquiredElp, Ip, IpSelection, IpVersion
from kiosk.services.rules import SelectionRejected, check_requested_keys, evaluate
from kiosk.services.tree import build_tree

from .factories import complete_choice, hang_list, make_elp
from .helpers import elements_form, log_in, post_form

TODAY = date(2026, 12, 4)


def tree_of(world, **kwargs):
    return build_tree(world.vet, TODAY, world.campaign.id, **kwargs)


def with_list(world, list_code, elp_codes):
    """Return complete_choice with one list's selection replaced by elp_codes."""
    keys = {k for k in complete_choice(world) if f"-{world.lists[list_code].id}-" not in k}
    return keys | {world.key(list_code, code, "S1") for code in elp_codes}


@pytest.mark.parametrize(
    ("list_code", "chosen", "accepted"),
    [
        ("OPT01", [], True),
        ("OPT01", ["UED"], True),
        ("OPT01", ["UED", "UEE"], False),
        ("AUMOINS2", ["UEF"], False),
        ("AUMOINS2", ["UEF", "UEG"], True),
        ("AUMOINS2", ["UEF", "UEG", "UEH", "UEI", "UEJ"], True),
        ("CHOIX2", ["UEA", "UEB", "UEC"], False),
        ("CHOIX2", ["UEB"], False),
    ],
)
def test_list_rule_table(world, list_code, chosen, accepted):
    keys = with_list(world, list_code, chosen)
    if "UEA" not in chosen and list_code == "CHOIX2":
        keys.discard(world.key("SUBA", "ECA1", "UEA"))
    evaluation = evaluate(tree_of(world), keys)
    assert evaluation.lists[f"{world.elps['S1'].id}-{world.lists[list_code].id}"].is_ok is accepted
    assert evaluation.is_complete is accepted


@pytest.mark.parametrize(
    ("list_code", "chosen", "accepted"),
    [
        ("OPT01", [], True),
        ("OPT01", ["UED", "UEE"], False),
        ("AUMOINS2", ["UEF"], False),
        ("AUMOINS2", ["UEF", "UEG"], True),
        ("AUMOINS2", ["UEF", "UEG", "UEH", "UEI", "UEJ"], True),
        ("CHOIX2", ["UEA", "UEB", "UEC"], False),
    ],
)
def test_list_rule_forged_post(client, world, list_code, chosen, accepted):
    log_in(client, world.student.number)
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(with_list(world, list_code, chosen)))
    assert response.status_code == (302 if accepted else 422)
    versions = db.session.scalar(select(func.count()).select_from(IpVersion))
    assert versions == (1 if accepted else 0)


def test_sublist_ignored_without_parent(world):
    keys = with_list(world, "CHOIX2", ["UEB", "UEC"]) | {world.key("SUBA", "ECA1", "UEA")}
    evaluation = evaluate(tree_of(world), keys)
    assert world.key("SUBA", "ECA1", "UEA") not in evaluation.selected_keys
    assert not evaluation.lists[f"{world.elps['UEA'].id}-{world.lists['SUBA'].id}"].is_active
    assert evaluation.is_complete


def test_sublist_required_under_chosen_parent(world):
    keys = complete_choice(world) - {world.key("SUBA", "ECA1", "UEA")}
    evaluation = evaluate(tree_of(world), keys)
    assert not evaluation.is_complete
    assert any("Parcours de l'UE A" in message for message in evaluation.problems())


def test_fictive_element_hidden(world):
    tree = tree_of(world)
    codes = [element.code for _, element in tree.walk()]
    assert "BLOC1" not in codes
    assert "UEL" in codes


def test_suspended_element_not_offered(world):
    world.elps["UEC"].is_suspended = True
    db.session.flush()
    tree = tree_of(world)
    assert world.key("CHOIX2", "UEC", "S1") not in tree.elements_by_key
    with pytest.raises(SelectionRejected):
        check_requested_keys(tree, {world.key("CHOIX2", "UEC", "S1")})


def test_closed_link_ignored(world):
    extra = make_elp("UEZ", "UE fermée", 3)
    hang_list(world.elps["S1"], "FERME", "X", [extra], 1, 1, closes_on=date(2026, 12, 1))
    tree = tree_of(world)
    assert all(element.code != "UEZ" for _, element in tree.walk())
    assert evaluate(tree, complete_choice(world)).is_complete


def test_unassigned_element_not_offered(world):
    extra = make_elp("UEY", "UE non affectée", 3)
    lse = world.lists["OPT01"]
    from kiosk.models import LseMember

    lse.members.append(LseMember(elp=extra, position=9))
    db.session.flush()
    tree = tree_of(world)
    assert all(element.code != "UEY" for _, element in tree.walk())


def test_semester_ects_total(world):
    evaluation = evaluate(tree_of(world), complete_choice(world))
    s1_key = f"0-{world.lists['ROOT'].id}-{world.elps['S1'].id}"
    # UEOBL 6 + UEA 6 + UEB 6 + UEF 3 + UEG 3 + UEL 3 = 27 (the ECUE sits inside UEA's 6).
    assert evaluation.credited_ects[s1_key] == 27
    assert evaluation.total_ects == 27


def test_node_bounds_on_semester(world):
    world.elps["S1"].min_ects = 30
    world.elps["S1"].max_ects = 30
    db.session.flush()
    evaluation = evaluate(tree_of(world), complete_choice(world))
    assert not evaluation.is_complete
    assert any("30 ECTS" in message for message in evaluation.problems())
    evaluation = evaluate(tree_of(world), complete_choice(world) | {world.key("OPT01", "UED", "S1")})
    assert evaluation.is_complete


# The LOGOS M1 first semester: philosophy of science (6) + 2 linguistics + the 12-ECTS logic UE,
# or + 1 linguistics + two 9-ECTS logic UEs; only those two add up to 4 UEs and 30 ECTS.
LOGOS_CASES = [
    (["LOGS1B1", "LOGS1B2"], ["LOGS1C2"], True),
    (["LOGS1B3"], ["LOGS1C1", "LOGS1C3"], True),
    (["LOGS1B1", "LOGS1B2"], ["LOGS1C1", "LOGS1C3"], False),
    (["LOGS1B1"], ["LOGS1C2"], False),
]


@pytest.mark.parametrize(("linguistics", "logic", "accepted"), LOGOS_CASES)
def test_logos_first_semester(app_context, linguistics, logic, accepted):
    structure = create_structure(TODAY)
    tree = build_tree(structure.vets["M1LOGOS"], TODAY)
    wanted = set(linguistics) | set(logic)
    keys = {key for key, element in tree.elements_by_key.items() if element.code in wanted}
    assert len(keys) == len(wanted)
    evaluation = evaluate(tree, keys)
    semester_id = structure.elps["LOGS1"].id
    semester = next(node for key, node in evaluation.nodes.items() if key.endswith(f"-{semester_id}"))
    assert (not semester.problems) is accepted
    # Every list of S1 allows each of these cases: the semester's 4 UEs and 30 ECTS decide.
    s1_lists = [r for r in evaluation.lists.values() if r.tree_list.parent_elp_id == semester_id]
    assert all(result.is_ok for result in s1_lists)


def test_acquired_not_selectable(client, world):
    db.session.add(AcquiredElp(student_id=world.student.id, elp_id=world.elps["UEA"].id, year=2025))
    db.session.commit()
    log_in(client, world.student.number)
    page = client.get(f"/inscriptions/{world.ia.id}/elements").get_data(as_text=True)
    key = world.key("CHOIX2", "UEA", "S1")
    assert f'value="{key}"' not in page
    assert "Acquis" in page
    forged = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert forged.status_code == 422
    assert "déjà acquis" in forged.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(IpVersion)) == 0


def test_acquired_counts_in_contract(client, world):
    db.session.add(AcquiredElp(student_id=world.student.id, elp_id=world.elps["UEA"].id, year=2025))
    db.session.commit()
    log_in(client, world.student.number)
    keys = complete_choice(world) - {world.key("CHOIX2", "UEA", "S1"), world.key("SUBA", "ECA1", "UEA")}
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(keys))
    assert response.status_code == 302
    version = db.session.scalar(select(IpVersion))
    acquired_rows = [row for row in version.contract["rows"] if row["situation"] == "acquired"]
    assert [row["code"] for row in acquired_rows] == ["UEA"]
    contract_page = client.get(f"/contrats/{version.ip_id}/v1").get_data(as_text=True)
    assert "Acquis (PRC)" in contract_page


def test_htmx_post_without_csrf_rejected(client, world):
    log_in(client, world.student.number)
    client.get(f"/inscriptions/{world.ia.id}/elements")
    key = world.key("CHOIX2", "UEA", "S1")
    response = client.post(f"/inscriptions/{world.ia.id}/selection", data={"element": key}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(IpSelection)) == 0
    response = post_form(client, f"/inscriptions/{world.ia.id}/selection", [("element", key)], htmx=True)
    assert response.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(IpSelection)) == 1


def test_forged_unknown_key_rejected(client, world):
    log_in(client, world.student.number)
    response = post_form(client, f"/inscriptions/{world.ia.id}/selection", [("element", "999-999-999")], htmx=True)
    assert response.status_code == 422
    response = post_form(client, f"/inscriptions/{world.ia.id}/selection", [("element", "not-a-key")], htmx=True)
    assert response.status_code == 422


def test_other_students_ia_not_found(client, world):
    from .factories import make_ia, make_student

    other = make_student("22600002", "Ana", "Costa")
    other_ia = make_ia(other, world.vet)
    db.session.commit()
    log_in(client, world.student.number)
    assert client.get(f"/inscriptions/{other_ia.id}/elements").status_code == 404
    response = post_form(client, f"/inscriptions/{other_ia.id}/validation", elements_form(complete_choice(world)))
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Ip)) == 0


def test_counter_french_plural(app):
    from kiosk.services.rules import ListResult, list_counter
    from kiosk.services.tree import TreeList

    choose_two = TreeList(lse_id=1, code="L", label="Liste", type="X", min_chosen=2, max_chosen=2, parent_elp_id=None)
    with app.test_request_context():
        assert list_counter(ListResult(choose_two, 0, 0, True)) == "0 sur 2 choisi"
        assert list_counter(ListResult(choose_two, 1, 0, True)) == "1 sur 2 choisi"
        assert list_counter(ListResult(choose_two, 2, 0, True)) == "2 sur 2 choisis"
