"""The contrat pédagogique as a page, as a PDF and as a mail, rendered from a frozen version."""

import io
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import current_app, render_template
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus.tables import CellStyle
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessError, ResourceAccessPolicy

from ..i18n import student_locale
from ..models import IpVersion, OutboxMail, Student
from .outbox import queue_mail

logger = logging.getLogger(__name__)

# Path separators, characters Windows forbids in file names, spaces and control characters.
UNSAFE_FILENAME_CHARACTERS = re.compile(r'[\\/:*?"<>|\s\x00-\x1f\x7f]+')

# The only files the PDF renderer may read: the fonts named by the @font-face rules of contract/pdf.html.
PDF_FONT_FILES = frozenset({"NotoSans-Regular.ttf", "NotoSans-Bold.ttf"})
# ReportLab's name for NotoSans-Regular.ttf where it replaces Helvetica as ReportLab's default font.
DEFAULT_FONT_NAME = "KioskNotoSans-Default"
_reportlab_defaults_lock = threading.Lock()


def attachment_filename(contract: dict) -> str:
    """Name the PDF after the student and the year: Contrat_pédagogique_Nom_Prénom_2026-2027.pdf."""
    student = contract["student"]
    parts = [_("Contrat_pédagogique"), student["last_name"], student["first_name"], contract["year"]]
    return "_".join(UNSAFE_FILENAME_CHARACTERS.sub("-", part).strip("-") for part in parts) + ".pdf"


def render_contract_pdf(contract: dict) -> bytes:
    """Render the contract as a PDF drawn in the vendored Noto Sans, regular and bold.

    Raises ResourceAccessError if the HTML names any resource but those fonts, and
    RuntimeError if xhtml2pdf reports an error.
    """
    # ReportLab draws a combining mark without positioning it over its base letter, so
    # decomposed (NFD) text is composed first. Composed and decomposed forms are the same text.
    contract = compose_strings(contract)
    fonts = fonts_directory()
    default_font = register_default_font(fonts / "NotoSans-Regular.ttf")
    log_characters_without_glyph(contract, default_font)

    html = render_template("contract/pdf.html", contract=contract)
    # link_callback resolves the font URLs, and the policy bounds every read, including the
    # ones xhtml2pdf makes without calling link_callback.
    policy = ResourceAccessPolicy.server(base_dir=fonts, allow_remote=False)
    output = io.BytesIO()
    with reportlab_default_font(DEFAULT_FONT_NAME), reportlab_invariant_mode():
        result = pisa.CreatePDF(
            html, dest=output, encoding="utf-8", link_callback=resolve_font_url, resource_policy=policy,
        )
    if result.err:
        raise RuntimeError(f"xhtml2pdf failed to render the contract of IP {contract['ip_id']}")
    return output.getvalue()


def fonts_directory() -> Path:
    return (Path(current_app.static_folder) / "fonts").resolve()


def resolve_font_url(url: str, relative_to: str | None) -> str:
    """Return the absolute path of a font in PDF_FONT_FILES; raise ResourceAccessError for any other URL.

    xhtml2pdf calls this link_callback for each resource the HTML names. A callback that
    returns None makes xhtml2pdf fetch the URL as written, so a rejected URL raises instead,
    which stops the render.
    """
    parts = urlsplit(url)
    if parts.scheme in ("", "file") and not parts.netloc:
        path = Path(url2pathname(parts.path))
        fonts = fonts_directory()
        if path.name in PDF_FONT_FILES and path.resolve() == fonts / path.name:
            return str(fonts / path.name)
    raise ResourceAccessError(
        f"the contract PDF may read only the fonts {sorted(PDF_FONT_FILES)} in {fonts_directory()}, not {url[:200]!r}"
    )


