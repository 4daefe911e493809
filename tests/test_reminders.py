"""Relances: the preview, one mail per student and action (even across two servers), and the schedule."""

import re
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookiejar import CookieJar
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Cip, OutboxMail, ReminderAction, ReminderSent, Student, Vet
from kiosk.services import clock as clock_module
from kiosk.services.followup import make_scope
from kiosk.services.reminders import find_recipients, render_reminder

from .factories import assign_campaign, make_ia, make_ip, make_staff, make_student
from .helpers import CSRF_PATTERN, csrf_token, log_in_staff

REQUEST_TIMEOUT = 30  # seconds, for each HTTP request and for the barrier


@dataclass
class ReminderCohort:
    """E1: drafts on two VETs of the campaign; E2: complete; E3 (Zoé): not started."""

    e1: Student
    e2: Student
    e3: Student
    second_vet: Vet


def build_reminder_cohort(world, now: datetime) -> ReminderCohort:
    vet2 = Vet(code="VET2", version="1", label="Licence de test, 2e année", cip_id=world.cip.id)
    db.session.add(vet2)
    db.session.flush()
    assign_campaign(world.campaign, vet2)
    e1 = make_student("22610001", "Émile", "Nom-un")
    for vet in (world.vet, vet2):
        make_ia(e1, vet)
        make_ip(e1, vet, "draft", now - timedelta(days=1))
    e2 = make_student("22610002", "Eva", "Nom-deux")
    make_ia(e2, world.vet)
    make_ip(e2, world.vet, "complete", now - timedelta(days=1), [now - timedelta(days=1)])
    db.session.flush()
    return ReminderCohort(e1=e1, e2=e2, e3=world.student, second_vet=vet2)


@pytest.fixture
def cohort(world, clock):
    built = build_reminder_cohort(world, clock.now)
    db.session.commit()
    return built


@pytest.fixture
def staff_client(client, world, cohort):
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    return client


def preview_url(world, **args) -> str:
    query = urlencode(args)
    return f"/gestion/relances/campagnes/{world.campaign.id}" + (f"?{query}" if query else "")


def send_form(page: str) -> dict:
    """Return the hidden fields of the preview's send form."""
    form = re.search(r'<form method="post" action="/gestion/relances/campagnes/\d+".*?</form>', page, re.S).group(0)
    return dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))


def mails_to(student: Student) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count()).select_from(OutboxMail).where(OutboxMail.recipient_address == student.email)
    )


def send_from_preview(client, world, **args):
    fields = send_form(client.get(preview_url(world, **args)).get_data(as_text=True))
    return client.post(f"/gestion/relances/campagnes/{world.campaign.id}", data=fields), fields


def test_recipients_once_each(cohort, world):
    recipients = find_recipients(make_scope(world.campaign))
    assert [recipient.student.number for recipient in recipients] == [cohort.e3.number, cohort.e1.number]


def test_recipient_lists_both_vets(cohort, world):
    recipients = {recipient.student.id: recipient for recipient in find_recipients(make_scope(world.campaign))}
    assert [item.vet.code for item in recipients[cohort.e1.id].pending] == ["TESTVET", "VET2"]


def test_recipient_kinds(cohort, world):
    kinds = {recipient.student.id: recipient.kind for recipient in find_recipients(make_scope(world.campaign))}
    assert kinds == {cohort.e1.id: "unfinished", cohort.e3.id: "not_started"}


def test_preview_lists_recipients(staff_client, cohort, world):
    page = staff_client.get(preview_url(world)).get_data(as_text=True)
    table = re.search(r'<table[^>]*id="recipients".*?</table>', page, re.S).group(0)
    assert table.count(f"<td>{cohort.e1.number}</td>") == 1
    assert f"<td>{cohort.e3.number}</td>" in table
    assert cohort.e2.number not in table


def test_preview_shows_one_mail(staff_client, cohort, world):
    page = staff_client.get(preview_url(world)).get_data(as_text=True)
    subject = re.search(r'id="sample-subject">([^<]*)<', page).group(1)
    # The campaign closes at 10:00 UTC, 11:00 in Paris.
    assert subject == "Inscription pédagogique à faire avant le jeudi 24 décembre 2026 à 11:00"


def test_unfinished_mail_body(cohort, world):
    recipient = next(r for r in find_recipients(make_scope(world.campaign)) if r.student.id == cohort.e1.id)
    _subject, body = render_reminder(recipient, world.campaign, "fr")
    assert "- Licence de test, 1re année (TESTVET/1) : choix enregistrés mais pas encore validés\n" in body
    assert "- Licence de test, 2e année (VET2/1) : choix enregistrés mais pas encore validés\n" in body
    assert "se termine le jeudi 24 décembre 2026 à 11:00 (heure de Paris)" in body


