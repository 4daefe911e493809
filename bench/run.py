"""Benchmark the kiosk under gunicorn against a Flask "hello world", and write docs/benchmarks.md.

    .venv/bin/python bench/run.py                       # SQLite, then PostgreSQL at 127.0.0.1:5432/test
    .venv/bin/python bench/run.py --databases sqlite --students 200 --route-seconds 5

For each database the run creates a database of its own, loads the demo data and counts the SQL
queries per page in-process. It starts an SMTP sink and the kiosk in gunicorn (gthread) on
127.0.0.1, and measures the reference app, then each route in a closed loop with Locust. It plays
the opening burst, in which every student walks the whole path once, arriving over
--burst-seconds. Then it checks the database for overbooking and lost mails, times the contract
PDF in-process, and drops the database. Every load goes to 127.0.0.1 only, and every phase is bounded in time and in students.
"""

import argparse
import json
import logging
import os
import platform
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prepare, report  # noqa: E402

BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT = 30  # seconds
PHASE_MARGIN_SECONDS = 20  # Locust's time limit beyond the measured seconds, for the users' setup
BURST_DRAIN_SECONDS = 240  # the burst stops this long after the last arrival even if students remain
# The server's log line for each contract PDF it renders (kiosk/services/contract.py).
PDF_RENDERED = re.compile(r"Contract PDF of IP (\d+) version (\d+) rendered")
ROUTE_USERS = [
    "LoginPage", "Login", "ProfilePage", "Registrations", "ElementsPage", "SelectionSave", "GroupsFragment",
    "GroupChoice", "Validation", "ContractPage", "ContractPdf",
]


class MailSink:
    """An SMTP server on 127.0.0.1 that counts the messages it accepts and keeps none."""

    def __init__(self):
        self.received = 0
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, _server, _session, _envelope):
        self.received += 1
        return "250 Message accepted"

    def __enter__(self):
        self._controller.start()
        return self

    def __exit__(self, *_exc):
        self._controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(app_module: str, directory: Path, environment: dict, log_path: Path, options: argparse.Namespace):
    """Serve app_module with gunicorn's gthread workers on a free loopback port; yield (base URL, process)."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--chdir", str(directory),
        "--workers", str(options.workers), "--worker-class", "gthread", "--threads", str(options.threads),
        "--backlog", "2048", "--timeout", "120", "--graceful-timeout", "10", "--keep-alive", "5",
        "--no-control-socket", app_module,
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(process, port, log_path)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_serving(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {process.returncode}; see {log_path}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on port {port} within {SERVER_START_TIMEOUT} s; see {log_path}")


def worker_memory(master: subprocess.Popen) -> list[dict[str, int]]:
    """Return the resident and peak resident memory (kB, from /proc) of each worker of a gunicorn master."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    workers = []
    for pid in children:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        workers.append({"rss_kb": int(status["VmRSS"].split()[0]), "peak_kb": int(status["VmHWM"].split()[0])})
    return workers


