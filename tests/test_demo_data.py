"""The demo data: it loads into an empty database and a persona can do a whole IP on it."""

from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Ia, IpVersion, StaffUser, Student, Vet

from .helpers import log_in, log_in_staff, post_form


def test_load_demo_command(app, app_context):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["load-demo"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Student)) >= 200
    assert db.session.scalar(select(func.count()).select_from(Vet)) >= 5
    again = runner.invoke(args=["load-demo", "--if-empty"])
    assert again.exit_code == 0
    assert "not loaded again" in again.output
    refused = runner.invoke(args=["load-demo"])
    assert refused.exit_code != 0


def test_persona_completes_logos_ip(app, app_context, client):
    app.test_cli_runner().invoke(args=["load-demo"])
    log_in(client, "10000007")  # the LOGOS student with an acquired linguistics UE
    ia = db.session.scalar(select(Ia).join(Student).where(Student.number == "10000007"))
    page = client.get(f"/inscriptions/{ia.id}/elements").get_data(as_text=True)
    assert "Acquis" in page
    import re

    def key_of(label):
        match = re.search(r'name="element" value="([0-9-]+)"[^>]*>\s*<label[^>]*>\s*<span class="element-label">' + re.escape(label), page)
        assert match, label
        return match.group(1)

    # Itinerary (b) with the acquired "Introduction to syntax" as the one linguistics UE.
    keys = [key_of("Logic"), key_of("Algorithms Complexity")]
    for s2 in ["Philosophy of mathematics", "Advanced theoretical syntax", "Advanced experimental syntax",
               "Incompleteness and undecidability", "Set theory"]:
        keys.append(key_of(s2))
    form = [("element", key) for key in keys] + [("base_version", "0")]
    response = post_form(client, f"/inscriptions/{ia.id}/validation", form)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    version = db.session.scalar(select(IpVersion))
    assert version.contract["total_ects"] == "60"


def test_demo_staff_accounts(app, app_context, client):
    app.test_cli_runner().invoke(args=["load-demo"])
    assert db.session.scalar(select(StaffUser).where(StaffUser.login == "scolarite")).is_admin
    log_in_staff(client, "scolarite", "demo-scolarite")
    assert client.get("/gestion/").status_code == 200
