"""Hypothesis sends bad input to every student form: no server error, a French message, nothing written.

The forms are the demo login, the contact details, the draft selection, the validation and
the group choice. Each test draws a bounded number of examples (FUZZ_SETTINGS), so that the
whole file runs in well under a minute.
"""

import html
import re
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from kiosk.extensions import db
from kiosk.student.forms import drop_control_characters

from .factories import complete_choice, make_collection
from .helpers import csrf_token, database_snapshot, log_in

FUZZ_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    database=None,  # keep no example database in the work tree
    # The fixtures build one world per test. Every example must leave it unchanged, which is
    # what the tests check, so sharing it between examples is the point.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
ERROR_TEXT = re.compile(r'class="error-text"[^>]*>(.*?)</p>', re.DOTALL)
# Words of WTForms' built-in English messages, which must never reach a student.
ENGLISH_WORDS = re.compile(r"\b(field|must|invalid|characters|required|not a valid)\b", re.IGNORECASE)

# Any text, with control characters, NUL, combining marks and characters outside the BMP.
any_text = st.text(st.characters(codec="utf-8"), max_size=300)
huge_integers = st.integers(min_value=-(2**80), max_value=2**80)
forged_keys = st.builds(
    lambda parts: "-".join(str(part) for part in parts), st.tuples(huge_integers, huge_integers, huge_integers)
)


@pytest.fixture(autouse=True)
def generous_rate_limits(app, monkeypatch):
    """Let every example through the login and seat rate limits, which return 429 after 10 to 30 requests a minute."""
    for name in ("KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS", "KIOSK_LOGIN_RATE_LIMIT_PER_NAME", "KIOSK_SEAT_RATE_LIMIT"):
        monkeypatch.setitem(app.config, name, "10000/minute")


def error_texts(response) -> list[str]:
    return [html.unescape(message).strip() for message in ERROR_TEXT.findall(response.get_data(as_text=True))]


def assert_french_errors(response) -> None:
    messages = error_texts(response)
    assert messages, response.get_data(as_text=True)[:2000]
    assert [message for message in messages if ENGLISH_WORDS.search(message)] == []


@pytest.fixture
def student_client(client, world):
    """Log Zoé in, with a TD collection on UEA, and return the client, the world, a CSRF token and the collection."""
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 20, None), ("TD2", 20, None)])
    db.session.commit()
    log_in(client, world.student.number)
    return client, world, csrf_token(client, "/inscriptions"), collection


@FUZZ_SETTINGS
@given(student_number=any_text)
def test_login_rejects_unknown_numbers(client, world, student_number):
    assume(drop_control_characters(student_number).strip() != world.student.number)
    token = csrf_token(client, "/connexion")
    before = database_snapshot()

    response = client.post("/connexion", data={"csrf_token": token, "student_number": student_number})

    assert response.status_code == 200
    assert_french_errors(response)
    assert database_snapshot() == before


CONTACT_FIELDS = ("phone", "address_line", "postal_code", "city", "country")
bad_emails = any_text.filter(lambda text: "@" not in text)


@FUZZ_SETTINGS
@given(email=bad_emails, others=st.fixed_dictionaries({name: any_text for name in CONTACT_FIELDS}))
def test_profile_rejects_bad_email(student_client, email, others):
    client, _world, token, _collection = student_client
    before = database_snapshot()

    response = client.post("/dossier", data={"csrf_token": token, "email": email, **others})

    assert response.status_code == 422
    assert_french_errors(response)
    assert database_snapshot() == before


@FUZZ_SETTINGS
@given(others=st.fixed_dictionaries({name: any_text for name in CONTACT_FIELDS}))
def test_profile_with_bad_details(student_client, others):
    """A valid email with arbitrary other fields: either a French refusal, or exactly what was typed."""
    client, world, token, _collection = student_client
    before = database_snapshot()

    response = client.post("/dossier", data={"csrf_token": token, "email": world.student.email, **others})

    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert_french_errors(response)
        assert database_snapshot() == before
    else:
        db.session.refresh(world.student)
        stored = {name: getattr(world.student, name) for name in CONTACT_FIELDS}
        # Control characters are dropped: a keyboard does not type them, and PostgreSQL rejects NUL.
        assert stored == {name: drop_control_characters(value).strip() or None for name, value in others.items()}