def run_locust(user_class: str, host: str, users: int, spawn_rate: float, seconds: int, run_directory: Path,
               students_file: Path, offset: int, think_seconds: float = 1.0, expected_users: int = 0) -> list[dict]:
    """Run one headless Locust phase and return its request log (one dict per request)."""
    log_path = run_directory / f"requests-{user_class}.jsonl"
    environment = {
        **os.environ,
        "BENCH_STUDENTS_FILE": str(students_file),
        "BENCH_STUDENT_OFFSET": str(offset),
        "BENCH_STUDENT_LIMIT": str(users),
        "BENCH_LOG": str(log_path),
        "BENCH_THINK_SECONDS": str(think_seconds),
        "BENCH_EXPECTED_USERS": str(expected_users),
    }
    command = [
        str(BIN / "locust"), "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
        "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{seconds}s", "--host", host,
        "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0", user_class,
    ]
    with open(run_directory / f"locust-{user_class}.log", "wb") as output:
        subprocess.run(command, env=environment, stdout=output, stderr=subprocess.STDOUT, check=True,
                       timeout=seconds + 120)
    with open(log_path) as log:
        return [json.loads(line) for line in log]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def benchmark_database(kind: str, options: argparse.Namespace, run_directory: Path) -> dict:
    """Run every phase on one kind of database and return the measurements."""
    results: dict = {"kind": kind, "load_before": load_average()}
    per_route = options.users * len(ROUTE_USERS)
    with prepare.bench_database(kind, run_directory, options.postgresql_url) as database, MailSink() as sink:
        environment = prepare.kiosk_environment(database, sink.port, options.threads)
        prepare.load_demo(environment, run_directory / "setup.log")
        app = prepare.in_process_app(database, sink.port)
        logging.getLogger().setLevel(logging.WARNING)  # create_app() logs every request at INFO
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
        burst_numbers = prepare.add_students(app, options.students, prepare.BENCH_VET, 30000000)
        route_numbers = prepare.add_students(app, per_route, prepare.BENCH_VET, 31000000)
        counted = prepare.add_students(app, 1, prepare.BENCH_VET, 32000000)
        compared = {code: prepare.add_students(app, 1, code, 33000000 + index * 10)[0]
                    for index, code in enumerate(prepare.COMPARED_VETS)}
        # Counted first, while the groups still have seats, so that the group choice is counted too.
        results["queries"] = prepare.count_queries_per_page(app, counted[0])
        results["element_page_queries"] = prepare.count_element_page_queries(app, compared)
        students_file = run_directory / "students.txt"
        students_file.write_text("\n".join(burst_numbers + route_numbers) + "\n")

        with gunicorn("bench.hello:app", prepare.PROJECT_ROOT, environment, run_directory / "hello.log", options) as (url, master):
            results["reference"] = run_locust("HelloWorld", url, options.users, options.users, options.route_seconds,
                                              run_directory, students_file, 0)
            results["reference_memory"] = worker_memory(master)

        server_log = run_directory / f"gunicorn-{kind}.log"
        with gunicorn("wsgi:app", prepare.PROJECT_ROOT, environment, server_log, options) as (url, master):
            results["routes"] = {}
            for index, user_class in enumerate(ROUTE_USERS):
                offset = options.students + index * options.users
                results["routes"][user_class] = run_locust(
                    user_class, url, options.users, options.users, options.route_seconds + PHASE_MARGIN_SECONDS // 2,
                    run_directory, students_file, offset,
                )
            results["route_memory"] = worker_memory(master)
            sent_before_burst = sink.received
            spawn_rate = options.students / options.burst_seconds
            results["burst_started"] = time.time()
            results["burst"] = run_locust(
                "StudentPath", url, options.students, spawn_rate, options.burst_seconds + BURST_DRAIN_SECONDS,
                run_directory, students_file, 0, options.think_seconds, options.students,
            )
            results["burst_memory"] = worker_memory(master)
            time.sleep(2)  # mails of the last validations leave right after their commit
            results["burst_mails_received"] = sink.received - sent_before_burst
        renders = PDF_RENDERED.findall(server_log.read_text(errors="replace"))
        results["pdf_renders_logged"] = len(renders)
        results["pdf_renders_repeated"] = len(renders) - len(set(renders))
        results["database_check"] = prepare.check_database(app, burst_numbers)
        results["pdf"] = prepare.time_contract_pdf(app, counted[0])
        results["server_version"] = database_version(app, kind)
        with app.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
    results["load_after"] = load_average()
    return results


def database_version(app, kind: str) -> str:
    if kind == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    from sqlalchemy import text

    from kiosk.extensions import db

    with app.app_context():
        return f"PostgreSQL {db.session.execute(text('SHOW server_version')).scalar()}"


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal")))
    from importlib.metadata import version

    return {
        "nproc": str(os.cpu_count()),
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "gunicorn": version("gunicorn"),
        "locust": version("locust"),
        "flask": version("flask"),
    }


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--postgresql-url", default="postgresql+psycopg://root@127.0.0.1:5432/test",
                        help="PostgreSQL database in which the run creates and drops a schema of its own.")
    parser.add_argument("--students", type=int, default=1000, help="Students of the opening burst (default: 1000).")
    parser.add_argument("--burst-seconds", type=int, default=60, help="Seconds over which they arrive (default: 60).")
    parser.add_argument("--think-seconds", type=float, default=1.0,
                        help="Mean pause of a burst student between two steps, in seconds (default: 1).")
    parser.add_argument("--route-seconds", type=int, default=10, help="Seconds of closed loop per route (default: 10).")
    parser.add_argument("--users", type=int, default=16, help="Concurrent users of each closed loop (default: 16).")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (default: nproc).")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker (default: 8).")
    parser.add_argument("--output", type=Path, default=prepare.PROJECT_ROOT / "docs" / "benchmarks.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_arguments(argv)
    started = datetime.now(timezone.utc)
    command = " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    runs = []
    # The logs stay for reading after the run (a few MB); the databases do not.
    directory = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    for kind in options.databases:
        run_directory = directory / kind
        run_directory.mkdir()
        print(f"Benchmarking on {kind} (logs in {run_directory})…", flush=True)
        runs.append(benchmark_database(kind, options, run_directory))
    report.write(options.output, runs, options, machine(), started, command)
    print(f"Results written to {options.output}")


if __name__ == "__main__":
    main()
