"""Locust users for bench/run.py: the whole student path once, and one user per route in a closed loop.

run.py starts Locust headless with one user class and these environment variables:
- BENCH_STUDENTS_FILE: a file of student numbers, one a line, prepared for the run;
- BENCH_STUDENT_OFFSET and BENCH_STUDENT_LIMIT: the slice of lines this Locust run uses (each
  run takes fresh students);
- BENCH_LOG: where to write every request as a JSON line when the run stops;
- BENCH_THINK_SECONDS: the mean pause of StudentPath between two steps;
- BENCH_EXPECTED_USERS: StudentPath stops the run once that many users have finished.

Every request is logged with its start time, duration, status and error, so that run.py
computes throughput over the measured requests only (requests named "setup …" are excluded).
"""

import itertools
import json
import os
import random
import re
import time
from urllib.parse import urlencode

import gevent
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

CSRF_PATTERN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
IA_LINK = re.compile(r'href="/inscriptions/(\d+)/elements"')
BASE_VERSION = re.compile(r'name="base_version" value="(\d+)"')
CHOICE_LIST = re.compile(r'<fieldset class="lse lse-X(?P<error> has-error)?" id="lse-(?P<key>[\d-]+)">.*?<span class="counter(?P<state>[^"]*)"', re.DOTALL)
CHECKBOX = re.compile(r'<input type="checkbox"[^>]*? name="element" value="(?P<key>[\d-]+)"(?P<attributes>[^>]*)>')
GROUP_BUTTON = re.compile(
    r'id="choose-(?P<group>\d+)"[^>]*?hx-post="(?P<path>/inscriptions/\d+/groupes/\d+)"', re.DOTALL
)
WAITLIST_BUTTON = re.compile(r'id="wait-(?P<group>\d+)"[^>]*?hx-post="(?P<path>/inscriptions/\d+/groupes/\d+/attente)"', re.DOTALL)
CONFIRMATION = re.compile(r"/contrats/(\d+)/v(\d+)/confirmation$")
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_SELECTION_STEPS = 12

REQUEST_LOG: list[dict] = []
_student_numbers: list[str] = []
_next_student = itertools.count()
_finished_paths = itertools.count(1)


def next_student_number() -> str | None:
    """Return the next student of this run's slice, or None once BENCH_STUDENT_LIMIT were handed out."""
    if not _student_numbers:
        with open(os.environ["BENCH_STUDENTS_FILE"]) as numbers:
            _student_numbers.extend(line.strip() for line in numbers if line.strip())
    position = next(_next_student)
    if position >= int(os.environ["BENCH_STUDENT_LIMIT"]):
        return None
    return _student_numbers[int(os.environ.get("BENCH_STUDENT_OFFSET", "0")) + position]


@events.request.add_listener
def log_request(request_type, name, response_time, response_length, exception, start_time=None, response=None, **_kwargs):
    REQUEST_LOG.append({
        "name": name,
        "start": start_time,
        "ms": response_time,
        "status": getattr(response, "status_code", 0) if response is not None else 0,
        "error": None if exception is None else str(exception)[:200],
    })


@events.test_stop.add_listener
def write_request_log(**_kwargs):
    with open(os.environ["BENCH_LOG"], "w") as log:
        for row in REQUEST_LOG:
            log.write(json.dumps(row) + "\n")


