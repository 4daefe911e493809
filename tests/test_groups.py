"""Groups: seats taken by conditional updates, moves, balanced assignment, waitlists, capacities."""

from datetime import timedelta

from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Group, GroupMembership, IpVersion, OutboxMail, WaitlistEntry
from kiosk.services.groups import GroupFull, auto_assign, leave_collection, place_student, set_capacity

import pytest

from .factories import complete_choice, make_cohort, make_collection
from .helpers import elements_form, log_in, post_form


def group(collection, code) -> Group:
    return next(g for g in collection.groups if g.code == code)


def seats(group_row: Group) -> int:
    db.session.refresh(group_row)
    return group_row.seats_taken


def memberships(collection) -> int:
    return db.session.scalar(
        select(func.count()).select_from(GroupMembership).where(GroupMembership.collection_id == collection.id)
    )


def test_last_seats_then_full(world, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 2, None)])
    td1 = group(collection, "TD1")
    students = make_cohort(world, 3)
    place_student(students[0], td1, "student", clock.now)
    place_student(students[1], td1, "student", clock.now)
    with pytest.raises(GroupFull):
        place_student(students[2], td1, "student", clock.now)
    assert seats(td1) == 2
    assert memberships(collection) == 2


def test_move_between_groups(world, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None), ("TD2", 15, None)])
    td1, td2 = group(collection, "TD1"), group(collection, "TD2")
    place_student(world.student, td1, "student", clock.now)
    place_student(world.student, td2, "student", clock.now)
    assert memberships(collection) == 1
    assert seats(td1) == 0
    assert seats(td2) == 1
    place_student(world.student, td2, "student", clock.now)  # the same request again, from a stale tab
    assert seats(td2) == 1
    assert memberships(collection) == 1


def test_move_to_full_group_keeps_place(world, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None), ("TD2", 1, None)])
    td1, td2 = group(collection, "TD1"), group(collection, "TD2")
    other = make_cohort(world, 1)[0]
    place_student(other, td2, "student", clock.now)
    place_student(world.student, td1, "student", clock.now)
    with pytest.raises(GroupFull):
        place_student(world.student, td2, "student", clock.now)
    membership = db.session.scalar(select(GroupMembership).where(GroupMembership.student_id == world.student.id))
    assert membership.group_id == td1.id
    assert seats(td1) == 1
    assert seats(td2) == 1


@pytest.mark.parametrize("count", [25, 40])
def test_auto_assignment_balanced(world, clock, count):
    collection = make_collection(
        world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, 10), ("TD2", 15, 10), ("TD3", 15, 10)], mode="auto"
    )
    fills = []
    for student in make_cohort(world, count):
        assert auto_assign(student, collection, clock.now) is not None
        fills.append(sorted(seats(g) for g in collection.groups))
        # No group passes its intermediate capacity while another is still below it.
        assert not (max(fills[-1]) > 10 and min(fills[-1]) < 10)
    final = fills[-1]
    assert sum(final) == count
    if count <= 30:
        assert max(final) <= 10
    else:
        assert min(final) >= 10
        assert max(final) <= 15


def test_waitlist_promotion_sends_one_mail(world, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 1, None)], has_waitlist=True)
    td1 = group(collection, "TD1")
    seated = make_cohort(world, 1)[0]
    place_student(seated, td1, "student", clock.now)
    from kiosk.services.groups import join_waitlist

    join_waitlist(world.student, td1, clock.now)
    leave_collection(seated.id, collection.id, clock.now + timedelta(minutes=5))
    db.session.commit()
    membership = db.session.scalar(select(GroupMembership).where(GroupMembership.collection_id == collection.id))
    assert membership.student_id == world.student.id
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0
    mails = db.session.scalars(select(OutboxMail)).all()
    assert [m.recipient_address for m in mails] == [world.student.email]


def test_lowered_capacity_keeps_students(world, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    td1 = group(collection, "TD1")
    for student in make_cohort(world, 12):
        place_student(student, td1, "student", clock.now)
    set_capacity(td1, 10, None, clock.now)
    db.session.refresh(td1)
    assert td1.seats_taken == 12
    assert td1.seats_left == 0
    with pytest.raises(GroupFull):
        place_student(world.student, td1, "student", clock.now)
    assert memberships(collection) == 12


def test_raised_capacity_serves_waitlist(world, clock):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 1, None)], has_waitlist=True)
    td1 = group(collection, "TD1")
    place_student(make_cohort(world, 1)[0], td1, "student", clock.now)
    from kiosk.services.groups import join_waitlist

    join_waitlist(world.student, td1, clock.now)
    set_capacity(td1, 2, None, clock.now)
    assert seats(td1) == 2
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0


def test_choose_group_through_page(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None), ("TD2", 0, None)])
    db.session.commit()
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    page = client.get(f"/inscriptions/{world.ia.id}/elements").get_data(as_text=True)
    assert "1 place restante" not in page
    assert "15 places restantes" in page
    td1, td2 = group(collection, "TD1"), group(collection, "TD2")
    full = post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": td2.id}, htmx=True)
    assert "Groupe complet" in full.get_data(as_text=True)
    chosen = post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": td1.id}, htmx=True)
    assert "Vous êtes inscrit(e) dans le groupe TD1" in chosen.get_data(as_text=True)
    assert seats(td1) == 1


def test_group_required_for_complete_validation(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    db.session.commit()
    log_in(client, world.student.number)
    form = elements_form(complete_choice(world)) + [("base_version", "0")]
    refused = post_form(client, f"/inscriptions/{world.ia.id}/validation", form)
    assert refused.status_code == 422
    assert "Choisissez un groupe" in refused.get_data(as_text=True)
    post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": group(collection, "TD1").id}, htmx=True)
    accepted = post_form(client, f"/inscriptions/{world.ia.id}/validation", form)
    assert accepted.status_code == 302
    version = db.session.scalar(select(IpVersion))
    assert version.contract["groups"] == [{"owner": "UE A", "collection": "TD", "group": "TD1", "state": "placed"}]


def test_unticked_element_gives_seat_back(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    db.session.commit()
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": group(collection, "TD1").id}, htmx=True)
    without_a = (complete_choice(world) - {world.key("CHOIX2", "UEA", "S1"), world.key("SUBA", "ECA1", "UEA")}) | {world.key("CHOIX2", "UEC", "S1")}
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(without_a) + [("base_version", "0")])
    assert response.status_code == 302
    assert memberships(collection) == 0
    assert seats(group(collection, "TD1")) == 0


def test_group_of_other_collection_not_found(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    other = make_collection(world.campaign, world.elps["UEA"], "TDB", [("TDX", 15, None)])
    db.session.commit()
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    response = post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": group(other, "TDX").id}, htmx=True)
    assert response.status_code == 404


def test_contract_shows_group(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    db.session.commit()
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": group(collection, "TD1").id}, htmx=True)
    post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)) + [("base_version", "0")])
    version = db.session.scalar(select(IpVersion))
    page = client.get(f"/contrats/{version.ip_id}/v1").get_data(as_text=True)
    assert "TD1" in page
    from io import BytesIO

    from pypdf import PdfReader

    pdf = client.get(f"/contrats/{version.ip_id}/v1.pdf").data
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    assert "TD1" in text
