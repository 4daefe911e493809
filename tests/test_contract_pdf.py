"""The contrat pédagogique rendered for real: PDFs read back with pypdf and their fonts with fontTools."""

import io
import logging
import re
import unicodedata

import pytest
from flask import render_template
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from reportlab import rl_config
from reportlab.platypus.tables import CellStyle
from xhtml2pdf.config.resources import ResourceAccessError

from kiosk.services import contract as contract_service
from kiosk.services.contract import attachment_filename, render_contract_pdf, resolve_font_url

from .factories import PROJECT_ROOT

FONTS_DIRECTORY = PROJECT_ROOT / "static" / "fonts"
FACES = ("NotoSans-Regular", "NotoSans-Bold")
HEADERS = ("Code", "Élément", "Nature", "ECTS", "Situation")

# (first name, last name): letters that Helvetica lacks, in Polish, Vietnamese, Turkish and Romanian.
NAMES = [
    ("Łucja", "Wiśniewska"),
    ("Thị Ngọc Ánh", "Đặng"),
    ("Şükrü", "Öztürk"),
    ("Ioana", "Ștefănescu"),
]
NAME_SCRIPTS = ["polish", "vietnamese", "turkish", "romanian"]


def make_contract(first_name: str, last_name: str, row_count: int = 3) -> dict:
    """Build frozen contract data as build_contract_data stores it: one semester, then its UEs."""
    rows = [{"depth": 0, "code": "S1", "label": "Semestre 1", "nature": "SEM", "ects": "30", "situation": "mandatory"}]
    situations = ("acquired", "mandatory", "chosen")
    for index in range(row_count):
        rows.append({
            "depth": 1 + index % 3,
            "code": f"UE{index:03d}",
            "label": f"Unité d'enseignement numéro {index}",
            "nature": "UE",
            "ects": "1,5",
            "situation": situations[index % 3],
        })
    return {
        "university": "Université de test",
        "year": "2026-2027",
        "student": {"number": "22600123", "first_name": first_name, "last_name": last_name, "birth_date": "2004-05-17"},
        "vet": {"code": "L3LET", "version": "201", "label": "Licence 3 Lettres modernes"},
        "campaign": "IP web 2026",
        "rows": rows,
        "owed": [{"code": "UEDET1", "label": "Latin 2", "nature": "UE", "ects": "3"}],
        "semesters": [{"label": "Semestre 1", "ects": "30"}],
        "total_ects": "123,5",
        "status": "complete",
        "version": 2,
        "validated_at": "2026-12-04T11:05+01:00",
        "ip_id": 7,
    }


def render_pdf(app, contract: dict) -> PdfReader:
    with app.test_request_context():
        return PdfReader(io.BytesIO(render_contract_pdf(contract)))


def page_fonts(reader: PdfReader) -> list:
    """Return the font dictionaries listed in the resources of every page."""
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.append(font.get_object())
    return fonts


def face_name(font) -> str:
    """Return the BaseFont without its subset prefix: AAAAAA+NotoSans-Bold gives NotoSans-Bold."""
    return re.sub(r"^[A-Z]{6}\+", "", str(font["/BaseFont"]).lstrip("/"))


def text_by_face(reader: PdfReader) -> dict[str, str]:
    """Return the text that each font face draws, read from the content streams."""
    texts: dict[str, list[str]] = {}

    def collect(text, _cm, _tm, font, _size):
        if font is not None:
            texts.setdefault(face_name(font), []).append(text)

    for page in reader.pages:
        page.extract_text(visitor_text=collect)
    return {face: "".join(parts) for face, parts in texts.items()}


def read_to_unicode(font) -> dict[int, str]:
    """Parse the font's ToUnicode CMap into {character code: text}."""
    cmap = font["/ToUnicode"].get_object().get_data().decode("latin-1")
    mapping = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for source, target in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(source, 16)] = bytes.fromhex(target).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.DOTALL):
        for low, high, start in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(int(start, 16) + offset)
    return mapping


def embedded_font_file(font) -> TTFont:
    descriptor = font["/FontDescriptor"].get_object()
    return TTFont(io.BytesIO(descriptor["/FontFile2"].get_object().get_data()))


