"""Forms of the student kiosk."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def drop_control_characters(value: str | None) -> str | None:
    """Remove control characters (NUL, tab, line breaks…), which no one-line field needs.

    A student cannot type them, and PostgreSQL rejects NUL in text, which would fail the request.
    """
    return CONTROL_CHARACTERS.sub("", value) if isinstance(value, str) else value


class CleanStringField(StringField):
    """A one-line text field whose value arrives without control characters."""

    def __init__(self, *args, filters=(), **kwargs):
        super().__init__(*args, filters=(drop_control_characters, *filters), **kwargs)


class ContactForm(FlaskForm):
    """The contact details a student may correct; identity stays read-only."""

    email = CleanStringField(
        _l("Adresse électronique"),
        validators=[
            DataRequired(_l("Indiquez une adresse électronique.")),
            Email(_l("Cette adresse électronique n'est pas valide (exemple : prenom.nom@exemple.fr)."), check_deliverability=False),
            Length(max=254),
        ],
    )
    phone = CleanStringField(
        _l("Téléphone"),
        validators=[
            Optional(),
            Regexp(
                r"^\+?[0-9 .\-()]{6,20}$",
                message=_l("Ce numéro de téléphone n'est pas valide (exemple : 06 12 34 56 78 ou +33 6 12 34 56 78)."),
            ),
        ],
    )
    address_line = CleanStringField(_l("Adresse"), validators=[Optional(), Length(max=200)])
    postal_code = CleanStringField(
        _l("Code postal"),
        validators=[Optional(), Regexp(r"^[0-9A-Za-z \-]{3,10}$", message=_l("Ce code postal n'est pas valide."))],
    )
    city = CleanStringField(_l("Ville"), validators=[Optional(), Length(max=120)])
    country = CleanStringField(_l("Pays"), validators=[Optional(), Length(max=60)])


class DemoLoginForm(FlaskForm):
    student_number = CleanStringField(
        _l("Numéro étudiant"), validators=[DataRequired(_l("Indiquez un numéro étudiant.")), Length(max=20)]
    )