def test_english_mail(cohort, world):
    recipient = next(r for r in find_recipients(make_scope(world.campaign)) if r.student.id == cohort.e3.id)
    subject, body = render_reminder(recipient, world.campaign, "en")
    assert subject == "Course registration to do before Thursday 24 December 2026 at 11:00"
    assert body.startswith("Dear Zoé Lefèvre-Ngô,")


def test_english_for_english_student(staff_client, cohort, world):
    cohort.e3.locale = "en"
    db.session.commit()
    send_from_preview(staff_client, world)
    subjects = db.session.scalars(select(OutboxMail.subject).where(OutboxMail.recipient_address == cohort.e3.email))
    assert list(subjects) == ["Course registration to do before Thursday 24 December 2026 at 11:00"]


def test_send_one_mail_each(staff_client, cohort, world):
    response, _fields = send_from_preview(staff_client, world)
    assert response.status_code == 302
    assert mails_to(cohort.e1) == 1
    assert mails_to(cohort.e3) == 1
    assert mails_to(cohort.e2) == 0


def test_same_token_sends_nothing(staff_client, cohort, world):
    _response, fields = send_from_preview(staff_client, world)
    fields["csrf_token"] = csrf_token(staff_client, preview_url(world))
    again = staff_client.post(f"/gestion/relances/campagnes/{world.campaign.id}", data=fields, follow_redirects=True)
    assert "déjà été envoyée" in again.get_data(as_text=True)
    assert mails_to(cohort.e1) == 1
    assert db.session.scalar(select(func.count()).select_from(ReminderAction)) == 1


def test_new_preview_sends_again(staff_client, cohort, world):
    send_from_preview(staff_client, world)
    send_from_preview(staff_client, world)
    assert mails_to(cohort.e1) == 2


def test_reminder_log(staff_client, cohort, world, clock):
    send_from_preview(staff_client, world)
    action = db.session.scalar(select(ReminderAction))
    assert action.author == "agnes"
    assert action.created_at == clock.now
    kinds = {sent.student_id: sent.kind for sent in action.sent}
    assert kinds == {cohort.e1.id: "unfinished", cohort.e3.id: "not_started"}


def test_reminder_audited(staff_client, cohort, world):
    send_from_preview(staff_client, world)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "send_reminders"))
    assert entry.actor == "agnes"
    assert entry.after["mail_count"] == 2


def test_reminder_on_dashboard(staff_client, cohort, world):
    send_from_preview(staff_client, world)
    page = staff_client.get(f"/gestion/suivi/campagnes/{world.campaign.id}?state=draft").get_data(as_text=True)
    assert page.count("04/12/2026 11:00 par agnes") == 2  # E1's two IAs


def test_one_student(staff_client, cohort, world):
    response, _fields = send_from_preview(staff_client, world, etudiant=cohort.e1.number)
    assert response.status_code == 302
    assert mails_to(cohort.e1) == 1
    assert mails_to(cohort.e3) == 0


def test_one_finished_student(staff_client, cohort, world):
    page = staff_client.get(preview_url(world, etudiant=cohort.e2.number)).get_data(as_text=True)
    assert "Personne à relancer" in page
    assert 'name="token"' not in page


def test_unknown_student(staff_client, cohort, world):
    assert staff_client.get(preview_url(world, etudiant="99999999")).status_code == 404


def test_vet_selection(staff_client, cohort, world):
    send_from_preview(staff_client, world, vet=cohort.second_vet.id)
    assert mails_to(cohort.e1) == 1
    assert mails_to(cohort.e3) == 0


def test_closed_campaign_rejected(staff_client, cohort, world, clock):
    fields = send_form(staff_client.get(preview_url(world)).get_data(as_text=True))
    clock.now = world.campaign.closes_at + timedelta(minutes=1)
    response = staff_client.post(f"/gestion/relances/campagnes/{world.campaign.id}", data=fields, follow_redirects=True)
    assert "La campagne L01-2026 n&#39;est pas ouverte" in response.get_data(as_text=True)
    assert mails_to(cohort.e1) == 0


def test_other_cip_not_found(client, cohort, world):
    other = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other)
    make_staff("sami", [other])
    db.session.commit()
    log_in_staff(client, "sami")
    assert client.get(preview_url(world)).status_code == 404


# Two real server processes receive the same send request at the same instant.

@dataclass
class Answer:
    status: int
    location: str | None


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_request(
    url: str, form: list[tuple[str, str]] | None = None, cookies: CookieJar | None = None,
) -> tuple[Answer, str]:
    """Send a GET, or a POST of form, without following redirects. Return the status and Location, and the body."""
    handlers = [urllib.request.ProxyHandler({}), NoRedirects()]
    if cookies is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(cookies))
    opener = urllib.request.build_opener(*handlers)
    data = urlencode(form).encode() if form is not None else None
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=REQUEST_TIMEOUT) as response:
            return Answer(response.status, response.headers.get("Location")), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers.get("Location")), error.read().decode()


