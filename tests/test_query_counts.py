"""SQL queries per request must not grow with the size of the tree.

A small VET (7 elements) and a large one (61 elements) have the same depth: a semester, an X
list of UEs, and under each UE an X list of two ECUEs. The student takes every UE with one
ECUE each, so the large VET also stores ten times more selections. Each request of the path
must send the same number of statements on both.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from kiosk.extensions import db
from kiosk.models import Vet

from .factories import assign_campaign, hang_list, make_collection, make_elp, make_ia, make_student
from .helpers import csrf_token, elements_form, log_in

SMALL_UE_COUNT = 2
LARGE_UE_COUNT = 20
COLLECTION_COUNTS = (1, 8)


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """Collect every SQL statement sent to the database inside the block."""
    statements: list[str] = []

    def record(_connection, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@dataclass
class Programme:
    """A VET built for counting, with one student whose IA is on it."""

    student_number: str
    ia_id: int
    keys: list[str]  # every UE with its first ECUE: a complete selection
    choices: list[tuple[int, int]]  # (collection id, group id) to choose before validating


def build_programme(world, code: str, student_number: str, ue_count: int, collection_count: int = 1) -> Programme:
    """Build VET code (2 characters, so that ELP codes fit in 8) with ue_count UEs under one semester.

    The first collection_count UEs carry a collection of TD groups.
    """
    vet = Vet(code=code, version="1", label=f"VET {code}", cip_id=world.cip.id)
    db.session.add(vet)
    db.session.flush()
    semester = make_elp(f"{code}S", f"Semestre {code}", 30, nature="SEM")
    ues = [make_elp(f"{code}U{index}", f"UE {index}", 3) for index in range(ue_count)]
    hang_list(vet, f"{code}R", "O", [semester])
    ue_list = hang_list(semester, f"{code}L", "X", ues, minimum=1, maximum=ue_count)

    keys = []
    choices = []
    for index, ue in enumerate(ues):
        ecues = [make_elp(f"{code}E{index}{letter}", f"ECUE {index}{letter}", 1.5, nature="ECUE") for letter in "AB"]
        sub_list = hang_list(ue, f"{code}X{index}", "X", ecues, minimum=1, maximum=1)
        keys.append(f"{semester.id}-{ue_list.id}-{ue.id}")
        keys.append(f"{ue.id}-{sub_list.id}-{ecues[0].id}")
        if index < collection_count:
            collection = make_collection(world.campaign, ue, f"{code}T{index}", [("TD1", 30, None), ("TD2", 30, None)])
            choices.append((collection.id, collection.groups[0].id))
    assign_campaign(world.campaign, vet)

    student = make_student(student_number, "Camille", code.capitalize())
    ia = make_ia(student, vet)
    return Programme(student_number=student.number, ia_id=ia.id, keys=keys, choices=choices)


def count_path(client, programme: Programme) -> dict[str, int]:
    """Walk the student path of the programme and return the statements each request sent."""
    log_in(client, programme.student_number)
    token = csrf_token(client, "/inscriptions")
    htmx = {"HX-Request": "true", "X-CSRFToken": token}
    base = f"/inscriptions/{programme.ia_id}"
    counts = {}

    with count_statements() as statements:
        response = client.post(f"{base}/selection", data={"element": programme.keys}, headers=htmx)
    assert response.status_code == 200
    counts["selection"] = len(statements)

    with count_statements() as statements:
        response = client.get(f"{base}/elements")
    assert response.status_code == 200
    counts["elements"] = len(statements)

    for collection_id, group_id in programme.choices:
        with count_statements() as statements:
            response = client.post(f"{base}/groupes/{collection_id}", data={"group": group_id}, headers=htmx)
        assert response.status_code == 200
        counts["group"] = len(statements)

    form = elements_form(programme.keys) + [("base_version", "0"), ("csrf_token", token)]
    with count_statements() as statements:
        response = client.post(f"{base}/validation", data=MultiDict(form))
    assert response.status_code == 302, response.get_data(as_text=True)
    counts["validation"] = len(statements)
    return counts


@pytest.fixture
def tree_counts(client, world):
    """Statements per request on the small and the large VET, each with one TD collection."""
    small = build_programme(world, "PT", "22700001", SMALL_UE_COUNT)
    large = build_programme(world, "GR", "22700002", LARGE_UE_COUNT)
    db.session.commit()
    return count_path(client, small), count_path(client, large)


@pytest.fixture
def collection_counts(client, world):
    """Statements per request on two VETs of the same size, with 1 and with 8 TD collections."""
    few, many = (
        build_programme(world, f"C{count}", f"2270001{count}", LARGE_UE_COUNT, collection_count=count)
        for count in COLLECTION_COUNTS
    )
    db.session.commit()
    return count_path(client, few), count_path(client, many)


@pytest.mark.parametrize("request_name", ["elements", "selection", "group", "validation"])
def test_count_independent_of_tree_size(tree_counts, request_name):
    small, large = tree_counts
    assert large[request_name] == small[request_name], f"small VET: {small}, large VET: {large}"


@pytest.mark.parametrize("request_name", ["elements", "selection", "group"])
def test_count_independent_of_collections(collection_counts, request_name):
    few, many = collection_counts
    assert many[request_name] == few[request_name], f"1 collection: {few}, 8 collections: {many}"
