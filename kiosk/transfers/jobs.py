"""Imports from the console, run in steps so that the page can show their progress.

The upload stores the file in an ImportJob, and the job page then posts one step at a time.
Each checking step looks up the next CHECK_CHUNK_ROWS rows in the database and commits the
job's progress. The last step checks every row again and writes them all in one transaction,
so a file still goes in whole or not at all. Any host may run any step, since the job's state
lives in the database.
"""

import logging
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, select, update

from ..extensions import db
from . import IMPORTERS
from .base import ImportRejected, Importer, ParsedFile, Scope, write_records
from .cells import RowIssue
from .imports import parse_file, record_import
from .models import ImportJob

logger = logging.getLogger(__name__)

CHECK_CHUNK_ROWS = 1000
# Each upload deletes the jobs whose last step is older than this, with the files of unfinished ones.
JOB_RETENTION = timedelta(days=30)


def start_import_job(kind: str, filename: str, data: bytes, staff_login: str, now_utc: datetime) -> ImportJob:
    """Store the file as a job and run the checks that need no database.

    Raises ImportRejected, storing nothing, when the file is not a readable table with the
    required columns. Flushes, never commits.
    """
    parsed = parse_file(IMPORTERS[kind](), data)
    db.session.execute(delete(ImportJob).where(ImportJob.updated_at < now_utc - JOB_RETENTION))
    job = ImportJob(
        kind=kind, filename=filename, content=data, staff_login=staff_login, status="checking",
        row_count=len(parsed.row_lines), checked_count=0, step_count=0,
        report={"issues": [issue.as_dict() for issue in parsed.issues], "ignored_columns": parsed.ignored_columns},
        created_at=now_utc, updated_at=now_utc,
    )
    db.session.add(job)
    db.session.flush()
    logger.info("Import job %s started by %s: %s file %r, %s rows", job.id, staff_login, kind, filename, job.row_count)
    return job


def recent_jobs(staff_login: str, limit: int = 10) -> list[ImportJob]:
    query = select(ImportJob).where(ImportJob.staff_login == staff_login).order_by(ImportJob.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def run_import_step(job: ImportJob, seen_step: int, scope: Scope, now_utc: datetime) -> bool:
    """Run the job's next step, unless another request ran a step since seen_step.

    Return whether this call ran it. Flushes, never commits.
    """
    if not claim_step(job, seen_step, now_utc):
        return False
    importer = IMPORTERS[job.kind]()
    if importer.is_admin_only and not scope.is_unlimited:
        fail_job(job, [RowIssue(None, _("Seul un administrateur peut importer ce type de fichier."))])
        return True
    parsed = parse_file(importer, job.content)
    if job.status == "checking":
        check_next_rows(job, importer, parsed, scope)
    else:
        write_job_rows(job, importer, parsed, scope)
    return True


def claim_step(job: ImportJob, seen_step: int, now_utc: datetime) -> bool:
    """Move step_count from seen_step to the next step with a conditional update; return whether it moved."""
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.step_count == seen_step, ImportJob.status.in_(("checking", "importing")))
        .values(step_count=seen_step + 1, updated_at=now_utc)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(job)
    return claimed.rowcount == 1


def check_next_rows(job: ImportJob, importer: Importer, parsed: ParsedFile, scope: Scope) -> None:
    end = min(job.checked_count + CHECK_CHUNK_ROWS, job.row_count)
    first_line, last_line = parsed.row_lines[job.checked_count], parsed.row_lines[end - 1]
    chunk = [record for record in parsed.records if first_line <= record.line <= last_line]
    issues = importer.resolve(chunk, scope)
    job.checked_count = end
    job.report = {**job.report, "issues": job.issues + [issue.as_dict() for issue in issues]}
    if end < job.row_count:
        return
    if job.issues:
        fail_job(job, [])
    else:
        job.status = "importing"
    db.session.flush()


def write_job_rows(job: ImportJob, importer: Importer, parsed: ParsedFile, scope: Scope) -> None:
    """Check every row again, in the transaction that writes them, then write them all."""
    issues = importer.resolve(parsed.records, scope)
    if issues:
        fail_job(job, issues)
        return
    try:
        counts = write_records(importer, parsed.records)
    except ImportRejected as rejected:
        fail_job(job, rejected.issues)
        return
    record_import(job.staff_login, job.kind, job.filename, job.row_count, counts)
    job.status = "done"
    job.content = None
    job.report = {**job.report, "counts": counts.as_dict()}
    db.session.flush()


def fail_job(job: ImportJob, issues: list[RowIssue]) -> None:
    """Finish the job as failed, adding issues to those found so far, and drop its file."""
    all_issues = job.issues + [issue.as_dict() for issue in issues]
    job.report = {**job.report, "issues": sorted(all_issues, key=lambda issue: issue["line"] or 0)}
    job.status = "failed"
    job.content = None
    db.session.flush()
    logger.info("Import job %s (%s file %r by %s) failed with %s issue(s)",
                job.id, job.kind, job.filename, job.staff_login, len(all_issues))
