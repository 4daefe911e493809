"""Staff login, roles and the CIP scope of the console."""

from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Cip, StaffUser

from .factories import make_staff
from .helpers import csrf_token, log_in_staff


def test_console_requires_login(client, world):
    response = client.get("/gestion/")
    assert response.status_code == 302
    assert "/gestion/connexion" in response.headers["Location"]


def test_wrong_password_rejected(client, world):
    make_staff("agnes", [world.cip])
    db.session.commit()
    token = csrf_token(client, "/gestion/connexion")
    response = client.post("/gestion/connexion", data={"csrf_token": token, "login": "agnes", "password": "faux"})
    assert response.status_code == 401
    assert "incorrect" in response.get_data(as_text=True)


def test_gestionnaire_sees_own_cips(client, world):
    other = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other)
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    page = client.get("/gestion/").get_data(as_text=True)
    assert "L01" in page
    assert "S02" not in page


def test_admin_sees_all_cips(client, world):
    db.session.add(Cip(code="S02", label="UFR Sciences", is_web_open=True))
    make_staff("root", is_admin=True)
    db.session.commit()
    log_in_staff(client, "root")
    page = client.get("/gestion/").get_data(as_text=True)
    assert "L01" in page
    assert "S02" in page


def test_next_parameter_stays_in_console(client, world):
    make_staff("agnes", [world.cip])
    db.session.commit()
    token = csrf_token(client, "/gestion/connexion")
    response = client.post(
        "/gestion/connexion?next=https://example.org/",
        data={"csrf_token": token, "login": "agnes", "password": "mot-de-passe-test"},
    )
    assert response.headers["Location"] == "/gestion/"


def test_create_staff_command(app, app_context, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-staff", "bruno", "--cip", "L01", "--password", "un-mot-de-passe"])
    assert result.exit_code == 0, result.output
    staff = db.session.scalar(select(StaffUser).where(StaffUser.login == "bruno"))
    assert [cip.code for cip in staff.cips] == ["L01"]
    assert staff.check_password("un-mot-de-passe")
    refused = runner.invoke(args=["create-staff", "carla", "--cip", "ZZZ", "--password", "x"])
    assert refused.exit_code != 0
    assert "not found" in refused.output
