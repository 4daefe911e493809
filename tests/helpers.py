"""Helpers for driving the kiosk through the Flask test client or over HTTP, CSRF token included."""

import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from urllib.parse import urlencode

from sqlalchemy import select

from kiosk.extensions import db

CSRF_PATTERN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
REQUEST_TIMEOUT = 30  # seconds, for each HTTP request of a StudentSession


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


@dataclass
class Response:
    """An HTTP response as the tests read it: status, Location header, headers and body."""

    status: int
    location: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Leave redirects to the caller, which checks their status and Location."""

    def redirect_request(self, *args, **kwargs):
        return None


class StudentSession:
    """One student's HTTP session with a server: no proxy, no redirect followed.

    Two sessions given the same cookie_jar act as one browser, even against two servers on
    different ports, because cookies do not depend on the port.
    """

    def __init__(self, base_url: str, cookie_jar: CookieJar | None = None, timeout: float = REQUEST_TIMEOUT):
        self.base_url = base_url
        self.timeout = timeout
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(CookieJar() if cookie_jar is None else cookie_jar), NoRedirects(),
        )
        self.csrf_token: str | None = None

    def request(self, path: str, form: list[tuple[str, str]] | None = None, headers: dict | None = None) -> Response:
        data = urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return Response(response.status, response.headers.get("Location"), response.read(), dict(response.headers))
        except urllib.error.HTTPError as error:
            # urllib raises HTTPError for every status outside 2xx, including the redirects left unfollowed.
            with error:
                return Response(error.code, error.headers.get("Location"), error.read(), dict(error.headers))

    def fetch_csrf_token(self, path: str) -> None:
        page = self.request(path)
        match = CSRF_PATTERN.search(page.text)
        assert match, f"no CSRF token on {path} (status {page.status})"
        self.csrf_token = match.group(1)

    def log_in(self, student_number: str) -> None:
        """Log in through the demo form, then keep a token of the new session for later forms."""
        self.fetch_csrf_token("/connexion")
        response = self.post("/connexion", [("student_number", student_number)])
        assert response.status == 302, f"demo login of student {student_number} returned {response.status}"
        self.fetch_csrf_token("/inscriptions")

    def post(self, path: str, form: list[tuple[str, str]], htmx: bool = False) -> Response:
        """POST as the browser does: the token in the X-CSRFToken header for htmx, else in the form."""
        if htmx:
            return self.request(path, form, {"HX-Request": "true", "X-CSRFToken": self.csrf_token})
        return self.request(path, form + [("csrf_token", self.csrf_token)])


def database_snapshot() -> dict[str, list[tuple]]:
    """Return every row of every table, sorted, to compare the database before and after a request."""
    db.session.expire_all()
    snapshot = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table)).all()
        snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot
