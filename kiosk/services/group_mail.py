"""Mails about groups, queued in the outbox with the change that causes them."""

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ..i18n import student_locale
from ..models import Group, Student
from .outbox import queue_mail


def queue_promotion_mail(student: Student, group: Group) -> None:
    """Tell a student on a waitlist that a seat freed up and they are now in the group."""
    collection = group.collection
    owner = collection.elp.label if collection.elp is not None else collection.vet.label
    # Another student's request frees the seat, so the mail takes the promoted student's language.
    with force_locale(student_locale(student)):
        subject = _("Une place s'est libérée : vous êtes inscrit(e) en %(group)s – %(owner)s", group=group.label, owner=owner)
        body = render_template("mail/group_promotion.txt", student=student, group=group, owner=owner)
    queue_mail(student.full_name, student.email, subject, body)
