"""The contrat pédagogique as a page, as a PDF and as a mail, rendered from a frozen version."""

import io
import logging
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import current_app, render_template
from flask_babel import gettext as _
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus.tables import CellStyle
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessError, ResourceAccessPolicy

from ..models import IpVersion, OutboxMail, Student
from .outbox import queue_mail

logger = logging.getLogger(__name__)

UNSAFE_FILENAME_CHARACTERS = re.compile(r'[\\/:*?"<>|\s]+')

# The only files the PDF renderer may read: the fonts the @font-face rules of contract/pdf.html name.
PDF_FONT_FILES = frozenset({"NotoSans-Regular.ttf", "NotoSans-Bold.ttf"})
# ReportLab's name for NotoSans-Regular.ttf when it stands in for Helvetica as ReportLab's default font.
DEFAULT_FONT_NAME = "KioskNotoSans-Default"
_default_font_lock = threading.Lock()


def attachment_filename(contract: dict) -> str:
    """Name the PDF after the student and the year: Contrat_pédagogique_Nom_Prénom_2026-2027.pdf."""
    student = contract["student"]
    parts = [_("Contrat_pédagogique"), student["last_name"], student["first_name"], contract["year"]]
    return "_".join(UNSAFE_FILENAME_CHARACTERS.sub("-", part.strip()) for part in parts) + ".pdf"


def render_contract_pdf(contract: dict) -> bytes:
    """Render the contract as a PDF that embeds Noto Sans and reads no file but that font."""
    html = render_template("contract/pdf.html", contract=contract)
    fonts = fonts_directory()
    # link_callback maps the font URLs, and the policy bounds every read, including those
    # xhtml2pdf makes without calling link_callback.
    policy = ResourceAccessPolicy.server(base_dir=fonts, allow_remote=False)
    output = io.BytesIO()
    with noto_sans_as_reportlab_default(fonts / "NotoSans-Regular.ttf"), reportlab_invariant_mode():
        result = pisa.CreatePDF(
            html, dest=output, encoding="utf-8", link_callback=resolve_font_url, resource_policy=policy,
        )
    if result.err:
        raise RuntimeError(f"xhtml2pdf failed to render the contract of IP {contract['ip_id']}")
    return output.getvalue()


def fonts_directory() -> Path:
    return (Path(current_app.static_folder) / "fonts").resolve()


def resolve_font_url(url: str, relative_to: str | None) -> str:
    """Return the absolute path of a font named in PDF_FONT_FILES; raise for any other URL.

    xhtml2pdf calls this link_callback for each resource the HTML names. Returning None
    would make it fetch the URL as written, so a rejected URL raises instead.
    """
    parts = urlsplit(url)
    if parts.scheme in ("", "file") and not parts.netloc:
        path = Path(url2pathname(parts.path))
        fonts = fonts_directory()
        if path.name in PDF_FONT_FILES and path.resolve() == fonts / path.name:
            return str(fonts / path.name)
    logger.warning("The contract PDF asked for %r, which is not a vendored font: rejected", url[:200])
    raise ResourceAccessError(f"only the fonts {sorted(PDF_FONT_FILES)} may be read, not {url[:200]!r}")


@contextmanager
def noto_sans_as_reportlab_default(font_path: Path):
    """Make Noto Sans the font ReportLab's canvas and table cells start with, during one render.

    They start with Helvetica (rl_config.canvas_basefontname and CellStyle.fontname in
    ReportLab 5.1). No text is drawn in it, but each page still lists it as a non-embedded
    Type1 font. A TrueType font set that way draws nothing and adds no font to the page.
    """
    with _default_font_lock:
        if DEFAULT_FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(DEFAULT_FONT_NAME, str(font_path)))
        canvas_font, cell_font = rl_config.canvas_basefontname, CellStyle.fontname
        rl_config.canvas_basefontname = CellStyle.fontname = DEFAULT_FONT_NAME
        try:
            yield
        finally:
            rl_config.canvas_basefontname, CellStyle.fontname = canvas_font, cell_font


@contextmanager
def reportlab_invariant_mode():
    """Leave the render time out of the PDF, so one frozen version always gives the same bytes.

    Outside invariant mode ReportLab 5.1 derives the trailer /ID and CreationDate from the
    clock, so the mailed copy and a later download would differ. Invariant mode fixes
    CreationDate at 2000-01-01; the contract's text carries the real validation date.
    The caller holds _default_font_lock, which keeps other renders from seeing the setting.
    """
    previous = rl_config.invariant
    rl_config.invariant = 1
    try:
        yield
    finally:
        rl_config.invariant = previous


def queue_contract_mail(student: Student, version: IpVersion) -> OutboxMail:
    """Queue the contract as a PDF attachment to the student's own address."""
    contract = version.contract
    subject = _(
        "Votre contrat pédagogique %(year)s – %(vet)s (version %(version)s)",
        year=contract["year"], vet=contract["vet"]["label"], version=version.number,
    )
    body = render_template("mail/contract.txt", contract=contract, student=student)
    return queue_mail(
        recipient_name=student.full_name,
        recipient_address=student.email,
        subject=subject,
        body_text=body,
        attachment_name=attachment_filename(contract),
        attachment_data=render_contract_pdf(contract),
    )