def compose_strings(value):
    """Return a copy of value with every string in it in Unicode normalization form NFC."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {key: compose_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [compose_strings(item) for item in value]
    return value


def iter_strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_strings(item)


def log_characters_without_glyph(contract: dict, font: TTFont) -> None:
    """Log an error naming the characters of the contract that the font cannot draw."""
    characters = {character for text in iter_strings(contract) for character in text}
    missing = sorted(
        character for character in characters
        if not character.isspace() and ord(character) not in font.face.charToGlyph
    )
    if missing:
        # NOTE: Noto Sans covers the Latin, Greek and Cyrillic scripts. Names in other scripts
        # (Arabic, Hebrew, CJK, Indic…) need their Noto fonts vendored and named in pdf.html.
        logger.error(
            "Noto Sans has no glyph for %r in the contract of IP %s: they come out blank in the PDF",
            "".join(missing), contract["ip_id"],
        )


def register_default_font(font_path: Path) -> TTFont:
    """Register the font with ReportLab as DEFAULT_FONT_NAME, once per process, and return it."""
    if DEFAULT_FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(DEFAULT_FONT_NAME, str(font_path)))
    return pdfmetrics.getFont(DEFAULT_FONT_NAME)


@contextmanager
def reportlab_default_font(font_name: str) -> Iterator[None]:
    """Make a registered TrueType font the one ReportLab's canvas and table cells start with.

    They start with Helvetica (rl_config.canvas_basefontname and CellStyle.fontname in
    ReportLab 5.1). No text is drawn in it, but every page then lists Helvetica as a
    non-embedded Type1 font. ReportLab adds a TrueType font to a page only when text is
    drawn in it. Both settings are module globals, restored on exit, and the lock keeps two
    renders from restoring each other's values.
    """
    with _reportlab_defaults_lock:
        canvas_font, cell_font = rl_config.canvas_basefontname, CellStyle.fontname
        rl_config.canvas_basefontname = CellStyle.fontname = font_name
        try:
            yield
        finally:
            rl_config.canvas_basefontname, CellStyle.fontname = canvas_font, cell_font


@contextmanager
def reportlab_invariant_mode() -> Iterator[None]:
    """Leave the render time out of the PDF, so one frozen version always gives the same bytes.

    Outside invariant mode ReportLab 5.1 derives the trailer /ID and CreationDate from the
    clock, so the mailed copy and a later download would differ. Invariant mode fixes
    CreationDate at 2000-01-01, and the contract's text carries the real validation date.
    rl_config.invariant is a module global, so the caller must hold _reportlab_defaults_lock.
    """
    previous = rl_config.invariant
    rl_config.invariant = 1
    try:
        yield
    finally:
        rl_config.invariant = previous


def ensure_contract_pdf(version: IpVersion) -> bytes:
    """Return the version's PDF in the current language, rendering and storing it the first time.

    A version never changes, so its PDF is rendered once; the caller's commit keeps it. Two
    requests racing on a fresh version both render, and the bytes are identical (invariant mode).
    Only the default language's PDF is stored: the others are rendered at each request.
    """
    if str(get_locale()) != current_app.config["BABEL_DEFAULT_LOCALE"]:
        return render_contract_pdf(version.contract)
    if version.pdf is None:
        version.pdf = render_contract_pdf(version.contract)
        logger.info("Contract PDF of IP %s version %s rendered", version.ip_id, version.number)
    return version.pdf


def queue_contract_mail(student: Student, version: IpVersion) -> OutboxMail:
    """Queue the contract as a PDF attachment to the student's own address, in the student's language.

    The language is the one stored on the student, not the request's, so a mail queued by
    staff at the desk reaches an English-speaking student in English too.
    """
    contract = version.contract
    with force_locale(student_locale(student)):
        subject = _(
            "Votre contrat pédagogique %(year)s – %(vet)s (version %(version)s)",
            year=contract["year"], vet=contract["vet"]["label"], version=version.number,
        )
        body = render_template("mail/contract.txt", contract=contract, student=student)
        attachment_name = attachment_filename(contract)
        attachment_data = ensure_contract_pdf(version)
    return queue_mail(
        recipient_name=student.full_name,
        recipient_address=student.email,
        subject=subject,
        body_text=body,
        attachment_name=attachment_name,
        attachment_data=attachment_data,
    )