def log_in_over_http(base_url: str, login: str) -> CookieJar:
    cookies = CookieJar()
    _answer, page = http_request(f"{base_url}/gestion/connexion", cookies=cookies)
    token = CSRF_PATTERN.search(page).group(1)
    form = [("csrf_token", token), ("login", login), ("password", "mot-de-passe-test")]
    answer, _page = http_request(f"{base_url}/gestion/connexion", form, cookies)
    assert answer.status == 302, answer
    return cookies


def test_double_send_on_two_servers(start_gunicorn, live_world):
    cohort = build_reminder_cohort(live_world, clock_module.utcnow())
    make_staff("agnes", [live_world.cip])
    db.session.commit()
    servers = [start_gunicorn(workers=1), start_gunicorn(workers=1)]

    cookies = log_in_over_http(servers[0].base_url, "agnes")
    _answer, page = http_request(servers[0].base_url + preview_url(live_world), cookies=cookies)
    form = list(send_form(page).items())
    path = f"/gestion/relances/campagnes/{live_world.campaign.id}"
    barrier = threading.Barrier(len(servers), timeout=REQUEST_TIMEOUT)

    def click(server) -> Answer:
        # Each thread gets its own copy of the cookies, as two tabs of one browser would send them.
        jar = CookieJar()
        for cookie in cookies:
            jar.set_cookie(cookie)
        barrier.wait()
        return http_request(server.base_url + path, form, jar)[0]

    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        answers = list(pool.map(click, servers))
    late_click = http_request(servers[1].base_url + path, form, cookies)[0]

    assert [answer.status for answer in answers] == [302, 302]
    assert answers[0].location == answers[1].location
    assert late_click.location == answers[0].location
    db.session.commit()  # end the test's read transaction, to see what the servers committed
    assert mails_to(cohort.e1) == 1
    assert mails_to(cohort.e3) == 1
    assert mails_to(cohort.e2) == 0
    assert db.session.scalar(select(func.count()).select_from(ReminderSent)) == 2


# The schedule: `flask remind`.

def run_remind(app, *args) -> str:
    result = app.test_cli_runner().invoke(args=["remind", *args])
    assert result.exit_code == 0, result.output
    return result.output


def paris_day_before_closing(world, days: int) -> datetime:
    """Return 09:00 UTC (10:00 in Paris, in winter) on the Paris date `days` days before the campaign closes."""
    closing_day = world.campaign.closes_at.date()
    return datetime.combine(closing_day - timedelta(days=days), datetime.min.time()) + timedelta(hours=9)


def test_remind_once_a_day(app, cohort, world, clock):
    clock.now = paris_day_before_closing(world, 7)
    first = run_remind(app)
    clock.now += timedelta(hours=5)
    second = run_remind(app)
    assert "2 reminder(s) queued" in first
    assert "already reminded today" in second
    assert mails_to(cohort.e1) == 1
    assert mails_to(cohort.e3) == 1


def test_remind_next_day_default(app, cohort, world, clock):
    clock.now = paris_day_before_closing(world, 7)
    run_remind(app)
    clock.now += timedelta(days=1)
    output = run_remind(app)
    assert "nothing sent" in output
    assert mails_to(cohort.e1) == 1


def test_remind_next_day_configured(app, cohort, world, clock):
    clock.now = paris_day_before_closing(world, 7)
    run_remind(app, "--days-before", "7", "--days-before", "6")
    clock.now += timedelta(days=1)
    output = run_remind(app, "--days-before", "7", "--days-before", "6")
    assert "closes in 6 day(s)): 2 reminder(s) queued" in output
    assert mails_to(cohort.e1) == 2


def test_remind_skips_other_days(app, cohort, world, clock):
    clock.now = paris_day_before_closing(world, 5)
    assert "nothing sent" in run_remind(app)
    assert mails_to(cohort.e3) == 0


def test_remind_skips_closed_web_access(app, cohort, world, clock):
    world.cip.is_web_open = False
    db.session.commit()
    clock.now = paris_day_before_closing(world, 2)
    assert "nothing sent" in run_remind(app)


def test_scheduled_reminder_on_dashboard(app, staff_client, cohort, world, clock):
    clock.now = paris_day_before_closing(world, 2)
    run_remind(app)
    page = staff_client.get(f"/gestion/suivi/campagnes/{world.campaign.id}?state=not_started").get_data(as_text=True)
    assert "22/12/2026 10:00 (automatique)" in page
