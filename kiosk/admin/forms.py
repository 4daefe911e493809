"""Forms of the staff console."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class StaffLoginForm(FlaskForm):
    login = StringField(_l("Identifiant"), validators=[DataRequired(_l("Indiquez votre identifiant.")), Length(max=80)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(_l("Indiquez votre mot de passe."))])
