"""No student reaches another student's data through any URL of the student blueprint.

The routes come from app.url_map, so a new route is covered as soon as it exists. A route with
a parameter that ID_PARAMETERS or OTHER_PARAMETERS does not list fails the test until the table
gives its value.
"""

import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from kiosk.extensions import db

from .factories import complete_choice, make_collection, make_ia, make_student
from .helpers import csrf_token, elements_form, log_in, post_form

# How to fill each identifier parameter with the victim's objects (see the victim fixture).
ID_PARAMETERS = {
    "ia_id": lambda victim: victim["ia_id"],
    "ip_id": lambda victim: victim["ip_id"],
    "number": lambda victim: victim["number"],
    "collection_id": lambda victim: victim["collection_id"],
}
# Parameters that identify nothing personal, with the value to use.
OTHER_PARAMETERS = {"locale": "fr"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def student_rules(app) -> list:
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("student.")]
    return sorted(rules, key=lambda rule: rule.rule)


def id_rules(app) -> list:
    return [rule for rule in student_rules(app) if set(rule.arguments) - set(OTHER_PARAMETERS)]


def build_path(rule, values: dict) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda match: str(values[match.group(1)]), rule.rule)


def database_snapshot() -> dict[str, list]:
    """Return every row of every table, in a stable order."""
    snapshot = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table)).all()
        snapshot[table.name] = sorted(repr(tuple(row)) for row in rows)
    return snapshot


@pytest.fixture
def victim(client, world):
    """Zoé's IA, validated IP (version 1) and TD group, made through the kiosk; then logged out."""
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    db.session.commit()
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    group_id = collection.groups[0].id
    post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": group_id}, htmx=True)
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    ip_id, number = re.search(r"/contrats/(\d+)/v(\d+)/confirmation$", response.headers["Location"]).groups()
    post_form(client, "/deconnexion", {}, token_page="/dossier")
    return {
        "ia_id": world.ia.id, "ip_id": int(ip_id), "number": int(number), "collection_id": collection.id,
        "group_id": group_id, "element_keys": sorted(complete_choice(world)),
    }


@pytest.fixture
def intruder(world):
    """A second student with an IA of their own on the same VET, so that the campaign is open to them."""
    student = make_student("22600002", "Paul", "Martin")
    make_ia(student, world.vet)
    db.session.commit()
    return student


def test_table_covers_every_parameter(app):
    known = set(ID_PARAMETERS) | set(OTHER_PARAMETERS)
    for rule in student_rules(app):
        unknown = set(rule.arguments) - known
        assert not unknown, f"{rule.rule} takes {unknown}: add them to ID_PARAMETERS or OTHER_PARAMETERS"


def test_id_routes_exist(app):
    assert len(id_rules(app)) >= 10


def test_other_student_gets_404(client, world, app, victim, intruder):
    values = {name: fill(victim) for name, fill in ID_PARAMETERS.items()} | OTHER_PARAMETERS
    log_in(client, intruder.number)
    token = csrf_token(client, "/dossier")
    form = MultiDict([("group", victim["group_id"]), ("base_version", victim["number"])]
                     + [("element", key) for key in victim["element_keys"]])
    before = database_snapshot()

    requested = []
    for rule in id_rules(app):
        path = build_path(rule, values)
        for method in sorted(rule.methods - IGNORED_METHODS):
            for headers in ({}, {"HX-Request": "true"}):
                response = client.open(path, method=method, data=form, headers={"X-CSRFToken": token, **headers})
                assert response.status_code in (403, 404), f"{method} {path} {headers}: {response.status_code}"
                requested.append((method, path))
    assert ("GET", f"/contrats/{victim['ip_id']}/v{victim['number']}.pdf") in requested
    assert ("POST", f"/inscriptions/{victim['ia_id']}/validation") in requested
    db.session.expire_all()
    assert database_snapshot() == before


def test_anonymous_gets_no_page(client, world, app, victim):
    values = {name: fill(victim) for name, fill in ID_PARAMETERS.items()} | OTHER_PARAMETERS
    for rule in id_rules(app):
        path = build_path(rule, values)
        for method in sorted(rule.methods - IGNORED_METHODS):
            response = client.open(path, method=method)
            assert response.status_code in (302, 400, 401, 403, 404), f"{method} {path}: {response.status_code}"
            assert world.student.last_name not in response.get_data(as_text=True), f"{method} {path}"
