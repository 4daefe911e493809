"""Turn the measurements of bench/run.py into the measured part of docs/benchmarks.md.

The page keeps its hand-written text; the run replaces what lies between MEASURED_START and
MEASURED_END, or appends the block when the markers are missing.
"""

import math
from collections import defaultdict
from datetime import datetime
from pathlib import Path

MEASURED_START = "<!-- measured: start (bench/run.py rewrites this block) -->"
MEASURED_END = "<!-- measured: end -->"
PAGE_RATIO_TARGET = 0.35
VALIDATION_RATIO_TARGET = 0.15
P95_RATIO_TARGET = 4.0
PDF_RATIO_TARGET = 1.5
VALIDATION_ROUTE = "POST /inscriptions/[ia]/validation"
LAST_STEP = "GET /contrats/[ip]/v[n].pdf"  # the burst's last request: a student who made it is through


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of the values (0 when there are none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarize(rows: list[dict]) -> dict[str, dict]:
    """Group the measured requests (not "setup …") by name: count, errors, throughput, percentiles."""
    by_name: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if not row["name"].startswith("setup "):
            by_name[row["name"]].append(row)
    summary = {}
    for name, requests in by_name.items():
        times = [request["ms"] for request in requests]
        first = min(request["start"] for request in requests)
        last = max(request["start"] + request["ms"] / 1000 for request in requests)
        statuses: dict[int, int] = defaultdict(int)
        for request in requests:
            if request["error"]:
                statuses[request["status"]] += 1
        summary[name] = {
            "count": len(requests),
            "errors": sum(statuses.values()),
            "error_statuses": dict(statuses),
            "throughput": len(requests) / (last - first) if last > first else 0.0,
            "p50": percentile(times, 0.50),
            "p95": percentile(times, 0.95),
            "p99": percentile(times, 0.99),
            "span": last - first,
        }
    return summary


def verdict(is_met: bool) -> str:
    return "met" if is_met else "**missed**"


def route_table(run: dict) -> tuple[list[str], list[str]]:
    """Return the per-route table and the list of routes that miss a target."""
    reference = summarize(run["reference"])["GET / (hello world)"]
    lines = [
        f"Reference (hello world): **{reference['throughput']:.0f} req/s**, p50 {reference['p50']:.0f} ms, "
        f"p95 {reference['p95']:.0f} ms, p99 {reference['p99']:.0f} ms, {reference['errors']} errors.",
        "",
        "| Route | Requests | Errors | req/s | × reference | Target | p50 ms | p95 ms | p99 ms | p95 × reference | ≤ 4× |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    misses = []
    for rows in run["routes"].values():
        for name, stats in summarize(rows).items():
            ratio = stats["throughput"] / reference["throughput"]
            target = VALIDATION_RATIO_TARGET if name == VALIDATION_ROUTE else PAGE_RATIO_TARGET
            p95_ratio = stats["p95"] / reference["p95"] if reference["p95"] else math.inf
            throughput_met = ratio >= target
            p95_met = p95_ratio <= P95_RATIO_TARGET
            if not (throughput_met and p95_met):
                misses.append(name)
            lines.append(
                f"| `{name}` | {stats['count']} | {stats['errors']} | {stats['throughput']:.1f} | {ratio:.3f} | "
                f"≥ {target}: {verdict(throughput_met)} | {stats['p50']:.0f} | {stats['p95']:.0f} | {stats['p99']:.0f} | "
                f"{p95_ratio:.1f} | {verdict(p95_met)} |"
            )
    return lines, misses


def burst_section(run: dict, options) -> list[str]:
    summary = summarize(run["burst"])
    check = run["database_check"]
    errors = sum(stats["errors"] for stats in summary.values())
    statuses: dict[int, int] = defaultdict(int)
    for stats in summary.values():
        for status, count in stats["error_statuses"].items():
            statuses[status] += count
    first = min(row["start"] for row in run["burst"])
    last = max(row["start"] + row["ms"] / 1000 for row in run["burst"])
    validated = summary.get(VALIDATION_ROUTE, {}).get("count", 0) - summary.get(VALIDATION_ROUTE, {}).get("errors", 0)
    downloads = summary.get(LAST_STEP, {})
    finished = downloads.get("count", 0) - downloads.get("errors", 0)
    overbooked = check["groups_over_capacity"] + check["groups_seat_count_off"]
    by_status = ", ".join(
        f"{count} × {f'status {status}' if status else 'no response (timeout or connection error)'}"
        for status, count in sorted(statuses.items())
    )
    lines = [
        f"{options.students} students arriving over {options.burst_seconds} s, each walking the whole path once with "
        f"pauses of {options.think_seconds} s on average: {sum(s['count'] for s in summary.values())} requests in "
        f"{last - first:.0f} s, **{errors} errors** ({by_status or 'none'}).",
        "",
        f"- Students who finished the whole path (their PDF downloaded): {finished} of {options.students}. The "
        f"others met an error or were still on their way when the run's time limit stopped them.",
        f"- Validations that succeeded: {validated}; contract versions in the database for these students: "
        f"{check['versions']}; IPs: {check['ips']}.",
        f"- Groups over capacity: {check['groups_over_capacity']}; groups whose seat count differs from their "
        f"memberships: {check['groups_seat_count_off']}; seats taken in all: {check['seats_taken']}.",
        f"- Mails received by the SMTP sink during the burst: {run['burst_mails_received']}; outbox after the run: "
        f"{check['mails_sent']} sent, {check['mails_pending']} pending, {check['mails_failed']} failed.",
        f"- Target, zero errors and every student through: {verdict(errors == 0 and finished == options.students)}; "
        f"zero overbooking: {verdict(overbooked == 0)}.",
        "",
        "| Route (burst) | Requests | Errors | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, stats in sorted(summary.items()):
        lines.append(f"| `{name}` | {stats['count']} | {stats['errors']} | {stats['p50']:.0f} | {stats['p95']:.0f} | {stats['p99']:.0f} |")
    return lines


def queries_section(run: dict) -> list[str]:
    lines = ["| Request (L3INFO, test client) | SQL statements |", "|---|---:|"]
    lines += [f"| `{name}` | {count} |" for name, count in run["queries"].items()]
    lines += ["", "| VET | Elements | Levels | Statements of its element page |", "|---|---:|---:|---:|"]
    lines += [f"| {code} | {size} | {levels} | {count} |" for code, (size, levels, count) in run["element_page_queries"].items()]
    lines += [
        "",
        "The element page costs about four statements per level of the tree (links, lists, members, elements) "
        "plus a fixed part for eligibility and groups, whatever the number of elements. tests/test_query_counts.py "
        "holds the target: the same counts for trees of 7 and 61 elements of equal depth, and for 1 and 8 group "
        "collections.",
    ]
    return lines


def pdf_section(run: dict) -> list[str]:
    pdf = run["pdf"]
    ratio = pdf["contract_ms"] / pdf["baseline_ms"]
    served = summarize(run["routes"]["ContractPdf"]).get("GET /contrats/[ip]/v[n].pdf", {})
    served_ratio = pdf["served_ms"] / pdf["baseline_ms"]
    check = run["database_check"]
    renders, repeated = run["pdf_renders_logged"], run["pdf_renders_repeated"]
    is_once = repeated == 0 and check["versions_with_pdf"] == check["all_versions"]
    return [
        f"- First render of a contract ({pdf['contract_rows']} rows, Noto Sans embedded): median "
        f"**{pdf['contract_ms']:.0f} ms**; one-page xhtml2pdf baseline (heading, paragraph, 12-row table, built-in "
        f"Helvetica): median **{pdf['baseline_ms']:.1f} ms**; ratio {ratio:.1f}× (target ≤ {PDF_RATIO_TARGET}×: "
        f"{verdict(ratio <= PDF_RATIO_TARGET)}).",
        f"- Served from storage (`IpVersion.pdf`), the whole request alone through the test client: median "
        f"**{pdf['served_ms']:.1f} ms**, {served_ratio:.2f}× the baseline render "
        f"({verdict(served_ratio <= PDF_RATIO_TARGET)}); under the closed loop of {served.get('count', 0)} "
        f"requests: p50 {served.get('p50', 0):.0f} ms, {served.get('throughput', 0):.0f} req/s.",
        f"- Rendered once per version: the server logged {renders} renders, {repeated} of them of a version rendered "
        f"before, and {check['versions_with_pdf']} of {check['all_versions']} versions hold their PDF "
        f"({verdict(is_once)}). The query count's validation renders in-process, outside the server's log.",
    ]


def memory_section(run: dict) -> list[str]:
    lines = ["| After | Worker | RSS MiB | Peak RSS MiB |", "|---|---:|---:|---:|"]
    for label, key in (("hello world", "reference_memory"), ("route loops", "route_memory"), ("burst", "burst_memory")):
        for index, worker in enumerate(run[key], 1):
            lines.append(f"| {label} | {index} | {worker['rss_kb'] / 1024:.0f} | {worker['peak_kb'] / 1024:.0f} |")
    return lines


def measured_block(runs: list[dict], options, machine: dict, started: datetime, command: str) -> str:
    lines = [
        MEASURED_START,
        "",
        f"Run of {started:%Y-%m-%d %H:%M} UTC: `{command}`.",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} of memory, {machine['system']}, "
        f"Python {machine['python']}, Flask {machine['flask']}, gunicorn {machine['gunicorn']}, Locust {machine['locust']}. "
        "Locust, the servers and the database share these CPUs.",
        "",
        f"Settings: gunicorn `--workers {options.workers} --worker-class gthread --threads {options.threads}`, "
        f"KIOSK_MAX_IN_FLIGHT={options.threads}, for the kiosk and the reference alike; {options.users} concurrent "
        f"users per closed loop, {options.route_seconds} s measured per route.",
    ]
    for run in runs:
        table, misses = route_table(run)
        lines += [
            "",
            f"## {run['server_version']}",
            "",
            f"Load average (1, 5, 15 min) before: {run['load_before']}; after: {run['load_after']}.",
            "",
            "### Throughput and latency per route (closed loop)",
            "",
            *table,
            "",
            f"Routes missing a throughput or p95 target: {', '.join(f'`{name}`' for name in misses) or 'none'}.",
            "",
            "### Opening burst",
            "",
            *burst_section(run, options),
            "",
            "### SQL statements per request",
            "",
            *queries_section(run),
            "",
            "### Contract PDF",
            "",
            *pdf_section(run),
            "",
            "### Memory per gunicorn worker (from /proc)",
            "",
            *memory_section(run),
        ]
    lines += ["", MEASURED_END]
    return "\n".join(lines) + "\n"


def write(path: Path, runs: list[dict], options, machine: dict, started: datetime, command: str) -> None:
    block = measured_block(runs, options, machine, started, command)
    page = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if MEASURED_START in page and MEASURED_END in page:
        before = page[: page.index(MEASURED_START)]
        after = page[page.index(MEASURED_END) + len(MEASURED_END):].lstrip("\n")
        page = before + block + ("\n" + after if after else "")
    else:
        page = page.rstrip("\n") + "\n\n" + block
    path.write_text(page)