class KioskUser(FastHttpUser):
    """A student's browser: cookies, the CSRF token of the last page, no redirect followed."""

    abstract = True
    network_timeout = 120.0
    connection_timeout = 30.0

    def on_start(self):
        self.csrf_token = None
        self.student_number = next_student_number()
        if self.student_number is None:
            # Locust replaces a user that stops, so a user without a student waits for the end
            # of the run instead of stopping.
            gevent.sleep(10**6)

    def page(self, path: str, name: str, expected: int = 200, headers: dict | None = None) -> str:
        with self.client.get(path, name=name, headers=headers, allow_redirects=False, catch_response=True) as response:
            if response.status_code != expected:
                response.failure(f"status {response.status_code}, expected {expected}")
                return ""
            text = response.text or ""
        match = CSRF_PATTERN.search(text)
        if match:
            self.csrf_token = match.group(1)
        return text

    def post(self, path: str, name: str, form: list[tuple[str, str]], expected: int, htmx: bool = False):
        """POST the form as the browser does; return the response, marked failed if its status is unexpected."""
        headers = dict(FORM_HEADERS)
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": self.csrf_token})
        else:
            form = form + [("csrf_token", self.csrf_token)]
        with self.client.post(
            path, name=name, data=urlencode(form), headers=headers, allow_redirects=False, catch_response=True,
        ) as response:
            if response.status_code != expected:
                response.failure(f"status {response.status_code}, expected {expected}")
        return response

    def log_in(self, prefix: str = "") -> str:
        """Log in through the demo form and return the path of the student's element page."""
        self.page("/connexion", f"{prefix}GET /connexion")
        self.post("/connexion", f"{prefix}POST /connexion", [("student_number", self.student_number)], 302)
        registrations = self.page("/inscriptions", f"{prefix}GET /inscriptions")
        match = IA_LINK.search(registrations)
        if match is None:
            raise RuntimeError(f"student {self.student_number} has no IA open for the web IP")
        self.ia_id = match.group(1)
        return f"/inscriptions/{self.ia_id}/elements"

    def choose_elements(self, tree: str, name: str) -> list[str]:
        """Tick one element at a time in each choice list below its minimum, as a student does, saving each change."""
        ticked = [m.group("key") for m in CHECKBOX.finditer(tree) if " checked" in m.group("attributes")]
        for _step in range(MAX_SELECTION_STEPS):
            incomplete = [m.group("key") for m in CHOICE_LIST.finditer(tree) if "counter-ok" not in m.group("state")]
            if not incomplete:
                break
            list_key = incomplete[0]
            candidates = [
                m.group("key") for m in CHECKBOX.finditer(tree)
                if m.group("key").startswith(list_key + "-") and m.group("key") not in ticked
            ]
            if not candidates:
                break
            ticked.append(random.choice(candidates))
            self.think()
            response = self.post(f"/inscriptions/{self.ia_id}/selection", name, [("element", key) for key in ticked], 200, htmx=True)
            tree = response.text or ""
        self.tree = tree
        return ticked

    def choose_group(self, name: str) -> None:
        """Press a "Choisir" button of the groups block; when every group is full, join a waitlist."""
        for _attempt in range(3):
            buttons = list(GROUP_BUTTON.finditer(self.tree))
            if not buttons:
                break
            button = random.choice(buttons)
            response = self.post(button.group("path"), name, [("group", button.group("group"))], 200, htmx=True)
            self.tree = response.text or ""
            if "Groupe complet" not in self.tree:
                return
        waitlists = list(WAITLIST_BUTTON.finditer(self.tree))
        if waitlists:
            button = waitlists[0]
            waitlist_name = name.replace("/groupes/[c] ", "/groupes/[c]/attente ")
            self.post(button.group("path"), waitlist_name, [("group", button.group("group"))], 200, htmx=True)

    def think(self) -> None:
        pass


class StudentPath(KioskUser):
    """One student of the opening burst: the whole path once, with pauses, then idle until the run ends."""

    wait_time = constant(0)

    def think(self) -> None:
        mean = float(os.environ.get("BENCH_THINK_SECONDS", "1"))
        gevent.sleep(random.uniform(0.5 * mean, 1.5 * mean))

    @task
    def walk(self):
        """Walk the path once; an error that aborts it is logged as a failed "path aborted" request."""
        try:
            self.walk_path()
        except StopUser:
            pass
        except Exception as error:  # noqa: BLE001 (a bench student must never walk twice)
            self.environment.events.request.fire(
                request_type="PATH", name="path aborted", response_time=0, response_length=0, exception=error,
                context={}, start_time=time.time(),
            )
        if next(_finished_paths) >= int(os.environ.get("BENCH_EXPECTED_USERS", "0") or 10**9):
            gevent.spawn(self.environment.runner.quit)  # from its own greenlet: quit() stops this one
        gevent.sleep(10**6)  # see KioskUser.on_start: a stopped user would be replaced

    def walk_path(self):
        elements_path = self.log_in()
        self.think()
        self.page("/dossier", "GET /dossier")
        self.think()
        tree = self.page(elements_path, "GET /inscriptions/[ia]/elements")
        base_version = BASE_VERSION.search(tree)
        ticked = self.choose_elements(tree, "POST /inscriptions/[ia]/selection (htmx)")
        self.think()
        self.choose_group("POST /inscriptions/[ia]/groupes/[c] (htmx)")
        self.think()
        form = [("element", key) for key in ticked] + [("base_version", base_version.group(1) if base_version else "0")]
        response = self.post(f"/inscriptions/{self.ia_id}/validation", "POST /inscriptions/[ia]/validation", form, 302)
        location = response.headers.get("Location", "") if response.status_code == 302 else ""
        if CONFIRMATION.search(location):
            self.page(location, "GET /contrats/[ip]/v[n]/confirmation")
            self.think()
            contract = location.removesuffix("/confirmation")
            self.page(contract, "GET /contrats/[ip]/v[n]")
            self.page(contract + ".pdf", "GET /contrats/[ip]/v[n].pdf")