def glyph_for_code(font_file: TTFont, code: int) -> str:
    """Return the glyph a PDF reader draws for a code of a simple TrueType font (ISO 32000-1, 9.6.6.4)."""
    windows_symbol = font_file["cmap"].getcmap(3, 0)
    if windows_symbol is not None and 0xF000 + code in windows_symbol.cmap:
        return windows_symbol.cmap[0xF000 + code]
    macintosh_roman = font_file["cmap"].getcmap(1, 0)
    if macintosh_roman is not None and code in macintosh_roman.cmap:
        return macintosh_roman.cmap[code]
    return ".notdef"


def drawable_characters(reader: PdfReader, face: str) -> set[str]:
    """Return the characters that the embedded subsets of a face map to a glyph with outlines."""
    characters = set()
    for font in page_fonts(reader):
        if face_name(font) != face:
            continue
        font_file = embedded_font_file(font)
        for code, text in read_to_unicode(font).items():
            glyph = glyph_for_code(font_file, code)
            if glyph != ".notdef" and font_file["glyf"][glyph].numberOfContours != 0:
                characters.add(text)
    return characters


def name_letters(first_name: str, last_name: str) -> list[str]:
    return sorted(set(first_name + last_name) - {" "})


def table_row_containing(html: str, text: str) -> str:
    """Return the <tr> element of the HTML that contains text."""
    rows = [row for row in html.split("<tr")[1:] if text in row]
    assert len(rows) == 1, f"{len(rows)} table rows contain {text!r}"
    return rows[0]


@pytest.fixture(scope="module", params=NAMES, ids=NAME_SCRIPTS)
def named_pdf(request, app):
    first_name, last_name = request.param
    return first_name, last_name, render_pdf(app, make_contract(first_name, last_name))


@pytest.fixture(scope="module")
def long_pdf(app):
    return render_pdf(app, make_contract("Zoé", "Lefèvre-Ngô", row_count=80))


def test_pdf_text_contains_name(named_pdf):
    first_name, last_name, reader = named_pdf
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert f"{last_name} {first_name}" in text


def test_name_drawn_in_regular(named_pdf):
    first_name, last_name, reader = named_pdf
    assert f"{last_name} {first_name}" in text_by_face(reader).get("NotoSans-Regular", "")


def test_name_drawn_in_bold(named_pdf):
    first_name, last_name, reader = named_pdf
    assert f"{last_name} {first_name}" in text_by_face(reader).get("NotoSans-Bold", "")


def test_pdf_fonts_are_noto_sans(named_pdf):
    *_, reader = named_pdf
    assert {face_name(font) for font in page_fonts(reader)} == set(FACES)


def test_pdf_fonts_are_embedded_truetype(named_pdf):
    *_, reader = named_pdf
    for font in page_fonts(reader):
        assert font["/Subtype"] == "/TrueType", font["/BaseFont"]
        assert "/FontFile2" in font["/FontDescriptor"].get_object(), font["/BaseFont"]


def test_pdf_has_no_type1_font(named_pdf):
    *_, reader = named_pdf
    type1_fonts = [font["/BaseFont"] for font in page_fonts(reader) if font["/Subtype"] == "/Type1"]
    assert type1_fonts == []


@pytest.mark.parametrize("face", FACES)
def test_name_glyphs_have_outlines(named_pdf, face):
    first_name, last_name, reader = named_pdf
    drawable = drawable_characters(reader, face)
    for letter in name_letters(first_name, last_name):
        assert letter in drawable, f"{face} draws {letter!r} (U+{ord(letter):04X}) as .notdef or an empty glyph"


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize(("first_name", "last_name"), NAMES, ids=NAME_SCRIPTS)
def test_vendored_font_covers_name(face, first_name, last_name):
    cmap = TTFont(FONTS_DIRECTORY / f"{face}.ttf").getBestCmap()
    for letter in name_letters(first_name, last_name):
        assert ord(letter) in cmap, f"{face}.ttf has no glyph for {letter!r} (U+{ord(letter):04X})"


def test_decomposed_name_drawn_composed(app):
    reader = render_pdf(app, make_contract(unicodedata.normalize("NFD", "Thị Ngọc Ánh"), "Đặng"))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Đặng Thị Ngọc Ánh" in text


