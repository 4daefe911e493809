"""CSV files as French Excel reads and writes them.

Reading accepts `;` or `,` as separator, UTF-8 with or without a BOM or else cp1252, any line
ending, and headers in any case and with or without accents. Writing produces what French
Excel opens without an import dialog: `;`, UTF-8 with a BOM and CRLF.
"""

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext as _

SEPARATORS = (";", ",")
# Excel writes, and reads, a first line "sep=;" naming the separator.
SEPARATOR_HINT = re.compile(r"^sep=(.)$")
FIRST_LINE = re.compile(r"^[^\r\n]*(\r\n|\r|\n)?")
# French words left out of headers, so that "Date de naissance" matches the column date_naissance.
HEADER_STOP_WORDS = {"de", "du", "des", "d", "la", "le", "l"}


class CsvFileError(Exception):
    """A file that cannot be read as a table; line is None when no line is to blame."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class CsvRow:
    """A data row: the line it starts on (1 is the header) and its cells by normalized header.

    extra_values counts the non-empty values beyond the last header, which the row's checks reject.
    """

    line: int
    cells: dict[str, str]
    extra_values: int = 0


@dataclass
class CsvTable:
    headers: list[str]  # normalized, in file order
    rows: list[CsvRow]
    separator: str


def normalize_header(name: str) -> str:
    """Turn "Numéro d'étudiant" into "numero_etudiant": no accents, lower case, no stop words, joined by "_"."""
    decomposed = unicodedata.normalize("NFKD", name.replace("\ufeff", ""))
    without_accents = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = re.split(r"[^a-z0-9]+", without_accents.casefold())
    return "_".join(word for word in words if word and word not in HEADER_STOP_WORDS)


def line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (BOM or not), else cp1252; raise CsvFileError naming the line of a bad byte.

    A file that already contains valid multi-byte UTF-8 sequences is taken as UTF-8 with a bad
    byte rather than decoded as cp1252, which would turn its accents into "Ã©".
    """
    if data.startswith(codecs.BOM_UTF8):
        return decode_strictly(data, "utf-8-sig")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if has_utf8_sequences(data):
            return decode_strictly(data, "utf-8")
    return decode_strictly(data, "cp1252")


def has_utf8_sequences(data: bytes) -> bool:
    text = data.decode("utf-8", errors="replace")
    return any(ord(char) > 127 and char != "\ufffd" for char in text)


def decode_strictly(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = line_at(data, error.start)
        raise CsvFileError(
            _("octet invalide (0x%(byte)02X) : le fichier n'est ni en UTF-8 ni en Windows-1252. "
              "Enregistrez-le depuis Excel au format « CSV UTF-8 ».", byte=data[error.start]),
            line=line,
        ) from error


def detect_separator(header_line: str) -> str:
    """Choose `;` or `,` from the header line alone, since data lines may hold decimal commas."""
    return max(SEPARATORS, key=header_line.count)


def read_csv(data: bytes) -> CsvTable:
    """Decode and split a file into a header and data rows; raise CsvFileError if it is unreadable."""
    text = decode_text(data)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise CsvFileError(_("caractère nul (0x00) : ce fichier n'est pas un texte CSV."), line)
    lines = text.splitlines()
    first_line_number = 1
    separator = None
    if lines and (hint := SEPARATOR_HINT.match(lines[0].strip())):
        separator = hint.group(1)
        text = FIRST_LINE.sub("", text, count=1)
        first_line_number = 2
        lines = lines[1:]
    if not any(line.strip() for line in lines):
        raise CsvFileError(_("Le fichier est vide."))
    separator = separator or detect_separator(lines[0])
    return split_rows(text, separator, first_line_number)


def split_rows(text: str, separator: str, first_line_number: int) -> CsvTable:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    line_offset = first_line_number - 1
    try:
        header = next(reader)
        headers = [normalize_header(name) for name in header]
        check_headers(headers, first_line_number)
        rows = []
        row_start = reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):
                rows.append(make_row(headers, values, row_start + line_offset))
            row_start = reader.line_num + 1
    except csv.Error as error:
        line = reader.line_num + line_offset
        raise CsvFileError(_("CSV illisible, vérifiez les guillemets de cette ligne (%(error)s).", error=error), line) from error
    if not rows:
        raise CsvFileError(_("Le fichier ne contient aucune ligne de données sous les en-têtes."))
    return CsvTable(headers=headers, rows=rows, separator=separator)


def check_headers(headers: list[str], line: int) -> None:
    seen = set()
    for name in headers:
        if name and name in seen:
            raise CsvFileError(_("la colonne « %(name)s » apparaît deux fois.", name=name), line)
        seen.add(name)


def make_row(headers: list[str], values: list[str], line: int) -> CsvRow:
    """Pair values with headers; missing values at the end of a row read as empty cells."""
    cells = {name: value.strip() for name, value in zip(headers, values) if name}
    extra_values = sum(1 for value in values[len(headers):] if value.strip())
    return CsvRow(line=line, cells=cells, extra_values=extra_values)


def write_csv(headers: list[str], rows: list[list[str]]) -> bytes:
    """Write a CSV for French Excel: `;`, UTF-8 with a BOM, CRLF line endings."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")
