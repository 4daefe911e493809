"""One student's path served alternately by two app processes that share the database.

Sessions are signed cookies, so any process started with the same SECRET_KEY reads them: the
two gunicorn servers here get the same key, and the student keeps one cookie jar for both, as a
browser behind a load balancer does.
"""

import re
from http.cookiejar import CookieJar

from pypdf import PdfReader
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import GroupMembership, Ip, IpVersion, Student

from .factories import complete_choice, make_collection
from .helpers import StudentSession, elements_form

CONFIRMATION_PATH = re.compile(r"/contrats/(\d+)/v(\d+)/confirmation$")


def test_path_across_two_hosts(live_world, start_gunicorn, tmp_path):
    collection = make_collection(live_world.campaign, live_world.elps["UEA"], "TDA", [("TD1", 20, None), ("TD2", 20, None)])
    collection_id, td2_id = collection.id, collection.groups[1].id
    student_number, ia_id = live_world.student.number, live_world.ia.id
    db.session.commit()
    cookies = CookieJar()
    host_a = StudentSession(start_gunicorn().base_url, cookies)
    host_b = StudentSession(start_gunicorn().base_url, cookies)
    form = elements_form(complete_choice(live_world))

    host_a.log_in(student_number)
    host_b.fetch_csrf_token("/dossier")
    profile = host_b.post("/dossier", [("email", "zoe.nouvelle@example.org"), ("phone", "07 11 22 33 44")])
    draft = host_a.post(f"/inscriptions/{ia_id}/selection", form, htmx=True)
    group = host_b.post(f"/inscriptions/{ia_id}/groupes/{collection_id}", [("group", str(td2_id))], htmx=True)
    validation = host_a.post(f"/inscriptions/{ia_id}/validation", form + [("base_version", "0")])
    contract_path = validation.location.removesuffix("/confirmation")
    contract = host_b.request(contract_path)
    pdf = host_b.request(contract_path + ".pdf")

    assert profile.status == 302
    assert draft.status == 200
    assert group.status == 200
    assert "Vous êtes inscrit(e) dans le groupe TD2" in group.text
    assert validation.status == 302
    assert CONFIRMATION_PATH.search(validation.location)
    assert contract.status == 200
    assert "TD2" in contract.text
    assert pdf.status == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    (tmp_path / "contract.pdf").write_bytes(pdf.body)
    assert student_number in PdfReader(tmp_path / "contract.pdf").pages[0].extract_text()

    db.session.commit()  # end the test's read transaction, to see what the servers committed
    student = db.session.scalar(select(Student).where(Student.number == student_number))
    assert student.email == "zoe.nouvelle@example.org"
    assert student.phone == "07 11 22 33 44"
    ip = db.session.scalar(select(Ip).where(Ip.student_id == student.id))
    assert ip.status == "complete"
    assert {f"{s.parent_elp_id or 0}-{s.lse_id}-{s.elp_id}" for s in ip.selections} == complete_choice(live_world)
    assert [version.number for version in db.session.scalars(select(IpVersion))] == [1]
    membership = db.session.scalar(select(GroupMembership).where(GroupMembership.student_id == student.id))
    assert membership.group_id == td2_id
