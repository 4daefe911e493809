"""Helpers for driving the kiosk through the Flask test client, CSRF token included."""

import re

CSRF_PATTERN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/connexion") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_PATTERN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def log_in(client, student_number: str) -> None:
    token = csrf_token(client)
    response = client.post("/connexion", data={"csrf_token": token, "student_number": student_number})
    assert response.status_code == 302, response.get_data(as_text=True)


def post_form(client, path: str, data: dict | list, htmx: bool = False, token_page: str = "/inscriptions"):
    """POST as the browser would: the form's token, or the htmx header for an htmx request."""
    token = csrf_token(client, token_page)
    items = list(data.items()) if isinstance(data, dict) else list(data)
    headers = {}
    if htmx:
        headers = {"HX-Request": "true", "X-CSRFToken": token}
    else:
        items.append(("csrf_token", token))
    return client.post(path, data=_multi(items), headers=headers)


def _multi(items):
    from werkzeug.datastructures import MultiDict

    return MultiDict(items)


def elements_form(keys) -> list[tuple[str, str]]:
    return [("element", key) for key in sorted(keys)]


def log_in_staff(client, login: str, password: str = "mot-de-passe-test") -> None:
    token = csrf_token(client, "/gestion/connexion")
    response = client.post("/gestion/connexion", data={"csrf_token": token, "login": login, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
