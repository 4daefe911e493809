"""Faults that must lose nothing: SMTP down, a mail worker killed, the database gone, a campaign
closing under a student's feet, and more students than a worker admits.

The tests that need a server run the kiosk in gunicorn on the session's database; the others
use the Flask test client. Each checks the responses and then the database.
"""

import html
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from werkzeug.datastructures import MultiDict

from kiosk import database
from kiosk.extensions import db
from kiosk.models import Group, GroupMembership, Ip, IpSelection, IpVersion, OutboxMail
from kiosk.services import clock as clock_module
from kiosk.services.groups import place_student

from .factories import complete_choice, make_cohort, make_collection
from .helpers import StudentSession, csrf_token, database_snapshot, elements_form, log_in, post_form

CLOSED_MESSAGE = "La campagne d'inscription pédagogique est close depuis le"
WEB_CLOSED_MESSAGE = "L'inscription pédagogique en ligne n'est pas ouverte pour cette formation."
RETRY_MESSAGE = "Réessayez dans un instant"  # on the 503 page of the overload guard and the 500 page
PROCESS_TIMEOUT = 60  # seconds for a `flask send-mail` subprocess


def is_postgresql(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def validate_as(client, student, world) -> None:
    """Log the student in and validate the complete choice through the test client."""
    log_in(client, student.number)
    form = elements_form(complete_choice(world)) + [("base_version", "0")]
    response = post_form(client, f"/inscriptions/{student.ias[0].id}/validation", form)
    assert response.status_code == 302, response.get_data(as_text=True)


def count_rows(model) -> int:
    db.session.commit()  # end the test's read transaction, to see what the server committed
    return db.session.scalar(select(func.count()).select_from(model))


def outbox_rows() -> list[OutboxMail]:
    db.session.commit()  # end the test's read transaction, to see what other processes committed
    return list(db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def inconsistencies() -> dict[str, list]:
    """List what breaks the invariants a fault must keep, by kind. Every list is empty when all is well."""
    db.session.commit()
    db.session.expire_all()
    members = dict(db.session.execute(
        select(GroupMembership.group_id, func.count()).group_by(GroupMembership.group_id)
    ).all())
    versions_without_selections = db.session.scalars(
        select(IpVersion.id).where(~select(IpSelection.id).where(IpSelection.ip_id == IpVersion.ip_id).exists())
    ).all()
    last_numbers = dict(db.session.execute(select(IpVersion.ip_id, func.max(IpVersion.number)).group_by(IpVersion.ip_id)).all())
    return {
        "seats_taken differs from memberships": [
            group.id for group in db.session.scalars(select(Group)) if group.seats_taken != members.get(group.id, 0)
        ],
        "versions without selections": list(versions_without_selections),
        "version_count differs from the last version": [
            ip.id for ip in db.session.scalars(select(Ip)) if ip.version_count != last_numbers.get(ip.id, 0)
        ],
        "versions without their mail": [] if count_rows(OutboxMail) == count_rows(IpVersion) else ["counts differ"],
    }


NO_INCONSISTENCY = {
    "seats_taken differs from memberships": [],
    "versions without selections": [],
    "version_count differs from the last version": [],
    "versions without their mail": [],
}


# --- SMTP down, then back --------------------------------------------------------------------


def test_smtp_outage_loses_no_mail(app, client, world, smtp_server, monkeypatch):
    # The session app's MAIL_PORT is 1, where nothing listens: SMTP is down.
    students = [world.student, *make_cohort(world, 3)]
    db.session.commit()
    for student in students:
        validate_as(client, student, world)
    assert smtp_server.envelopes == []

    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    for _run in range(2):
        result = app.test_cli_runner().invoke(args=["send-mail"])
        assert result.exit_code == 0, result.output

    received = sorted(recipient for envelope in smtp_server.envelopes for recipient in envelope.rcpt_tos)
    assert received == sorted(student.email for student in students)
    rows = outbox_rows()
    assert sorted(message["Message-ID"] for message in smtp_server.messages()) == sorted(row.message_id for row in rows)
    assert {row.status for row in rows} == {"sent"}


# --- Mail worker killed between sending and recording ----------------------------------------


def wait_until_unlocked(mail_id: int, timeout: float = 10.0) -> None:
    """Wait until no transaction locks the outbox row, as once PostgreSQL has noticed a dead client."""
    deadline = time.monotonic() + timeout
    while True:
        row = db.session.execute(
            select(OutboxMail.id).where(OutboxMail.id == mail_id).with_for_update(skip_locked=True)
        ).first()
        db.session.rollback()
        if row is not None:
            return
        assert time.monotonic() < deadline, f"outbox row {mail_id} still locked after {timeout} s"
        time.sleep(0.1)


def test_killed_worker_sends_one_duplicate(app, client, world, smtp_server, start_flask_command, monkeypatch):
    validate_as(client, world.student, world)  # SMTP down: the mail stays pending
    workers: list[subprocess.Popen] = []
    # Kill the worker once the server has the message, before it replies: the worker never
    # learns that the send succeeded, so it cannot record it.
    smtp_server.on_receipt = lambda _envelope: workers[0].send_signal(signal.SIGKILL)
    workers.append(start_flask_command(["send-mail"], smtp_server.port))
    output, _ = workers[0].communicate(timeout=PROCESS_TIMEOUT)
    smtp_server.on_receipt = None

    assert workers[0].returncode == -signal.SIGKILL, output.decode(errors="replace")
    assert len(smtp_server.envelopes) == 1
    [row] = outbox_rows()
    assert row.status == "pending"
    wait_until_unlocked(row.id)

    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    [row] = outbox_rows()
    assert row.status == "sent"
    assert [message["Message-ID"] for message in smtp_server.messages()] == [row.message_id, row.message_id]


# --- The database lost during a run ----------------------------------------------------------

PATH_ROUNDS = 3
TERMINATIONS = 3
TERMINATION_INTERVAL = 0.4  # seconds


def terminate_backends(application_name: str) -> int:
    """Terminate the PostgreSQL connections opened under application_name; return how many."""
    with db.engine.connect() as connection:
        return connection.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name},
        ).scalar()


