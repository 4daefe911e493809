"""The benchmark's database and the measurements made in-process: SQL queries per page, PDF time.

A run gets a database of its own: a SQLite file in the run's directory, or a PostgreSQL schema
created at the start and dropped at the end. It contains the demo data (`flask load-demo`) and the
bench students added here, each with a paid IA on the VET that has groups (L3INFO).
"""

import io
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, event, func, make_url, select, text

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_VET = "L3INFO"  # the demo VET whose options carry student-chosen groups
# VETs of the demo whose element pages are compared for the query count (13 to 24 elements).
COMPARED_VETS = ("L3AGE", "L3INFO", "M1ASTRO", "M1LOGOS")
SECRET_KEY = uuid.uuid4().hex  # shared by every process of one run, as by the hosts of a deployment
PDF_SAMPLES = 10
BASELINE_ROWS = "".join(f"<tr><td>UE {number}</td><td>6 ECTS</td></tr>" for number in range(12))
BASELINE_HTML = (
    "<html><head><style>@page { size: a4; margin: 2cm; } td { padding: 2px; }</style></head><body>"
    "<h1>Contrat pédagogique</h1><p>Une page, la police par défaut, un tableau de douze lignes.</p>"
    f"<table>{BASELINE_ROWS}</table></body></html>"
)


@dataclass
class Database:
    """The database of one benchmark run, with the URL through which every kiosk process reaches it."""

    kind: str  # "sqlite" or "postgresql"
    url: str  # for KIOSK_DATABASE_URL (the PostgreSQL schema is in the URL's options)
    drop: Callable[[], None] = field(default=lambda: None)


@contextmanager
def bench_database(kind: str, run_directory: Path, postgresql_url: str) -> Iterator[Database]:
    """Create an empty database for one run. A PostgreSQL schema is dropped at the end, even after a failure."""
    if kind == "sqlite":
        yield Database("sqlite", f"sqlite:///{run_directory / 'bench.sqlite'}")
        return
    schema = f"kiosk_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgresql_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgresql_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Database("postgresql", url.render_as_string(hide_password=False))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def kiosk_environment(database: Database, mail_port: int, max_in_flight: int) -> dict[str, str]:
    """Return the environment of every kiosk process of the run (gunicorn and the flask CLI)."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(("KIOSK_", "GUNICORN_"))}
    return {
        **inherited,
        "KIOSK_SECRET_KEY": SECRET_KEY,
        "KIOSK_DATABASE_URL": database.url,
        "KIOSK_DEMO_LOGIN": "1",
        "KIOSK_MAIL_PORT": str(mail_port),
        "KIOSK_MAX_IN_FLIGHT": str(max_in_flight),
        # Every simulated student logs in from 127.0.0.1, so the per-address limits must not bite.
        "KIOSK_RATELIMIT_STORAGE_URI": "memory://",
        "KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "KIOSK_LOGIN_RATE_LIMIT_PER_NAME": "1000000/minute",
        "KIOSK_SEAT_RATE_LIMIT": "1000000/minute",
    }


def load_demo(environment: dict[str, str], log_path: Path) -> None:
    """Create the schema and load the demo data with the kiosk's own commands."""
    with open(log_path, "ab") as log:
        for command in (["db", "upgrade"], ["load-demo"]):
            subprocess.run(
                [sys.executable, "-m", "flask", "--app", "kiosk", *command], cwd=PROJECT_ROOT, env=environment,
                stdout=log, stderr=subprocess.STDOUT, check=True,
            )


def in_process_app(database: Database, mail_port: int):
    """Return a kiosk app on the run's database, for the preparation and the in-process measurements."""
    from kiosk import create_app

    url = make_url(database.url)
    options = url.query.get("options")
    settings = {
        "SQLALCHEMY_DATABASE_URI": url.difference_update_query(["options"]).render_as_string(hide_password=False),
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": options}} if options else {},
    }
    return create_app({
        "SECRET_KEY": SECRET_KEY,
        "KIOSK_DEMO_LOGIN": True,
        "WTF_CSRF_ENABLED": False,
        "MAIL_PORT": mail_port,
        "KIOSK_RATELIMIT_STORAGE_URI": "memory://",
        "KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS": "1000000/minute",
        "KIOSK_LOGIN_RATE_LIMIT_PER_NAME": "1000000/minute",
        "KIOSK_SEAT_RATE_LIMIT": "1000000/minute",
        **settings,
    })