# --- One route in a closed loop: each user sends its next request as soon as the last returns. ---


class HelloWorld(FastHttpUser):
    """The reference: a minimal Flask app (bench/hello.py) under the same gunicorn settings."""

    wait_time = constant(0)

    @task
    def hello(self):
        self.client.get("/", name="GET / (hello world)")


class RouteUser(KioskUser):
    abstract = True
    wait_time = constant(0)

    def prepare_elements(self) -> str:
        elements_path = self.log_in("setup ")
        tree = self.page(elements_path, "setup GET elements")
        self.ticked = self.choose_elements(tree, "setup POST selection")
        return elements_path

    def prepare_contract(self) -> str:
        self.prepare_elements()
        self.choose_group("setup POST groupes")
        return self.validate_once("setup POST validation")

    def validate_once(self, name: str) -> str:
        """Validate the current choice; return the contract path of the new version ("" on failure)."""
        tree = self.page(f"/inscriptions/{self.ia_id}/elements", "setup GET elements")
        base_version = BASE_VERSION.search(tree).group(1)
        form = [("element", key) for key in self.ticked] + [("base_version", base_version)]
        response = self.post(f"/inscriptions/{self.ia_id}/validation", name, form, 302)
        location = response.headers.get("Location", "") if response.status_code == 302 else ""
        return location.removesuffix("/confirmation") if CONFIRMATION.search(location) else ""


class LoginPage(RouteUser):
    @task
    def login_page(self):
        self.page("/connexion", "GET /connexion")


class Login(RouteUser):
    @task
    def login(self):
        self.page("/connexion", "setup GET /connexion")
        self.post("/connexion", "POST /connexion", [("student_number", self.student_number)], 302)


class ProfilePage(RouteUser):
    def on_start(self):
        super().on_start()
        self.log_in("setup ")

    @task
    def profile(self):
        self.page("/dossier", "GET /dossier")


class Registrations(RouteUser):
    def on_start(self):
        super().on_start()
        self.log_in("setup ")

    @task
    def registrations(self):
        self.page("/inscriptions", "GET /inscriptions")


class ElementsPage(RouteUser):
    def on_start(self):
        super().on_start()
        self.elements_path = self.prepare_elements()

    @task
    def elements(self):
        self.page(self.elements_path, "GET /inscriptions/[ia]/elements")


class SelectionSave(RouteUser):
    """Each save drops or restores one ticked element, so that every request writes the draft."""

    def on_start(self):
        super().on_start()
        self.prepare_elements()
        self.drop_last = True

    @task
    def save(self):
        keys = self.ticked[:-1] if self.drop_last else self.ticked
        self.drop_last = not self.drop_last
        self.post(f"/inscriptions/{self.ia_id}/selection", "POST /inscriptions/[ia]/selection (htmx)",
                  [("element", key) for key in keys], 200, htmx=True)


class GroupsFragment(RouteUser):
    def on_start(self):
        super().on_start()
        self.prepare_elements()

    @task
    def groups(self):
        self.page(f"/inscriptions/{self.ia_id}/groupes", "GET /inscriptions/[ia]/groupes (htmx)",
                  headers={"HX-Request": "true"})


class GroupChoice(RouteUser):
    """Each request moves the student to a group drawn at random: a seat given back and one taken, unless it is theirs already."""

    def on_start(self):
        super().on_start()
        self.prepare_elements()
        self.buttons = {m.group("group"): m.group("path") for m in GROUP_BUTTON.finditer(self.tree)}

    @task
    def choose(self):
        if not self.buttons:
            gevent.sleep(10**6)  # every group was full at setup: nothing to measure for this user
        group, path = random.choice(sorted(self.buttons.items()))
        self.post(path, "POST /inscriptions/[ia]/groupes/[c] (htmx)", [("group", group)], 200, htmx=True)


class Validation(RouteUser):
    """Each request validates again: a new contract version, its PDF, its mail and the SMTP send."""

    def on_start(self):
        super().on_start()
        self.prepare_elements()
        self.choose_group("setup POST groupes")

    @task
    def validate(self):
        self.validate_once("POST /inscriptions/[ia]/validation")


class ContractPage(RouteUser):
    def on_start(self):
        super().on_start()
        self.contract = self.prepare_contract()

    @task
    def contract_page(self):
        self.page(self.contract, "GET /contrats/[ip]/v[n]")


class ContractPdf(RouteUser):
    """The PDF as served once stored: the validation already rendered and stored it for the mail."""

    def on_start(self):
        super().on_start()
        self.contract = self.prepare_contract()

    @task
    def contract_pdf(self):
        self.page(self.contract + ".pdf", "GET /contrats/[ip]/v[n].pdf")

