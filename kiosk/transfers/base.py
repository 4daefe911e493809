"""The parts every importer shares: columns, the access scope, the counts and the three passes.

An import reads a file in three passes, and writes only if the first two find nothing wrong:
1. parse: each row on its own and the rows against each other (duplicates), without the database;
2. resolve: each row against the database (unknown VET, a CIP outside the staff member's scope);
3. write: insert or update each row by its natural key and count the outcome.
"""

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from .cells import RowCells, RowIssue
from .csv_files import CsvFileError, CsvTable

logger = logging.getLogger(__name__)

CREATED, MODIFIED, UNCHANGED = "created", "modified", "unchanged"


class ImportRejected(Exception):
    """The file contains at least one bad row, so nothing of it is imported."""

    def __init__(self, issues: list[RowIssue]):
        super().__init__("; ".join(f"line {issue.line}: {issue.message}" for issue in issues))
        self.issues = issues


@dataclass(frozen=True)
class Column:
    """A column of an import format; aliases are other accepted headers, such as Apogée's names."""

    name: str
    required: bool = True
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    """The CIPs whose data an import may change; cip_ids None means every CIP."""

    cip_ids: frozenset[int] | None = None

    @property
    def is_unlimited(self) -> bool:
        return self.cip_ids is None

    def allows_cip(self, cip_id: int) -> bool:
        return self.cip_ids is None or cip_id in self.cip_ids


@dataclass
class Counts:
    created: int = 0
    modified: int = 0
    unchanged: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict:
        return {"created": self.created, "modified": self.modified, "unchanged": self.unchanged}

    def summary(self) -> str:
        return ", ".join([
            ngettext("%(num)s créé", "%(num)s créés", self.created),
            ngettext("%(num)s modifié", "%(num)s modifiés", self.modified),
            ngettext("%(num)s inchangé", "%(num)s inchangés", self.unchanged),
        ])


@dataclass
class ParsedFile:
    """The rows that passed the first pass as records, and the issues of those that did not."""

    records: list[Any]
    issues: list[RowIssue]
    row_lines: list[int]  # the line of every data row, good or bad
    ignored_columns: list[str] = field(default_factory=list)


class Importer:
    """One kind of file. Subclasses set the class attributes and implement parse, key, resolve, write.

    An instance lives for one pass over one file, so it may cache what it looked up.
    """

    kind: ClassVar[str]
    label: ClassVar[str]  # a lazy_gettext string, shown in the console
    columns: ClassVar[tuple[Column, ...]]
    # Words naming the natural key in a duplicate-row message: "même numéro étudiant, VET et année".
    key_description: ClassVar[str]
    # Kinds that change data shared by every CIP (the maquette's ELPs and lists) need an administrator.
    is_admin_only: ClassVar[bool] = False

    def parse(self, cells: RowCells) -> Any:
        """Return the row's record; report bad cells through cells.add_issue."""
        raise NotImplementedError

    def key(self, record) -> tuple:
        raise NotImplementedError

    def check_rows_together(self, records: list) -> list[RowIssue]:
        """Return issues between rows of the file (the same student with two birth dates)."""
        return []

    def resolve(self, records: list, scope: Scope) -> list[RowIssue]:
        """Look up what the records refer to, store it on them, and return the issues found."""
        raise NotImplementedError

    def write(self, record) -> str:
        """Insert or update the record's rows; return CREATED, MODIFIED or UNCHANGED."""
        raise NotImplementedError

    def check_written(self) -> list[RowIssue]:
        """Return issues visible only once every row is written (a loop in the structure)."""
        return []


def match_headers(importer: Importer, table: CsvTable) -> tuple[dict[str, str], list[str]]:
    """Map each column to its header in the file; raise CsvFileError naming the missing columns.

    Return the map and the headers no column uses, which the import ignores.
    """
    present = set(table.headers)
    header_names: dict[str, str] = {}
    missing = []
    for column in importer.columns:
        found = next((name for name in (column.name, *column.aliases) if name in present), None)
        if found:
            header_names[column.name] = found
        elif column.required:
            missing.append(column.name)
    if missing:
        raise CsvFileError(
            ngettext("colonne obligatoire absente : %(names)s.", "colonnes obligatoires absentes : %(names)s.",
                     len(missing), names=", ".join(f"« {name} »" for name in missing)),
            line=1,
        )
    ignored = [name for name in table.headers if name and name not in header_names.values()]
    return header_names, ignored


def parse_table(importer: Importer, table: CsvTable) -> ParsedFile:
    """Run the first pass: parse every row and reject duplicates of an earlier row's key."""
    header_names, ignored = match_headers(importer, table)
    records, issues = [], []
    first_line_by_key: dict[tuple, int] = {}
    for row in table.rows:
        cells = RowCells(row, header_names)
        if row.extra_values:
            cells.add_issue(_("%(count)s valeur(s) au-delà de la dernière colonne ; vérifiez le séparateur et les guillemets.",
                              count=row.extra_values))
        record = importer.parse(cells)
        if cells.issues:
            issues.extend(cells.issues)
            continue
        key = importer.key(record)
        if key in first_line_by_key:
            issues.append(RowIssue(row.line, _("ligne en double : %(key)s que la ligne %(first)s.",
                                               key=importer.key_description, first=first_line_by_key[key])))
            continue
        first_line_by_key[key] = row.line
        records.append(record)
    issues.extend(importer.check_rows_together(records))
    return ParsedFile(records=records, issues=issues, row_lines=[row.line for row in table.rows], ignored_columns=ignored)


def write_records(importer: Importer, records: list) -> Counts:
    """Write every record in a savepoint; raise ImportRejected, with nothing written, on a late issue.

    A late issue is one of check_written, or a constraint of the database that the checks did
    not foresee, most likely because another transaction changed the same rows meanwhile.
    """
    counts = Counts()
    try:
        with db.session.begin_nested():
            for index, record in enumerate(records, start=1):
                counts.add(importer.write(record))
                if index % 500 == 0:
                    db.session.flush()
            db.session.flush()
            issues = importer.check_written()
            if issues:
                raise ImportRejected(issues)
    except IntegrityError as error:
        logger.warning("Import of a %s file hit a database constraint: %s", importer.kind, error.orig)
        raise ImportRejected([RowIssue(None, _(
            "La base de données a refusé l'enregistrement, sans doute parce que les mêmes données ont changé "
            "pendant l'import. Rien n'a été importé ; relancez l'import."))]) from error
    return counts


def sorted_issues(issues: list[RowIssue]) -> list[RowIssue]:
    return sorted(issues, key=lambda issue: (issue.line or 0))


def set_changed(row, values: dict) -> bool:
    """Set the attributes whose value differs; return whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def upsert(existing, make_row, values: dict) -> tuple[Any, str]:
    """Return (row, outcome): a new row from make_row(values), or existing updated with values."""
    if existing is None:
        row = make_row(**values)
        db.session.add(row)
        return row, CREATED
    return existing, MODIFIED if set_changed(existing, values) else UNCHANGED
