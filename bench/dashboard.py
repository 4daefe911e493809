"""Time the "Suivi des IP" dashboard on 60,000 students and 1,500 VETs.

Usage, from the project root:

    .venv/bin/python bench/dashboard.py                      # SQLite file /tmp/kiosk-bench-dashboard.sqlite
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://root@127.0.0.1:5432/test

The script empties its scratch database first: it deletes the SQLite file, or drops and
recreates the schema kiosk_bench_dashboard in the PostgreSQL database, which must be on
loopback. It then applies the migrations and bulk-inserts a cohort drawn from seeded random
numbers. The dates follow the real clock, so that the campaigns are open. Last, it prints the
median time of the dashboard's service functions and pages over several runs.
"""

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, make_url, text

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from kiosk import create_app  # noqa: E402
from kiosk.extensions import db  # noqa: E402
from kiosk.models import (  # noqa: E402
    Block, BlockCode, Campaign, CampaignVet, Cip, Ia, Ip, IpVersion, StaffUser, Student, Vet,
)
from kiosk.services import clock  # noqa: E402
from kiosk.services.followup import (  # noqa: E402
    count_by_campaign, count_by_vet, count_validations_by_day, iter_students, list_students, make_scope,
)

DEFAULT_SQLITE_PATH = Path("/tmp/kiosk-bench-dashboard.sqlite")
POSTGRESQL_SCHEMA = "kiosk_bench_dashboard"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
YEAR = 2026
SEED = 20261204
CHUNK = 5000
# (CIP code, number of VETs). The first CIP's campaign contains 80 % of the students.
CIPS = [("BIG", 1200), ("MED", 150), ("SML", 150)]
IP_STATES = [(None, 0.20), ("draft", 0.25), ("partial", 0.15), ("complete", 0.40)]


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL on loopback (default: a SQLite file in /tmp)")
    parser.add_argument("--students", type=int, default=60_000, help="number of students (default 60000)")
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs of each measure; the median is printed (default 5)",
    )
    parser.add_argument(
        "--no-analyze", dest="analyze", action="store_false",
        help="skip ANALYZE after the fill, to time query plans made without table statistics",
    )
    return parser.parse_args()


def scratch_settings(database_url: str | None) -> dict:
    """Return the app's database settings, after emptying the scratch database they point at."""
    if database_url is None:
        DEFAULT_SQLITE_PATH.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{DEFAULT_SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{DEFAULT_SQLITE_PATH}"}

    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit(f"Unsupported database URL {url.drivername!r}: give a postgresql+psycopg:// URL.")
    if url.host not in LOOPBACK_HOSTS:
        raise SystemExit(f"Refusing host {url.host!r}: the benchmark writes only to a database on loopback.")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{POSTGRESQL_SCHEMA}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{POSTGRESQL_SCHEMA}"'))
    engine.dispose()
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={POSTGRESQL_SCHEMA}"}},
    }


def insert_rows(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model.__table__), rows[start:start + CHUNK])


def pick_ip_state(rng: random.Random) -> str | None:
    draw = rng.random()
    for state, share in IP_STATES:
        if draw < share:
            return state
        draw -= share
    return IP_STATES[-1][0]


def fill_database(student_count: int) -> list[int]:
    """Insert the CIPs, VETs, campaigns, students, IAs, blocks, IPs and versions; return the campaign ids."""
    rng = random.Random(SEED)
    now = clock.utcnow()
    opens_at = now - timedelta(days=20)

    vets_by_cip: list[list[int]] = []
    campaign_ids = []
    vet_id = 0
    for cip_id, (code, vet_count) in enumerate(CIPS, start=1):
        insert_rows(Cip, [{"id": cip_id, "code": code, "label": f"CIP {code}", "is_web_open": True}])
        ids = list(range(vet_id + 1, vet_id + vet_count + 1))
        vet_id += vet_count
        insert_rows(Vet, [
            {"id": i, "code": f"V{i:05d}", "version": "1", "label": f"Formation {i}", "cip_id": cip_id} for i in ids
        ])
        insert_rows(Campaign, [{
            "id": cip_id, "code": f"{code}-{YEAR}", "label": f"IP web {code}", "cip_id": cip_id,
            "opens_at": opens_at, "closes_at": now + timedelta(days=10), "allows_partial": True,
        }])
        insert_rows(CampaignVet, [{"campaign_id": cip_id, "vet_id": i} for i in ids])
        vets_by_cip.append(ids)
        campaign_ids.append(cip_id)
    insert_rows(BlockCode, [{"code": "BIP", "label": "Interdit d'inscription", "forbids_registration": True}])

    students, ias, blocks, ips, versions = [], [], [], [], []
    for index in range(1, student_count + 1):
        students.append({
            "id": index, "number": f"2{index:07d}", "last_name": f"Nom{rng.randrange(10**6):06d}",
            "first_name": f"Prénom{index}", "birth_date": date(2004, 1, 1), "email": f"e{index}@example.org",
        })
        cip_vets = vets_by_cip[0] if rng.random() < 0.8 else vets_by_cip[rng.randrange(1, len(vets_by_cip))]
        vet_ids = rng.sample(cip_vets, 2) if rng.random() < 0.05 else [rng.choice(cip_vets)]
        for vet in vet_ids:
            ias.append({
                "id": len(ias) + 1, "student_id": index, "year": YEAR, "vet_id": vet,
                "state": "C" if rng.random() < 0.01 else "E", "payment_state": "A" if rng.random() < 0.04 else "P",
                "is_principal": vet == vet_ids[0],
            })
            state = pick_ip_state(rng)
            if state is None:
                continue
            updated_at = opens_at + timedelta(minutes=rng.randrange(20 * 24 * 60))
            ip_id = len(ips) + 1
            ips.append({
                "id": ip_id, "student_id": index, "year": YEAR, "vet_id": vet, "campaign_id": None, "status": state,
                "origin": "web", "version_count": 0, "created_at": updated_at, "updated_at": updated_at,
            })
            if state != "draft":
                for number in range(1, rng.choice((1, 1, 2)) + 1):
                    versions.append({
                        "ip_id": ip_id, "number": number, "status": state,
                        "validated_at": updated_at - timedelta(hours=number - 1),
                        "validated_by": f"2{index:07d}", "contract": {},
                    })
        if rng.random() < 0.02:
            blocks.append({"student_id": index, "code": "BIP", "starts_on": date(2026, 9, 1), "ends_on": None})

    insert_rows(Student, students)
    insert_rows(Ia, ias)
    insert_rows(Block, blocks)
    insert_rows(Ip, ips)
    insert_rows(IpVersion, versions)
    admin = StaffUser(login="bench", display_name="Bench", is_admin=True)
    admin.set_password("bench-password")
    db.session.add(admin)
    db.session.commit()
    print(f"Filled: {len(students)} students, {len(ias)} IAs, {vet_id} VETs, {len(ips)} IPs, "
          f"{len(versions)} versions, {len(blocks)} blocks.")
    return campaign_ids


