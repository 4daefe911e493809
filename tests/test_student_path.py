"""The student path through the test client: login, data check, summary, choice, validation."""

import html

from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Ip, IpSelection, IpVersion, OutboxMail

from .factories import complete_choice
from .helpers import csrf_token, elements_form, log_in, post_form


def test_login_then_profile(client, world):
    log_in(client, world.student.number)
    page = client.get("/dossier")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Lefèvre-Ngô" in text
    assert page.headers["Cache-Control"] == "no-store"


def test_profile_rejects_bad_email(client, world):
    log_in(client, world.student.number)
    token = csrf_token(client, "/dossier")
    response = client.post("/dossier", data={"csrf_token": token, "email": "pas-une-adresse", "phone": "06 11 22 33 44"})
    assert response.status_code == 422
    assert "adresse électronique n'est pas valide" in html.unescape(response.get_data(as_text=True))
    db.session.refresh(world.student)
    assert world.student.email == "zoe.lefevre-ngo@example.org"


def test_profile_saves_contact(client, world):
    log_in(client, world.student.number)
    token = csrf_token(client, "/dossier")
    response = client.post("/dossier", data={
        "csrf_token": token, "email": "zoe@example.org", "phone": "+33 6 11 22 33 44",
        "address_line": "3 place d'Italie", "postal_code": "75013", "city": "Paris", "country": "France",
    })
    assert response.status_code == 302
    db.session.refresh(world.student)
    assert world.student.email == "zoe@example.org"
    assert world.student.address_line == "3 place d'Italie"


def test_complete_validation_creates_version(client, world):
    log_in(client, world.student.number)
    assert client.get(f"/inscriptions/{world.ia.id}/elements").status_code == 200
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert response.status_code == 302, response.get_data(as_text=True)
    ip = db.session.scalar(select(Ip))
    assert ip.status == "complete"
    assert ip.version_count == 1
    assert db.session.scalar(select(func.count()).select_from(IpVersion)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 1


def test_incomplete_validation_keeps_draft(client, world):
    log_in(client, world.student.number)
    chosen = {world.key("CHOIX2", "UEA", "S1")}
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(chosen))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'id="error-' in text
    assert "choisissez encore 1 élément" in text
    ip = db.session.scalar(select(Ip))
    assert ip.status == "draft"
    assert ip.version_count == 0
    assert db.session.scalar(select(func.count()).select_from(IpSelection)) == 1


def test_htmx_save_returns_fragment(client, world):
    log_in(client, world.student.number)
    client.get(f"/inscriptions/{world.ia.id}/elements")
    chosen = {world.key("CHOIX2", "UEA", "S1")}
    response = post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(chosen), htmx=True)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="ip-tree"')
    assert "1 sur 2 choisi" in text


def test_repeated_validation_creates_one_version(client, world):
    log_in(client, world.student.number)
    form = elements_form(complete_choice(world)) + [("base_version", "0")]
    first = post_form(client, f"/inscriptions/{world.ia.id}/validation", form)
    second = post_form(client, f"/inscriptions/{world.ia.id}/validation", form)
    assert first.status_code == 302
    assert second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(IpVersion)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 1
    confirmation = client.get(second.headers["Location"])
    assert "avait déjà été validée" in confirmation.get_data(as_text=True)


def test_new_validation_after_change(client, world):
    log_in(client, world.student.number)
    first = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)) + [("base_version", "0")])
    changed = complete_choice(world) | {world.key("OPT01", "UED", "S1")}
    second = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(changed) + [("base_version", "1")])
    assert first.status_code == 302
    assert second.status_code == 302
    ip = db.session.scalar(select(Ip))
    assert ip.version_count == 2
    assert [v.number for v in ip.versions] == [1, 2]


def test_viewing_elements_writes_nothing(client, world):
    log_in(client, world.student.number)
    assert client.get(f"/inscriptions/{world.ia.id}/elements").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Ip)) == 0


def test_withdrawn_element_reported(client, world):
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    world.elps["UEB"].is_suspended = True
    db.session.commit()
    page = client.get(f"/inscriptions/{world.ia.id}/elements")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert "n'est plus proposé" in text
    assert "UE B" in text
    assert "1 sur 2 choisi" in text


def test_contract_pdf_rendered_once(client, world, monkeypatch):
    from kiosk.services import contract as contract_service

    renders = []
    real_render = contract_service.render_contract_pdf
    monkeypatch.setattr(contract_service, "render_contract_pdf", lambda data: renders.append(1) or real_render(data))
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)) + [("base_version", "0")])
    ip = db.session.scalar(select(Ip))
    first = client.get(f"/contrats/{ip.id}/v1.pdf")
    second = client.get(f"/contrats/{ip.id}/v1.pdf")
    assert first.data.startswith(b"%PDF")
    assert second.data == first.data
    assert len(renders) == 1  # rendered for the mail at validation, then served from storage
