"""Forms of the student kiosk."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp


class ContactForm(FlaskForm):
    """The contact details a student may correct; identity stays read-only."""

    email = StringField(
        _l("Adresse électronique"),
        validators=[
            DataRequired(_l("Indiquez une adresse électronique.")),
            Email(_l("Cette adresse électronique n'est pas valide (exemple : prenom.nom@exemple.fr)."), check_deliverability=False),
            Length(max=254),
        ],
    )
    phone = StringField(
        _l("Téléphone"),
        validators=[
            Optional(),
            Regexp(
                r"^\+?[0-9 .\-()]{6,20}$",
                message=_l("Ce numéro de téléphone n'est pas valide (exemple : 06 12 34 56 78 ou +33 6 12 34 56 78)."),
            ),
        ],
    )
    address_line = StringField(_l("Adresse"), validators=[Optional(), Length(max=200)])
    postal_code = StringField(
        _l("Code postal"),
        validators=[Optional(), Regexp(r"^[0-9A-Za-z \-]{3,10}$", message=_l("Ce code postal n'est pas valide."))],
    )
    city = StringField(_l("Ville"), validators=[Optional(), Length(max=120)])
    country = StringField(_l("Pays"), validators=[Optional(), Length(max=60)])


class DemoLoginForm(FlaskForm):
    student_number = StringField(
        _l("Numéro étudiant"), validators=[DataRequired(_l("Indiquez un numéro étudiant.")), Length(max=20)]
    )
