"""Importing a whole file in one call: read, check every row, then write all rows or none."""

import logging
from dataclasses import dataclass

from ..services.audit import record_audit
from . import IMPORTERS
from .base import Counts, ImportRejected, Importer, ParsedFile, Scope, parse_table, sorted_issues, write_records
from .cells import RowIssue
from .csv_files import CsvFileError, read_csv

logger = logging.getLogger(__name__)


@dataclass
class ImportResult:
    counts: Counts
    row_count: int
    ignored_columns: list[str]


def parse_file(importer: Importer, data: bytes) -> ParsedFile:
    """Run the first pass on the file's bytes.

    Raises ImportRejected when the file cannot be read as a table or lacks a required column.
    """
    try:
        return parse_table(importer, read_csv(data))
    except CsvFileError as error:
        raise ImportRejected([RowIssue(error.line, error.message)]) from error


def import_file(kind: str, data: bytes, filename: str, actor: str, scope: Scope = Scope()) -> ImportResult:
    """Check every row, then write them all and record the import in the audit trail.

    Raises ImportRejected, having written nothing, when any row is bad. Flushes, never commits.
    """
    importer = IMPORTERS[kind]()
    parsed = parse_file(importer, data)
    row_count = len(parsed.row_lines)
    issues = parsed.issues + importer.resolve(parsed.records, scope)
    if issues:
        logger.info("Import of %s file %r by %s rejected: %s issue(s)", kind, filename, actor, len(issues))
        raise ImportRejected(sorted_issues(issues))
    counts = write_records(importer, parsed.records)
    record_import(actor, kind, filename, row_count, counts)
    return ImportResult(counts=counts, row_count=row_count, ignored_columns=parsed.ignored_columns)


def record_import(actor: str, kind: str, filename: str, row_count: int, counts: Counts) -> None:
    record_audit(actor, "import", "import_file", kind, None, {"file": filename, "rows": row_count, **counts.as_dict()})
    logger.info("Import of %s file %r by %s: %s created, %s modified, %s unchanged",
                kind, filename, actor, counts.created, counts.modified, counts.unchanged)