def test_connections_terminated_mid_run(app, live_world, start_gunicorn):
    if not is_postgresql(app):
        pytest.skip("terminating server connections needs PostgreSQL; test_locked_file covers SQLite")
    application_name = f"kiosk-fault-{uuid.uuid4().hex[:8]}"
    server = start_gunicorn(database_query={"application_name": application_name})
    collection = make_collection(live_world.campaign, live_world.elps["UEA"], "TDA", [("TD1", 40, None), ("TD2", 40, None)])
    collection_id = collection.id
    group_ids = [group.id for group in collection.groups]
    students = make_cohort(live_world, 6)
    logins = [(student.number, student.ias[0].id) for student in students]
    db.session.commit()
    form = elements_form(complete_choice(live_world))

    sessions = []
    for number, ia_id in logins:
        session = StudentSession(server.base_url, timeout=20)
        session.log_in(number)
        sessions.append((session, ia_id))

    def walk_path(session: StudentSession, ia_id: int, rounds: int) -> list:
        responses = []
        for round_number in range(rounds):
            responses.append(session.post(f"/inscriptions/{ia_id}/selection", form, htmx=True))
            group = [("group", str(group_ids[round_number % 2]))]
            responses.append(session.post(f"/inscriptions/{ia_id}/groupes/{collection_id}", group, htmx=True))
            responses.append(session.post(f"/inscriptions/{ia_id}/validation", form))
        return responses

    terminated = 0
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        futures = [pool.submit(walk_path, session, ia_id, PATH_ROUNDS) for session, ia_id in sessions]
        for _termination in range(TERMINATIONS):
            time.sleep(TERMINATION_INTERVAL)
            terminated += terminate_backends(application_name)
        responses = [response for future in futures for response in future.result()]

    assert terminated > 0
    # A draft save that failed leaves the group unoffered (404) and the validation incomplete (422).
    assert {response.status for response in responses} <= {200, 302, 404, 422, 500, 503}
    assert [response.text for response in responses if response.status >= 500 and RETRY_MESSAGE not in response.text] == []
    assert inconsistencies() == NO_INCONSISTENCY

    after = [walk_path(session, ia_id, 1) for session, ia_id in sessions]
    assert [[response.status for response in responses] for responses in after] == [[200, 200, 302]] * len(sessions)
    assert inconsistencies() == NO_INCONSISTENCY

    # Connections lost while idle in the pool, as when the server restarts at night, cost no request.
    assert terminate_backends(application_name) > 0
    after_idle = [walk_path(session, ia_id, 1) for session, ia_id in sessions]
    assert [[response.status for response in responses] for responses in after_idle] == [[200, 200, 302]] * len(sessions)


def with_token(form: MultiDict, token: str) -> MultiDict:
    return MultiDict([*form.items(multi=True), ("csrf_token", token)])


LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def short_busy_timeout(app, monkeypatch):
    """Make new SQLite connections wait 0.3 s for a lock instead of 15 s, for this test only."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 300)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # render the 500 page, as in production
    with app.app_context():
        db.engine.dispose()
    yield
    monkeypatch.undo()
    with app.app_context():
        db.engine.dispose()


def test_locked_file(app, client, world, short_busy_timeout):
    if is_postgresql(app):
        pytest.skip("the file lock concerns SQLite; test_connections_terminated_mid_run covers PostgreSQL")
    path = db.engine.url.database
    log_in(client, world.student.number)
    token = csrf_token(client, "/inscriptions")
    keys = MultiDict(elements_form(complete_choice(world)))
    draft = f"/inscriptions/{world.ia.id}/selection"
    before = database_snapshot()

    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        page = client.get(f"/inscriptions/{world.ia.id}/elements")
        saved = client.post(draft, data=keys, headers={"HX-Request": "true", "X-CSRFToken": token})
        validated = client.post(f"/inscriptions/{world.ia.id}/validation", data=with_token(keys, token))
    finally:
        holder.communicate(b"release\n", timeout=PROCESS_TIMEOUT)

    assert page.status_code == 200  # WAL readers do not wait for the writer
    assert saved.status_code == 500
    assert RETRY_MESSAGE in saved.get_data(as_text=True)
    assert validated.status_code == 500
    assert RETRY_MESSAGE in validated.get_data(as_text=True)
    assert database_snapshot() == before

    assert client.post(draft, data=keys, headers={"HX-Request": "true", "X-CSRFToken": token}).status_code == 200
    assert client.post(f"/inscriptions/{world.ia.id}/validation", data=with_token(keys, token)).status_code == 302
    assert inconsistencies() == NO_INCONSISTENCY


# --- A campaign closing while students are mid-path ------------------------------------------


def pass_closing_time(world, clock) -> None:
    clock.now = world.campaign.closes_at + timedelta(minutes=1)


def close_early(world, clock) -> None:
    world.campaign.closes_at = clock.now - timedelta(minutes=1)


def turn_web_access_off(world, clock) -> None:
    world.cip.is_web_open = False


CLOSINGS = {
    "closing_time_passes": (pass_closing_time, CLOSED_MESSAGE),
    "staff_close_early": (close_early, CLOSED_MESSAGE),
    "web_access_off": (turn_web_access_off, WEB_CLOSED_MESSAGE),
}

SUBMISSIONS = ["draft_htmx", "draft_form", "validation", "partial_validation", "group", "waitlist"]


@pytest.fixture
def loaded_page(client, world):
    """Zoé's draft saved, her element page loaded, a full group with a waitlist and a free one.

    Returns the CSRF token of the page and the (collection id, full group id, free group id).
    """
    collection = make_collection(
        world.campaign, world.elps["UEA"], "TDA", [("TD1", 1, None), ("TD2", 30, None)], has_waitlist=True,
    )
    full, free = collection.groups
    [other] = make_cohort(world, 1)
    place_student(other, full, "student", clock_module.utcnow())
    db.session.commit()
    log_in(client, world.student.number)
    keys = MultiDict(elements_form(complete_choice(world)))
    token = csrf_token(client, "/inscriptions")
    draft = client.post(f"/inscriptions/{world.ia.id}/selection", data=keys, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert draft.status_code == 200
    page = client.get(f"/inscriptions/{world.ia.id}/elements")
    assert page.status_code == 200
    return token, (collection.id, full.id, free.id)


def submit(client, world, token: str, groups: tuple[int, int, int], submission: str):
    collection_id, full_id, free_id = groups
    base = f"/inscriptions/{world.ia.id}"
    keys = MultiDict(elements_form(complete_choice(world)))
    form = MultiDict([*keys.items(multi=True), ("csrf_token", token), ("base_version", "0")])
    htmx = {"HX-Request": "true", "X-CSRFToken": token}
    if submission == "draft_htmx":
        return client.post(f"{base}/selection", data=keys, headers=htmx)
    if submission == "draft_form":
        return client.post(f"{base}/selection", data=form)
    if submission == "validation":
        return client.post(f"{base}/validation", data=form)
    if submission == "partial_validation":
        return client.post(f"{base}/validation-partielle", data=form)
    if submission == "group":
        return client.post(f"{base}/groupes/{collection_id}", data={"group": free_id}, headers=htmx)
    return client.post(f"{base}/groupes/{collection_id}/attente", data={"group": full_id}, headers=htmx)


@pytest.mark.parametrize("submission", SUBMISSIONS)
@pytest.mark.parametrize("closing", CLOSINGS)
def test_campaign_closes_mid_path(client, world, clock, loaded_page, closing, submission):
    close, message = CLOSINGS[closing]
    token, groups = loaded_page
    close(world, clock)
    db.session.commit()
    before = database_snapshot()

    response = submit(client, world, token, groups, submission)

    assert response.status_code == 403
    assert message in html.unescape(response.get_data(as_text=True))
    assert database_snapshot() == before


# --- More students than a worker admits --------------------------------------------------------

BURST = 12
MAX_RESPONSE_SECONDS = 8.0


def set_up_session(base_url: str, student, form) -> StudentSession:
    """Log the student in and save a draft, retrying what the guard turns away.

    Even one request at a time can meet a 503: the guard frees a slot only once the worker has
    closed the previous response, which may come just after the client already sent the next.
    """
    for _attempt in range(50):
        session = StudentSession(base_url, timeout=20)
        try:
            session.log_in(student.number)
        except AssertionError as refused:
            if "503" not in str(refused):
                raise
            time.sleep(0.1)
            continue
        saved = session.post(f"/inscriptions/{student.ias[0].id}/selection", form, htmx=True)
        if saved.status == 200:
            return session
        assert saved.status == 503, saved.status
        time.sleep(0.1)
    pytest.fail(f"the guard kept turning away the setup of student {student.number}")


def test_overload_turns_requests_away(live_world, start_gunicorn):
    server = start_gunicorn(workers=1, threads=8, max_in_flight=2)
    students = make_cohort(live_world, BURST)
    db.session.commit()
    form = elements_form(complete_choice(live_world))
    sessions = []
    for student in students:  # one at a time, so that the guard admits every setup request
        sessions.append((set_up_session(server.base_url, student, form), student.ias[0].id))
    barrier = threading.Barrier(BURST, timeout=20)

    def validate(session: StudentSession, ia_id: int):
        barrier.wait()
        started = time.monotonic()
        response = session.post(f"/inscriptions/{ia_id}/validation", form + [("base_version", "0")])
        return response, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        results = list(pool.map(lambda pair: validate(*pair), sessions))

    responses = [response for response, _elapsed in results]
    turned_away = [response for response in responses if response.status == 503]
    assert [response.status for response in responses if response.status not in (302, 503)] == []
    assert len(turned_away) > 0
    assert all(response.headers.get("Retry-After") == "5" for response in turned_away)
    assert all(RETRY_MESSAGE in response.text for response in turned_away)
    assert max(elapsed for _response, elapsed in results) < MAX_RESPONSE_SECONDS
    assert count_rows(IpVersion) == BURST - len(turned_away)
    assert inconsistencies() == NO_INCONSISTENCY

    # The students turned away try again, one at a time, and nothing of theirs was lost.
    for (session, ia_id), response in zip(sessions, responses):
        if response.status == 503:
            retry = session.post(f"/inscriptions/{ia_id}/validation", form + [("base_version", "0")])
            for _attempt in range(50):  # a slot frees just after the previous response, as above
                if retry.status != 503:
                    break
                time.sleep(0.1)
                retry = session.post(f"/inscriptions/{ia_id}/validation", form + [("base_version", "0")])
            assert retry.status == 302
    assert count_rows(IpVersion) == BURST
    assert inconsistencies() == NO_INCONSISTENCY


# --- Students swapping groups in opposite directions -------------------------------------------

SWAPPERS_PER_GROUP = 8


def test_opposite_moves_finish(live_world, gunicorn_server):
    """Half the students move from TD1 to TD2 while the other half move back: no deadlock, no lost seat."""
    collection = make_collection(live_world.campaign, live_world.elps["UEA"], "TDA", [("TD1", 30, None), ("TD2", 30, None)])
    td1, td2 = collection.groups
    students = make_cohort(live_world, 2 * SWAPPERS_PER_GROUP)
    for index, student in enumerate(students):
        place_student(student, td1 if index % 2 == 0 else td2, "student", clock_module.utcnow())
    targets = [str(td2.id if index % 2 == 0 else td1.id) for index in range(len(students))]
    logins = [(student.number, student.ias[0].id) for student in students]
    collection_id = collection.id
    db.session.commit()
    form = elements_form(complete_choice(live_world))
    sessions = []
    for number, ia_id in logins:
        session = StudentSession(gunicorn_server.base_url)
        session.log_in(number)
        assert session.post(f"/inscriptions/{ia_id}/selection", form, htmx=True).status == 200
        sessions.append((session, ia_id))
    barrier = threading.Barrier(len(sessions), timeout=20)

    def move(pair, target: str):
        session, ia_id = pair
        barrier.wait()
        return session.post(f"/inscriptions/{ia_id}/groupes/{collection_id}", [("group", target)], htmx=True)

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        responses = list(pool.map(move, sessions, targets))

    assert [response.status for response in responses] == [200] * len(responses)
    assert inconsistencies() == NO_INCONSISTENCY
    assert count_rows(GroupMembership) == len(students)
