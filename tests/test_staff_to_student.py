"""From empty tables to a registered student, through the staff console's pages and CSV files only."""

import re

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from kiosk.extensions import db
from kiosk.models import Campaign, Cip, IpVersion, Student, Vet
from kiosk.transfers.models import ImportJob

from .helpers import csrf_token, log_in, log_in_staff, post_form
from .test_imports import run_steps, upload

# The files a scolarité would export from its information system, in loading order.
FILES = [
    ("cip", "code_cip;libelle\r\nS02;UFR Sciences\r\n"),
    ("nature", "code_nature;libelle;fictive;semestre\r\nSEM;Semestre;N;O\r\nUE;Unité d'enseignement;N;N\r\n"),
    ("vet", "code_vet;version_vet;libelle;code_cip\r\nL1SCI;101;Licence sciences, 1re année;S02\r\n"),
    ("elp", "code_elp;libelle;nature;ects;suspendu\r\n"
            "SCI1S1;Semestre 1;SEM;30;N\r\nSCI1MAT;Mathématiques;UE;12;N\r\nSCI1PHY;Physique;UE;12;N\r\n"
            "SCI1CHI;Chimie;UE;6;N\r\nSCI1BIO;Biologie;UE;6;N\r\n"),
    ("lse", "code_lse;libelle;type\r\nSCI1SEM;Semestres;O\r\nSCI1TRC;Tronc commun;O\r\nSCI1CHX;Sciences au choix;X\r\n"),
    ("lse-member", "code_lse;code_elp\r\nSCI1SEM;SCI1S1\r\nSCI1TRC;SCI1MAT\r\nSCI1TRC;SCI1PHY\r\n"
                   "SCI1CHX;SCI1CHI\r\nSCI1CHX;SCI1BIO\r\n"),
    ("link", "code_lse;code_vet;version_vet;code_elp_parent;nb_min;nb_max\r\n"
             "SCI1SEM;L1SCI;101;;;\r\nSCI1TRC;;;SCI1S1;;\r\nSCI1CHX;;;SCI1S1;1;1\r\n"),
    ("students", "numero_etudiant;nom;prenom;date_naissance;email;code_vet;version_vet;annee;etat_ia;etat_paiement\r\n"
                 "22612345;Lefèvre-Ngô;Hélène;03/07/2005;helene@example.org;L1SCI;101;2026;E;P\r\n"),
]


def staff_post(client, path: str, data: list[tuple[str, str]]):
    """Submit a console form with the token of the page that shows it."""
    token = csrf_token(client, path)
    return client.post(path, data=MultiDict([("csrf_token", token)] + data))


def test_staff_prepare_then_student_registers(app, app_context, clock, client):
    created = app.test_cli_runner().invoke(args=["create-staff", "scolarite", "--admin", "--password", "mot-de-passe-test"])
    assert created.exit_code == 0, created.output
    log_in_staff(client, "scolarite")

    # 1. The structure and the students, file by file, through the import page.
    for kind, text in FILES:
        response = upload(client, kind, text.encode("cp1252"), f"{kind}.csv")
        assert response.status_code == 303, (kind, response.get_data(as_text=True)[-1500:])
        run_steps(client, response.headers["Location"])
        db.session.rollback()
        job = db.session.scalars(select(ImportJob).order_by(ImportJob.id.desc())).first()
        assert job.status == "done", (kind, job.status)
    cip = db.session.scalar(select(Cip).where(Cip.code == "S02"))
    vet = db.session.scalar(select(Vet).where(Vet.code == "L1SCI"))

    # 2. Web access on, a campaign in Paris time, initialised on the VET and assigned to its whole tree.
    switch = client.post(f"/gestion/cips/{cip.id}/acces-distance",
                         data={"csrf_token": csrf_token(client, "/gestion/cips"), "is_web_open": "1"})
    assert switch.status_code == 302
    new_campaign = staff_post(client, f"/gestion/cips/{cip.id}/campagnes/nouvelle", [
        ("code", "S02-2026"), ("label", "IP web sciences 2026"),
        ("opens_at", "2026-12-01T08:00"), ("closes_at", "2026-12-20T17:00"), ("allows_partial", "y"),
    ])
    assert new_campaign.status_code == 302, new_campaign.get_data(as_text=True)[-1500:]
    campaign = db.session.scalar(select(Campaign).where(Campaign.code == "S02-2026"))
    initialised = staff_post(client, f"/gestion/campagnes/{campaign.id}/vets", [("vets", str(vet.id))])
    assert initialised.status_code == 302
    assignment_path = f"/gestion/campagnes/{campaign.id}/vets/{vet.id}/affectation"
    page = client.get(f"{assignment_path}?tout=1").get_data(as_text=True)
    elp_ids = sorted(set(re.findall(r'name="elps"[^>]*value="(\d+)"', page)))
    assert len(elp_ids) == 5
    assigned = staff_post(client, assignment_path, [("elps", elp_id) for elp_id in elp_ids])
    assert assigned.status_code == 302

    # 3. The imported student logs in, chooses one UE and validates.
    client.post("/gestion/deconnexion", data={"csrf_token": csrf_token(client, "/gestion/")})
    log_in(client, "22612345")
    summary = client.get("/inscriptions").get_data(as_text=True)
    assert "Licence sciences, 1re année" in summary
    ia_id = re.search(r"/inscriptions/(\d+)/elements", summary).group(1)
    elements = client.get(f"/inscriptions/{ia_id}/elements").get_data(as_text=True)
    chemistry = re.search(r'name="element" value="([0-9-]+)"', elements).group(1)
    validated = post_form(client, f"/inscriptions/{ia_id}/validation", [("element", chemistry), ("base_version", "0")])
    assert validated.status_code == 302, validated.get_data(as_text=True)[-2000:]

    version = db.session.scalar(select(IpVersion))
    assert version.status == "complete"
    assert version.contract["total_ects"] == "30"
    assert version.contract["student"]["last_name"] == "Lefèvre-Ngô"
    assert db.session.scalar(select(Student.email).where(Student.number == "22612345")) == "helene@example.org"
