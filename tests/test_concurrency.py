"""Concurrent requests against a real gunicorn server: last seats, double validation, moves.

Each test releases its requests at once with a barrier, then checks every response and the
database: no seat taken twice or lost, no duplicate version, no server error.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Group, GroupMembership, Ip, IpVersion, OutboxMail
from kiosk.services import clock
from kiosk.services.groups import place_student

from .factories import complete_choice, make_cohort, make_collection
from .helpers import REQUEST_TIMEOUT, Response, StudentSession, elements_form

PLACED = "Vous êtes inscrit(e) dans le groupe"
FULL = "Groupe complet"


def open_sessions(base_url: str, logins: list[tuple[str, int]], draft: list[tuple[str, str]]) -> list[StudentSession]:
    """Log each (student number, IA id) in and save the draft selection, all in parallel."""

    def open_session(student_number: str, ia_id: int) -> StudentSession:
        session = StudentSession(base_url)
        session.log_in(student_number)
        response = session.post(f"/inscriptions/{ia_id}/selection", draft, htmx=True)
        assert response.status == 200, f"saving the draft of student {student_number} returned {response.status}"
        return session

    with ThreadPoolExecutor(max_workers=len(logins)) as pool:
        futures = [pool.submit(open_session, student_number, ia_id) for student_number, ia_id in logins]
        return [future.result() for future in futures]


def rush(sessions: list[StudentSession], paths: list[str], form: list[tuple[str, str]]) -> list[Response]:
    """POST the form as htmx from every session, session i to paths[i], all released by one barrier."""
    barrier = threading.Barrier(len(sessions), timeout=REQUEST_TIMEOUT)

    def post(session: StudentSession, path: str) -> Response:
        barrier.wait()
        return session.post(path, form, htmx=True)

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        return list(pool.map(post, sessions, paths))


def logins_of(students) -> list[tuple[str, int]]:
    return [(student.number, student.ias[0].id) for student in students]


def group_id_of(collection, code: str) -> int:
    return next(group.id for group in collection.groups if group.code == code)


def seats_taken(group_id: int) -> int:
    return db.session.scalar(select(Group.seats_taken).where(Group.id == group_id))


def member_ids(group_id: int) -> set[int]:
    return set(db.session.scalars(select(GroupMembership.student_id).where(GroupMembership.group_id == group_id)))


def server_error_statuses(responses: list[Response]) -> list[int]:
    return [response.status for response in responses if response.status >= 500]


def test_rush_on_last_seats(gunicorn_server, live_world):
    capacity, crowd = 15, 30
    collection = make_collection(live_world.campaign, live_world.elps["UEA"], "TDA", [("TD1", capacity, None)])
    td1 = group_id_of(collection, "TD1")
    logins = logins_of(make_cohort(live_world, crowd))
    db.session.commit()
    log_start = gunicorn_server.log_size()

    sessions = open_sessions(gunicorn_server.base_url, logins, elements_form(complete_choice(live_world)))
    paths = [f"/inscriptions/{ia_id}/groupes/{collection.id}" for _number, ia_id in logins]
    responses = rush(sessions, paths, [("group", str(td1))])

    assert server_error_statuses(responses) == []
    assert not any("database is locked" in response.text for response in responses)
    assert "database is locked" not in gunicorn_server.read_log(log_start)
    assert sum(f"{PLACED} TD1" in response.text for response in responses) == capacity
    assert sum(FULL in response.text for response in responses) == crowd - capacity
    db.session.commit()  # end the test's read transaction, to see what the server committed
    assert len(member_ids(td1)) == capacity
    assert seats_taken(td1) == capacity


def test_double_validation(gunicorn_server, live_world):
    ia_id = live_world.ia.id
    student_id = live_world.student.id
    email = live_world.student.email
    form = elements_form(complete_choice(live_world))
    db.session.commit()
    log_start = gunicorn_server.log_size()
    session = open_sessions(gunicorn_server.base_url, [(live_world.student.number, ia_id)], form)[0]

    def submit(delay: float) -> Response:
        time.sleep(delay)
        return session.post(f"/inscriptions/{ia_id}/validation", form + [("base_version", "0")])

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(submit, [0, 0.05])

    assert first.status in (302, 303), f"first validation returned {first.status}"
    assert second.status in (302, 303), f"second validation returned {second.status}"
    assert second.location == first.location
    assert first.location.endswith("/v1/confirmation")
    assert session.request(second.location).status == 200
    assert "database is locked" not in gunicorn_server.read_log(log_start)
    db.session.commit()  # end the test's read transaction, to see what the server committed
    ip = db.session.scalar(select(Ip).where(Ip.student_id == student_id))
    assert [version.number for version in ip.versions] == [1]
    assert ip.version_count == 1
    assert db.session.scalar(select(func.count()).select_from(IpVersion)) == 1
    assert db.session.scalar(
        select(func.count()).select_from(OutboxMail).where(OutboxMail.recipient_address == email)
    ) == 1


def test_moves_to_small_group(gunicorn_server, live_world):
    movers, small_capacity = 10, 5
    collection = make_collection(
        live_world.campaign, live_world.elps["UEA"], "TDA", [("TD1", 15, None), ("TD2", small_capacity, None)]
    )
    td1, td2 = group_id_of(collection, "TD1"), group_id_of(collection, "TD2")
    students = make_cohort(live_world, movers)
    td1_row = db.session.get(Group, td1)
    for student in students:
        place_student(student, td1_row, "student", clock.utcnow())
    logins = logins_of(students)
    student_ids = [student.id for student in students]
    db.session.commit()
    log_start = gunicorn_server.log_size()

    sessions = open_sessions(gunicorn_server.base_url, logins, elements_form(complete_choice(live_world)))
    paths = [f"/inscriptions/{ia_id}/groupes/{collection.id}" for _number, ia_id in logins]
    responses = rush(sessions, paths, [("group", str(td2))])

    moved = min(movers, small_capacity)
    moved_ids = {student_id for student_id, response in zip(student_ids, responses) if f"{PLACED} TD2" in response.text}
    assert server_error_statuses(responses) == []
    assert "database is locked" not in gunicorn_server.read_log(log_start)
    assert len(moved_ids) == moved
    assert sum(FULL in response.text for response in responses) == movers - moved
    db.session.commit()  # end the test's read transaction, to see what the server committed
    assert member_ids(td2) == moved_ids
    assert member_ids(td1) == set(student_ids) - moved_ids
    assert seats_taken(td2) == moved
    assert seats_taken(td1) == movers - moved