def add_students(app, count: int, vet_code: str, first_number: int) -> list[str]:
    """Add count students with a paid IA of the current year on the VET; return their numbers."""
    from kiosk.extensions import db
    from kiosk.models import Ia, Student, Vet
    from kiosk.services import clock

    with app.app_context():
        vet = db.session.scalar(select(Vet).where(Vet.code == vet_code))
        year = clock.current_year()
        numbers = []
        for index in range(count):
            number = str(first_number + index)
            student = Student(
                number=number, first_name="Camille", last_name=f"Banc {index}", birth_date=date(2005, 1, 1),
                email=f"banc{number}@example.org",
            )
            student.ias.append(Ia(year=year, vet=vet, state="E", payment_state="P", is_principal=True))
            db.session.add(student)
            numbers.append(number)
        db.session.commit()
    return numbers


@contextmanager
def counted_statements(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_connection, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def count_queries_per_page(app, student_number: str) -> dict[str, int]:
    """Walk the student path with the test client and count the SQL statements of each request."""
    import re

    from kiosk.extensions import db

    counts: dict[str, int] = {}
    client = app.test_client()
    with app.app_context():
        engine = db.engine

    def measure(name: str, method: str, path: str, **options):
        with counted_statements(engine) as statements:
            response = client.open(path, method=method, **options)
        counts[name] = len(statements)
        return response

    measure("POST /connexion", "POST", "/connexion", data={"student_number": student_number})
    measure("GET /dossier", "GET", "/dossier")
    page = measure("GET /inscriptions", "GET", "/inscriptions").get_data(as_text=True)
    ia_id = re.search(r"/inscriptions/(\d+)/elements", page).group(1)
    tree = measure("GET /inscriptions/[ia]/elements", "GET", f"/inscriptions/{ia_id}/elements").get_data(as_text=True)
    keys = [match.group(1) for match in re.finditer(r'name="element" value="([\d-]+)"', tree)]
    chosen = choose_complete(keys, tree)
    htmx = {"HX-Request": "true"}
    tree = measure("POST /inscriptions/[ia]/selection (htmx)", "POST", f"/inscriptions/{ia_id}/selection",
                   data={"element": chosen}, headers=htmx).get_data(as_text=True)
    measure("GET /inscriptions/[ia]/groupes (htmx)", "GET", f"/inscriptions/{ia_id}/groupes", headers=htmx)
    button = re.search(r'id="choose-(\d+)"[^>]*?hx-post="(/inscriptions/\d+/groupes/\d+)"', tree, re.DOTALL)
    if button:
        measure("POST /inscriptions/[ia]/groupes/[c] (htmx)", "POST", button.group(2), data={"group": button.group(1)}, headers=htmx)
    response = measure("POST /inscriptions/[ia]/validation", "POST", f"/inscriptions/{ia_id}/validation",
                       data={"element": chosen, "base_version": "0"})
    contract = response.headers["Location"].removesuffix("/confirmation")
    measure("GET /contrats/[ip]/v[n]/confirmation", "GET", response.headers["Location"])
    measure("GET /contrats/[ip]/v[n]", "GET", contract)
    measure("GET /contrats/[ip]/v[n].pdf", "GET", contract + ".pdf")
    return counts


def choose_complete(keys: list[str], tree: str) -> list[str]:
    """Pick the first element of each choice list of the page (enough for the 1-of-n lists of L3INFO)."""
    chosen: dict[str, str] = {}
    for key in keys:
        list_key = key.rsplit("-", 1)[0]
        chosen.setdefault(list_key, key)
    return list(chosen.values())


def count_element_page_queries(app, numbers_by_vet: dict[str, str]) -> dict[str, tuple[int, int, int]]:
    """Return (elements, levels of the tree, SQL statements of the element page) for one student per VET."""
    import re

    from kiosk.extensions import db
    from kiosk.models import Vet
    from kiosk.services import clock
    from kiosk.services.tree import build_tree

    results = {}
    for vet_code, number in numbers_by_vet.items():
        client = app.test_client()
        client.post("/connexion", data={"student_number": number})
        page = client.get("/inscriptions").get_data(as_text=True)
        ia_id = re.search(r"/inscriptions/(\d+)/elements", page).group(1)
        with app.app_context():
            engine = db.engine
            vet = db.session.scalar(select(Vet).where(Vet.code == vet_code))
            tree = build_tree(vet, clock.utcnow().date())
            levels = 1 + max(depth for depth, _element in tree.walk())
        with counted_statements(engine) as statements:
            client.get(f"/inscriptions/{ia_id}/elements")
        results[vet_code] = (len(tree.elements_by_key), levels, len(statements))
    return results


def time_contract_pdf(app, student_number: str) -> dict[str, float]:
    """Time the student's first contract, rendered and served, against a one-page xhtml2pdf document.

    Returns medians in milliseconds, each request or render made alone (no concurrent load).
    """
    from xhtml2pdf import pisa

    from kiosk.extensions import db
    from kiosk.models import Ip, IpVersion, Student
    from kiosk.services.contract import render_contract_pdf

    client = app.test_client()
    client.post("/connexion", data={"student_number": student_number})
    with app.app_context():
        version = db.session.scalar(
            select(IpVersion).join(Ip).join(Student).where(Student.number == student_number).order_by(IpVersion.id)
        )
        version_id = version.id
        pdf_path = f"/contrats/{version.ip_id}/v{version.number}.pdf"
    served_times = []
    for _sample in range(PDF_SAMPLES):
        started = time.perf_counter()
        client.get(pdf_path)
        served_times.append((time.perf_counter() - started) * 1000)

    with app.app_context(), app.test_request_context():
        contract = db.session.get(IpVersion, version_id).contract
        render_contract_pdf(contract)  # the first render registers the fonts
        contract_times = []
        baseline_times = []
        # Alternate the two renders, so that a change in the machine's load weighs on both alike.
        for _sample in range(PDF_SAMPLES):
            started = time.perf_counter()
            render_contract_pdf(contract)
            contract_times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            pisa.CreatePDF(BASELINE_HTML, dest=io.BytesIO())
            baseline_times.append((time.perf_counter() - started) * 1000)
    return {
        "served_ms": statistics.median(served_times),
        "contract_ms": statistics.median(contract_times),
        "baseline_ms": statistics.median(baseline_times),
        "contract_rows": len(contract["rows"]),
    }


def check_database(app, numbers: list[str]) -> dict[str, int]:
    """Count what the burst left: versions, groups over capacity, seat counts off, mails by status."""
    from kiosk.extensions import db
    from kiosk.models import Group, GroupMembership, Ip, IpVersion, OutboxMail, Student

    with app.app_context():
        student_ids = select(Student.id).where(Student.number.in_(numbers))
        members = dict(db.session.execute(
            select(GroupMembership.group_id, func.count()).group_by(GroupMembership.group_id)
        ).all())
        groups = list(db.session.scalars(select(Group)))
        mails = dict(db.session.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
        return {
            "ips": db.session.scalar(select(func.count()).select_from(Ip).where(Ip.student_id.in_(student_ids))),
            "versions": db.session.scalar(
                select(func.count()).select_from(IpVersion).join(Ip).where(Ip.student_id.in_(student_ids))
            ),
            "versions_with_pdf": db.session.scalar(
                select(func.count()).select_from(IpVersion).where(IpVersion.pdf.is_not(None))
            ),
            "all_versions": db.session.scalar(select(func.count()).select_from(IpVersion)),
            "groups_over_capacity": sum(group.seats_taken > group.capacity for group in groups),
            "groups_seat_count_off": sum(group.seats_taken != members.get(group.id, 0) for group in groups),
            "seats_taken": sum(group.seats_taken for group in groups),
            "mails_sent": mails.get("sent", 0),
            "mails_pending": mails.get("pending", 0),
            "mails_failed": mails.get("failed", 0),
        }