def with_bad_key(real_keys: list[str]):
    """Draw a selection of some real keys and at least one key the tree does not offer."""
    bad_keys = st.one_of(any_text, forged_keys).filter(lambda key: key not in real_keys)
    return st.tuples(st.lists(st.sampled_from(real_keys), max_size=4), st.lists(bad_keys, min_size=1, max_size=4))


@FUZZ_SETTINGS
@given(data=st.data())
def test_selection_rejects_forged_keys(student_client, data):
    client, world, token, _collection = student_client
    real, bad = data.draw(with_bad_key(sorted(complete_choice(world))))
    before = database_snapshot()

    response = client.post(
        f"/inscriptions/{world.ia.id}/selection", data=MultiDict([("element", key) for key in real + bad]),
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )

    assert response.status_code == 422
    assert "Un élément demandé n'est pas proposé dans cette formation" in html.unescape(response.get_data(as_text=True))
    assert database_snapshot() == before


@FUZZ_SETTINGS
@given(data=st.data(), base_version=st.one_of(any_text, huge_integers.map(str)))
def test_validation_rejects_forged_keys(student_client, data, base_version):
    client, world, token, _collection = student_client
    real, bad = data.draw(with_bad_key(sorted(complete_choice(world))))
    form = [("element", key) for key in real + bad] + [("base_version", base_version), ("csrf_token", token)]
    before = database_snapshot()

    response = client.post(f"/inscriptions/{world.ia.id}/validation", data=MultiDict(form))

    assert response.status_code == 422
    assert "Un élément demandé n'est pas proposé dans cette formation" in html.unescape(response.get_data(as_text=True))
    assert database_snapshot() == before


@FUZZ_SETTINGS
@given(base_version=huge_integers.filter(lambda number: number != 0))
def test_validation_rejects_stale_version(student_client, base_version):
    """A complete choice sent with a version number the IP never had creates no version."""
    client, world, token, collection = student_client
    keys = [("element", key) for key in sorted(complete_choice(world))]
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    assert client.post(f"/inscriptions/{world.ia.id}/selection", data=MultiDict(keys), headers=headers).status_code == 200
    group = {"group": collection.groups[0].id}
    assert client.post(f"/inscriptions/{world.ia.id}/groupes/{collection.id}", data=group, headers=headers).status_code == 200
    form = keys + [("base_version", str(base_version)), ("csrf_token", token)]
    before = database_snapshot()

    response = client.post(f"/inscriptions/{world.ia.id}/validation", data=MultiDict(form))

    assert response.status_code == 409
    assert_french_errors(response)
    assert database_snapshot() == before


def parse_integer(text: str) -> int | None:
    """Read the value as Werkzeug's type=int does, or return None."""
    try:
        return int(text)
    except ValueError:
        return None


group_values = st.one_of(any_text, huge_integers.map(str), st.text(string.digits, min_size=1, max_size=30))


@FUZZ_SETTINGS
@given(group=group_values, collection_offset=st.integers(min_value=-5, max_value=2**40))
def test_group_choice_rejects_unknown_groups(student_client, group, collection_offset):
    client, world, token, collection = student_client
    target = max(0, collection.id + collection_offset)
    assume(not (target == collection.id and parse_integer(group) in {g.id for g in collection.groups}))
    draft = MultiDict([("element", key) for key in sorted(complete_choice(world))])
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    assert client.post(f"/inscriptions/{world.ia.id}/selection", data=draft, headers=headers).status_code == 200
    before = database_snapshot()

    response = client.post(f"/inscriptions/{world.ia.id}/groupes/{target}", data={"group": group}, headers=headers)

    assert response.status_code == 404
    assert "Cette page n'existe pas." in html.unescape(response.get_data(as_text=True))
    assert database_snapshot() == before
