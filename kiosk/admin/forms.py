"""Forms of the staff console, and helpers that show a service's messages on them."""

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField, DateField, DateTimeLocalField, DecimalField, HiddenField, IntegerField, PasswordField, SearchField,
    SelectChoice, SelectField, SelectMultipleField, StringField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget


class StaffLoginForm(FlaskForm):
    login = StringField(_l("Identifiant"), validators=[DataRequired(_l("Indiquez votre identifiant.")), Length(max=80)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(_l("Indiquez votre mot de passe."))])


class WebAccessForm(FlaskForm):
    """Switch a CIP's "accès à distance" to the state the button names, so a resubmission changes nothing."""

    is_web_open = HiddenField(validators=[AnyOf(("0", "1"))])


class CampaignForm(FlaskForm):
    """A campaign's settings, with dates typed in the university's local time."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Indiquez un code.")), Length(max=10, message=_l("Le code a 10 caractères au plus."))],
        filters=[lambda value: value.strip().upper() if value else value],
    )
    label = StringField(
        _l("Libellé"),
        validators=[DataRequired(_l("Indiquez un libellé.")), Length(max=200, message=_l("Le libellé a 200 caractères au plus."))],
        filters=[lambda value: value.strip() if value else value],
    )
    opens_at = DateTimeLocalField(
        _l("Ouverture (heure de Paris)"), format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(_l("Indiquez la date et l'heure d'ouverture."))],
    )
    closes_at = DateTimeLocalField(
        _l("Fermeture (heure de Paris)"), format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(_l("Indiquez la date et l'heure de fermeture."))],
    )
    allows_partial = BooleanField(_l("Les étudiants peuvent valider partiellement et terminer plus tard"))


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes, where unknown values fail validation."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CampaignVetsForm(FlaskForm):
    vets = MultiCheckboxField(_l("Formations (VET) couvertes par la campagne"), coerce=int, validate_choice=True)


class DeleteCampaignForm(FlaskForm):
    """Confirmation of a deletion, with the number of IPs that the confirmation page listed."""

    ip_count = IntegerField(widget=HiddenInput(), validators=[InputRequired(), NumberRange(min=0)])


class CollectionModeForm(FlaskForm):
    mode = SelectField(
        _l("Affectation dans les groupes"),
        choices=[
            SelectChoice("student", _l("l'étudiant choisit en ligne")),
            SelectChoice("auto", _l("le kiosque affecte automatiquement")),
            SelectChoice("staff", _l("la scolarité affecte plus tard")),
        ],
    )
    has_waitlist = BooleanField(_l("Liste d'attente quand un groupe est complet"))


class GroupCapacityForm(FlaskForm):
    capacity = IntegerField(
        _l("Capacité maximale"),
        validators=[InputRequired(_l("Indiquez la capacité maximale.")), NumberRange(min=0, message=_l("La capacité ne peut pas être négative."))],
    )
    intermediate_capacity = IntegerField(
        _l("Capacité intermédiaire"),
        validators=[Optional(), NumberRange(min=0, message=_l("La capacité ne peut pas être négative."))],
    )


def optional_decimal(label, places=1):
    return DecimalField(label, places=places, validators=[Optional(), NumberRange(min=0, message=_l("Indiquez un nombre positif ou nul."))])


def optional_count(label):
    return IntegerField(label, validators=[Optional(), NumberRange(min=0, message=_l("Indiquez un nombre positif ou nul."))])


class ElpForm(FlaskForm):
    label = StringField(
        _l("Libellé"),
        validators=[DataRequired(_l("Indiquez un libellé.")), Length(max=200, message=_l("Le libellé a 200 caractères au plus."))],
    )
    ects = DecimalField(
        _l("Crédits ECTS"), places=1,
        validators=[InputRequired(_l("Indiquez les crédits ECTS (0 si aucun).")), NumberRange(min=0, max=999, message=_l("Indiquez un nombre entre 0 et 999."))],
    )
    is_suspended = BooleanField(_l("Suspendu (non proposé cette année)"))
    min_chosen = optional_count(_l("Minimum d'éléments choisis dessous"))
    max_chosen = optional_count(_l("Maximum d'éléments choisis dessous"))
    min_ects = optional_decimal(_l("Minimum d'ECTS dessous"))
    max_ects = optional_decimal(_l("Maximum d'ECTS dessous"))


class ListLinkForm(FlaskForm):
    min_chosen = IntegerField(
        _l("Minimum d'éléments à choisir"),
        validators=[InputRequired(_l("Indiquez un minimum (0 si aucun).")), NumberRange(min=0, message=_l("Le minimum ne peut pas être négatif."))],
    )
    max_chosen = optional_count(_l("Maximum d'éléments à choisir (vide : pas de maximum)"))
    closes_on = DateField(_l("Date de fermeture du lien (vide : jamais)"), validators=[Optional()])


class AddListMemberForm(FlaskForm):
    elp_code = StringField(
        _l("Code de l'élément à ajouter"),
        validators=[DataRequired(_l("Indiquez le code d'un élément existant.")), Length(max=8, message=_l("Un code d'ELP a 8 caractères au plus."))],
    )


class DeskSearchForm(FlaskForm):
    """The desk's search box, sent by GET: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField(
        _l("Numéro étudiant ou nom"),
        validators=[DataRequired(_l("Indiquez un numéro étudiant ou un nom.")), Length(max=120)],
    )


class AuditFilterForm(FlaskForm):
    """Filters of the audit page, sent by GET."""

    class Meta:
        csrf = False

    actor = StringField(_l("Auteur (identifiant ou numéro étudiant)"), validators=[Optional(), Length(max=120)])
    action = SelectField(_l("Action"), validators=[Optional()])
    object_type = SelectField(_l("Type d'objet"), validators=[Optional()])
    date_from = DateField(_l("Du"), validators=[Optional()])
    date_to = DateField(_l("Au"), validators=[Optional()])


class DeskSelectionForm(FlaskForm):
    """The ticked elements of a desk IP. The IP service rejects keys that its tree does not offer."""

    element = SelectMultipleField(validate_choice=False)
    base_version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class DeskGroupForm(FlaskForm):
    group = SelectField(_l("Groupe"), coerce=int, validate_choice=True)


def attach_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """Show a service's messages beside the fields they name."""
    for name, message in errors.items():
        form[name].errors = [*form[name].errors, message]


def form_status() -> int:
    """Return 422 for a form sent back with errors, 200 for a first display."""
    return 422 if request.method == "POST" else 200