def test_name_without_glyph_logged(app, caplog, monkeypatch):
    # migrations/env.py calls logging.config.fileConfig, which disables the loggers that exist
    # when the app fixture runs the migrations, this one included.
    monkeypatch.setattr(contract_service.logger, "disabled", False)
    with caplog.at_level(logging.ERROR, logger="kiosk.services.contract"):
        render_pdf(app, make_contract("芳", "王"))
    assert "王" in caplog.text
    assert "IP 7" in caplog.text


def test_long_contract_spans_pages(long_pdf):
    assert len(long_pdf.pages) >= 2


@pytest.mark.parametrize("header", HEADERS)
def test_headers_repeat_on_page_two(long_pdf, header):
    assert header in long_pdf.pages[1].extract_text()


def test_total_on_last_page(long_pdf):
    text = long_pdf.pages[-1].extract_text()
    assert "Total des crédits" in text
    assert "123,5 ECTS" in text


def test_footer_numbers_pages(long_pdf):
    page_count = len(long_pdf.pages)
    for number, page in enumerate(long_pdf.pages, start=1):
        assert f"page {number} / {page_count}" in page.extract_text()


def test_label_markup_drawn_as_text(app):
    contract = make_contract("Zoé", "Lefèvre-Ngô")
    contract["rows"][1]["label"] = '<img src="/etc/hostname"> UE'
    reader = render_pdf(app, contract)
    assert '<img src="/etc/hostname"> UE' in reader.pages[0].extract_text()


def test_render_rejects_other_resource(app, monkeypatch):
    monkeypatch.setattr(contract_service, "render_template", lambda *_args, **_kwargs: '<img src="/etc/hostname">')
    with app.test_request_context(), pytest.raises(ResourceAccessError):
        render_contract_pdf(make_contract("Zoé", "Lefèvre-Ngô"))


def test_render_restores_reportlab_defaults(app):
    settings_before = (rl_config.canvas_basefontname, CellStyle.fontname, rl_config.invariant)
    render_pdf(app, make_contract("Zoé", "Lefèvre-Ngô"))
    assert (rl_config.canvas_basefontname, CellStyle.fontname, rl_config.invariant) == settings_before


@pytest.mark.parametrize("filename", ["NotoSans-Regular.ttf", "NotoSans-Bold.ttf"])
def test_font_url_resolves_vendored_font(app, filename):
    with app.app_context():
        resolved = resolve_font_url(str(FONTS_DIRECTORY / filename), None)
    assert resolved == str((FONTS_DIRECTORY / filename).resolve())


@pytest.mark.parametrize("url", [
    "/etc/passwd",
    "file:///etc/hosts",
    "http://127.0.0.1/NotoSans-Regular.ttf",
    "file://127.0.0.1/NotoSans-Regular.ttf",
    "NotoSans-Regular.ttf",
    str(FONTS_DIRECTORY / "LICENSE-OFL.txt"),
    str(FONTS_DIRECTORY / ".." / ".." / "kiosk" / "NotoSans-Regular.ttf"),
])
def test_font_url_rejects_other(app, url):
    with app.app_context(), pytest.raises(ResourceAccessError):
        resolve_font_url(url, None)


def test_attachment_filename_keeps_accents(app):
    with app.test_request_context():
        filename = attachment_filename(make_contract("Zoé", "Lefèvre-Ngô"))
    assert filename == "Contrat_pédagogique_Lefèvre-Ngô_Zoé_2026-2027.pdf"


def test_attachment_filename_replaces_separators(app):
    with app.test_request_context():
        filename = attachment_filename(make_contract("Ana María", "de la Cruz/../x"))
    assert filename == "Contrat_pédagogique_de-la-Cruz-..-x_Ana-María_2026-2027.pdf"
    assert "/" not in filename
    assert " " not in filename


def test_attachment_filename_replaces_control_characters(app):
    with app.test_request_context():
        filename = attachment_filename(make_contract("Zoé\r\nX-Injected: 1", "Lefèvre\x00"))
    assert filename == "Contrat_pédagogique_Lefèvre_Zoé-X-Injected-1_2026-2027.pdf"


def test_body_html_shows_situations(app):
    contract = make_contract("Łucja", "Wiśniewska")
    with app.test_request_context():
        html = render_template("contract/_body.html", contract=contract)
    assert "Wiśniewska Łucja" in html
    assert "Acquis (PRC)" in table_row_containing(html, "UE000")
    assert "Dette" in table_row_containing(html, "UEDET1")
