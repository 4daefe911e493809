"""The contrat pédagogique as a page, as a PDF and as a mail, rendered from a frozen version."""

import io
import logging
import re

from flask import render_template
from flask_babel import gettext as _
from xhtml2pdf import pisa

from ..models import IpVersion, OutboxMail, Student
from .outbox import queue_mail

logger = logging.getLogger(__name__)

UNSAFE_FILENAME_CHARACTERS = re.compile(r'[\\/:*?"<>|\s]+')


def attachment_filename(contract: dict) -> str:
    """Name the PDF after the student and the year: Contrat_pédagogique_Nom_Prénom_2026-2027.pdf."""
    student = contract["student"]
    parts = [_("Contrat_pédagogique"), student["last_name"], student["first_name"], contract["year"]]
    return "_".join(UNSAFE_FILENAME_CHARACTERS.sub("-", part.strip()) for part in parts) + ".pdf"


def render_contract_pdf(contract: dict) -> bytes:
    html = render_template("contract/pdf.html", contract=contract)
    output = io.BytesIO()
    result = pisa.CreatePDF(html, dest=output, encoding="utf-8")
    if result.err:
        raise RuntimeError(f"xhtml2pdf failed to render the contract of IP {contract['ip_id']}")
    return output.getvalue()


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