def median_seconds(function: Callable[[], object], runs: int) -> tuple[float, float]:
    """Run function once to warm caches, then `runs` times; return the median wall and CPU times in seconds.

    The CPU time is this process's: with SQLite it contains the database work, with PostgreSQL
    it leaves out the server's.
    """
    function()
    wall_times, cpu_times = [], []
    for _run in range(runs):
        db.session.expire_all()
        wall_started, cpu_started = time.perf_counter(), time.process_time()
        function()
        wall_times.append(time.perf_counter() - wall_started)
        cpu_times.append(time.process_time() - cpu_started)
    return statistics.median(wall_times), statistics.median(cpu_times)


def page_getter(client, path: str, headers: dict | None = None) -> Callable[[], None]:
    def get() -> None:
        response = client.get(path, headers=headers or {})
        if response.status_code != 200:
            raise SystemExit(f"GET {path} returned {response.status_code}")
        response.get_data()
    return get


def measure(app, campaign_ids: list[int], runs: int) -> list[tuple[str, tuple[float, float]]]:
    big = db.session.get(Campaign, campaign_ids[0])
    campaigns = [db.session.get(Campaign, campaign_id) for campaign_id in campaign_ids]
    scope = make_scope(big)
    figures = [
        ("count_by_campaign (3 campaigns, all IAs)", median_seconds(lambda: count_by_campaign(campaigns), runs)),
        ("count_by_vet (largest campaign)", median_seconds(lambda: count_by_vet(scope), runs)),
        ("count_validations_by_day", median_seconds(lambda: count_validations_by_day(scope), runs)),
        ("list_students, page 1 by name", median_seconds(lambda: list_students(scope), runs)),
        ("list_students, page 500 by activity", median_seconds(
            lambda: list_students(scope, sort="activity", descending=True, page=500), runs)),
        ("list_students, drafts only", median_seconds(lambda: list_students(scope, state="draft"), runs)),
        ("iter_students, whole campaign", median_seconds(lambda: sum(1 for _row in iter_students(scope)), runs)),
    ]

    client = app.test_client()
    response = client.post("/gestion/connexion", data={"login": "bench", "password": "bench-password"})
    if response.status_code != 302:
        raise SystemExit(f"Staff login failed with status {response.status_code}")
    base = f"/gestion/suivi/campagnes/{big.id}"
    htmx = {"HX-Request": "true"}
    pages = [
        ("GET /gestion/suivi", "/gestion/suivi", None),
        ("GET dashboard of the largest campaign", base, None),
        ("GET dashboard of a 6,000-student campaign", f"/gestion/suivi/campagnes/{campaign_ids[1]}", None),
        ("GET list fragment (htmx), page 500", f"{base}?sort=activity&order=desc&page=500", htmx),
        ("GET CSV export, whole campaign", f"{base}/export.csv", None),
        ("GET reminder preview, whole campaign", f"/gestion/relances/campagnes/{big.id}", None),
    ]
    for label, path, headers in pages:
        figures.append((label, median_seconds(page_getter(client, path, headers), runs)))
    return figures


def main() -> None:
    arguments = parse_arguments()
    settings = scratch_settings(arguments.database_url)
    app = create_app({
        "SECRET_KEY": "bench", "KIOSK_ACADEMIC_YEAR": YEAR, "WTF_CSRF_ENABLED": False,
        "KIOSK_RATELIMIT_STORAGE_URI": "memory://", **settings,
    })
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(PROJECT_ROOT / "migrations"))
        started = time.perf_counter()
        campaign_ids = fill_database(arguments.students)
        print(f"Fill time: {time.perf_counter() - started:.1f} s on {db.engine.dialect.name}")
        if arguments.analyze:
            # PostgreSQL's autovacuum gathers these statistics by itself; SQLite only through
            # ANALYZE or PRAGMA optimize.
            with db.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        figures = measure(app, campaign_ids, arguments.runs)
        dialect = db.engine.dialect.name

    statistics_note = "after ANALYZE" if arguments.analyze else "without ANALYZE"
    print(f"\nMedian of {arguments.runs} runs on {dialect} ({statistics_note}), in ms:")
    print(f"  {'measure':<45} {'wall':>8} {'CPU':>8}")
    for label, (wall, cpu) in figures:
        print(f"  {label:<45} {wall * 1000:8.1f} {cpu * 1000:8.1f}")


if __name__ == "__main__":
    main()
