"""Typed reading of one row's cells, collecting a French message for each bad cell."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

from .csv_files import CsvRow

YES_VALUES = {"o", "oui", "1", "y", "yes"}
NO_VALUES = {"n", "non", "0", "no"}


@dataclass
class RowIssue:
    """The reason a row (or, with line None, the whole file) cannot be imported."""

    line: int | None
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "message": self.message}


class RowCells:
    """The cells of one row, read by column name; a bad cell returns None and adds an issue.

    header_names maps each column name to its header in this file. A column missing from the
    file reads as an empty cell.
    """

    def __init__(self, row: CsvRow, header_names: dict[str, str]):
        self.line = row.line
        self.row = row
        self.header_names = header_names
        self.issues: list[RowIssue] = []

    def add_issue(self, message: str) -> None:
        self.issues.append(RowIssue(self.line, message))

    def raw(self, column: str) -> str:
        header = self.header_names.get(column)
        return self.row.cells.get(header, "") if header else ""

    def text(self, column: str, max_length: int, required: bool = True) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self.add_issue(_("la colonne « %(column)s » est vide.", column=column))
            return None
        if len(value) > max_length:
            self.add_issue(_("« %(value)s » dépasse %(max)s caractères (colonne « %(column)s »).",
                             value=value, max=max_length, column=column))
            return None
        return value

    def date(self, column: str, required: bool = True) -> date | None:
        value = self.text(column, 10, required)
        if value is None:
            return None
        try:
            return datetime.strptime(value, "%d/%m/%Y").date()
        except ValueError:
            self.add_issue(_("date invalide « %(value)s » dans la colonne « %(column)s » (format attendu : jj/mm/aaaa).",
                             value=value, column=column))
            return None

    def integer(self, column: str, required: bool = True, minimum: int = 0, maximum: int = 999_999) -> int | None:
        value = self.text(column, 12, required)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            self.add_issue(_("nombre entier attendu dans la colonne « %(column)s », trouvé « %(value)s ».",
                             column=column, value=value))
            return None
        if not minimum <= number <= maximum:
            self.add_issue(_("la colonne « %(column)s » doit valoir entre %(min)s et %(max)s, trouvé %(value)s.",
                             column=column, min=minimum, max=maximum, value=number))
            return None
        return number

    def decimal(self, column: str, required: bool = True, maximum: Decimal = Decimal("9999.9")) -> Decimal | None:
        """Read "4,5" (decimal comma, as French Excel writes) or "4.5", with at most one decimal."""
        value = self.text(column, 12, required)
        if value is None:
            return None
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number < 0 or number > maximum or number != round(number, 1):
            self.add_issue(_("nombre positif à une décimale au plus attendu dans la colonne « %(column)s », trouvé « %(value)s ».",
                             column=column, value=value))
            return None
        return number

    def choice(self, column: str, allowed: tuple[str, ...], required: bool = True) -> str | None:
        value = self.text(column, 20, required)
        if value is None:
            return None
        if value.upper() not in allowed:
            self.add_issue(_("valeur inconnue « %(value)s » dans la colonne « %(column)s » (attendu : %(allowed)s).",
                             value=value, column=column, allowed=", ".join(allowed)))
            return None
        return value.upper()

    def flag(self, column: str, default: bool) -> bool:
        """Read O/N (also oui/non, 1/0); an empty cell gives the default."""
        value = self.raw(column).casefold()
        if not value:
            return default
        if value in YES_VALUES:
            return True
        if value not in NO_VALUES:
            self.add_issue(_("O ou N attendu dans la colonne « %(column)s », trouvé « %(value)s ».",
                             column=column, value=self.raw(column)))
        return False

    def year(self, column: str) -> int | None:
        """Read an academic year as "2026" or "2026-2027"; return the year it starts in."""
        value = self.text(column, 9)
        if value is None:
            return None
        first, _separator, second = value.partition("-")
        if first.isdigit() and len(first) == 4 and (not second or second == str(int(first) + 1)):
            return int(first)
        self.add_issue(_("année invalide « %(value)s » dans la colonne « %(column)s » (attendu : 2026 ou 2026-2027).",
                         value=value, column=column))
        return None
