"""Who may do the web IP: IA states, blocks, web access, and the campaign window in Paris time."""

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Block, BlockCode, Ip, IpVersion
from kiosk.services import clock as clock_module
from kiosk.services.eligibility import check_eligibility

from .factories import complete_choice
from .helpers import elements_form, log_in, post_form


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def set_closing(world, local_closing: datetime) -> None:
    world.campaign.closes_at = clock_module.local_to_utc(local_closing)
    world.campaign.opens_at = world.campaign.closes_at - timedelta(days=20)
    db.session.commit()


@pytest.mark.parametrize(
    ("local_closing", "submitted_at", "accepted"),
    [
        (datetime(2026, 9, 15, 17, 0), datetime(2026, 9, 15, 14, 59), True),  # CEST: 17:00 is 15:00 UTC
        (datetime(2026, 9, 15, 17, 0), datetime(2026, 9, 15, 15, 1), False),
        (datetime(2026, 11, 3, 17, 0), datetime(2026, 11, 3, 15, 59), True),  # CET: 17:00 is 16:00 UTC
        (datetime(2026, 11, 3, 17, 0), datetime(2026, 11, 3, 16, 1), False),
    ],
)
def test_campaign_closing_paris_time(client, world, clock, local_closing, submitted_at, accepted):
    set_closing(world, local_closing)
    clock.now = submitted_at - timedelta(hours=1)
    log_in(client, world.student.number)
    assert client.get(f"/inscriptions/{world.ia.id}/elements").status_code == 200
    clock.now = submitted_at
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert response.status_code == (302 if accepted else 403)
    assert count(IpVersion) == (1 if accepted else 0)


def test_closed_campaign_message(client, world, clock):
    set_closing(world, datetime(2026, 11, 3, 17, 0))
    clock.now = datetime(2026, 11, 3, 16, 1)
    log_in(client, world.student.number)
    page = client.get("/inscriptions").get_data(as_text=True)
    assert "close depuis le 3 novembre 2026 à 17:00" in page


def test_awaiting_payment_refused(client, world):
    world.ia.payment_state = "A"
    db.session.commit()
    log_in(client, world.student.number)
    page = client.get("/inscriptions").get_data(as_text=True)
    assert "en attente de paiement" in page
    assert client.get(f"/inscriptions/{world.ia.id}/elements").status_code == 403
    forged = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert forged.status_code == 403
    assert count(Ip) == 0

    world.ia.payment_state = "P"
    db.session.commit()
    allowed = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert allowed.status_code == 302
    assert count(IpVersion) == 1


def test_every_reason_listed(world, clock):
    world.ia.state = "A"
    world.ia.payment_state = "A"
    world.cip.is_web_open = False
    db.session.add(BlockCode(code="BIP", label="Interdiction d'inscription", forbids_registration=True))
    db.session.add(Block(student_id=world.student.id, code="BIP", starts_on=date(2026, 9, 1), ends_on=None))
    db.session.flush()
    eligibility = check_eligibility(world.ia, clock.now)
    text = " ".join(eligibility.reasons)
    assert "annulée" in text
    assert "attente de paiement" in text
    assert "Interdiction d'inscription" in text
    assert "n'est pas ouverte" in text
    assert not eligibility.is_eligible


def test_non_forbidding_block_ignored(world, clock):
    db.session.add(BlockCode(code="BIB", label="Prêt de bibliothèque", forbids_registration=False))
    db.session.add(Block(student_id=world.student.id, code="BIB", starts_on=date(2026, 9, 1), ends_on=None))
    db.session.add(BlockCode(code="BIP", label="Interdiction d'inscription", forbids_registration=True))
    db.session.add(Block(student_id=world.student.id, code="BIP", starts_on=date(2026, 9, 1), ends_on=date(2026, 11, 30)))
    db.session.flush()
    assert check_eligibility(world.ia, clock.now).is_eligible


def test_campaign_not_yet_open(world, clock):
    world.campaign.opens_at = clock.now + timedelta(days=2)
    world.campaign.closes_at = clock.now + timedelta(days=20)
    db.session.flush()
    eligibility = check_eligibility(world.ia, clock.now)
    assert not eligibility.is_eligible
    assert any("ouvrira le" in reason for reason in eligibility.reasons)
