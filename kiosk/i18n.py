"""Translation catalogs. The message ids are the French texts, so French is the source language.

The French catalog repeats each message as its own translation: it exists for the French plural
rule (0 and 1 take the singular), which Python's gettext would otherwise replace by the English
one. Other languages are translated by hand in their .po files.
"""

import logging
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

logger = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent
TRANSLATIONS = PACKAGE_ROOT / "translations"
SOURCE_LOCALE = "fr"
FRENCH_PLURAL_FORMS = "nplurals=2; plural=(n > 1);"


def set_french_plural(catalog: Catalog) -> None:
    # NOTE: Babel 2.x derives French plural forms from CLDR (three forms, "many" for millions)
    # and has no public setter, so the two-form rule gettext expects is set on its attributes.
    catalog._num_plurals, catalog._plural_expr = 2, "(n > 1)"


def student_locale(student) -> str:
    """Return the language the student chose on the kiosk, or the default language.

    Mails and documents made outside the student's own request (by staff, by the waitlist, by
    a command) render in this language with flask_babel.force_locale.
    """
    from flask import current_app

    if student.locale in current_app.config["LANGUAGES"]:
        return student.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def update_catalogs() -> None:
    """Extract the messages of kiosk/ and templates/, then merge them into every catalog."""
    from babel.messages.frontend import CommandLineInterface

    project_root = PACKAGE_ROOT.parent
    pot = TRANSLATIONS / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(project_root / "babel.cfg"), "-k", "lazy_gettext", "-k", "_l",
        "--no-location", "--sort-output", "-o", str(pot), str(project_root),
    ])
    CommandLineInterface().run(["pybabel", "-q", "update", "-i", str(pot), "-d", str(TRANSLATIONS), "--no-fuzzy-matching"])
    fill_source_catalog(TRANSLATIONS / SOURCE_LOCALE / "LC_MESSAGES" / "messages.po")


def catalog_paths() -> list[Path]:
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def fill_source_catalog(path: Path) -> None:
    """Make every French message its own translation, keeping the plural forms."""
    with path.open("rb") as source:
        catalog = read_po(source, locale=SOURCE_LOCALE)
    set_french_plural(catalog)
    for message in catalog:
        if not message.id:
            continue
        message.string = message.id if isinstance(message.id, str) else tuple(message.id)
        message.flags.discard("fuzzy")
    with path.open("wb") as target:
        write_po(target, catalog, width=100, sort_output=True, omit_header=False)


def compile_catalogs() -> int:
    """Write messages.mo beside each messages.po that is newer; return how many were written."""
    written = 0
    for po_path in catalog_paths():
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        locale = po_path.parent.parent.name
        with po_path.open("rb") as source:
            catalog: Catalog = read_po(source, locale=locale)
        if locale == SOURCE_LOCALE:
            set_french_plural(catalog)
        with mo_path.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        written += 1
        logger.info("Compiled %s", mo_path)
    return written
