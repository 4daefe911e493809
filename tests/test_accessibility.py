"""Accessibility in headless Chromium: axe-core on every page, the keyboard-only path, phone layout.

Each page is checked with the vendored axe-core (tests/axe) for the WCAG 2.1 A and AA rules at
a phone's and a desktop's viewport. At the phone's viewport the page must also fit its width,
and every control must offer a target of at least 24 × 24 CSS pixels (WCAG 2.2 criterion
2.5.8, checked here without its spacing exception). At 320 px, the width of WCAG 1.4.10
Reflow, the page must still fit.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from kiosk.extensions import db
from kiosk.models import Group, GroupMembership, Vet, WaitlistEntry
from kiosk.services.ip import open_ip, save_selection

from .factories import complete_choice, make_collection, make_ia, make_staff
from .test_browser import element_box, end_read_transaction, log_in, open_elements, swap_after

AXE_PATH = Path(__file__).parent / "axe" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 360, "height": 740}
NARROW = {"width": 320, "height": 640}  # the width of WCAG 1.4.10 Reflow
DESKTOP = {"width": 1280, "height": 800}
MIN_TARGET_SIZE = 24  # CSS pixels
MAX_TAB_PRESSES = 80

VALIDATE_LABEL = "Valider mon inscription pédagogique"

RUN_AXE = """tags => axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})"""

# Controls whose rendered box is smaller than the minimum, with a short description of each.
FIND_SMALL_TARGETS = """minimum => {
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary";
    const small = [];
    for (const element of document.querySelectorAll(selector)) {
        const style = getComputedStyle(element);
        if (style.display === "none" || style.visibility === "hidden" || element.getClientRects().length === 0) continue;
        const box = element.getBoundingClientRect();
        if (box.width < minimum - 0.01 || box.height < minimum - 0.01) {
            const name = (element.id ? "#" + element.id : element.tagName.toLowerCase())
                + " " + JSON.stringify((element.textContent || element.value || "").trim().slice(0, 40));
            small.push(`${name} is ${box.width.toFixed(1)}×${box.height.toFixed(1)}`);
        }
    }
    return small;
}"""


@pytest.fixture
def page(app_context, live_server, browser):
    """A page with a phone's viewport that ignores any Content-Security-Policy, so axe can be injected."""
    context = browser.new_context(
        base_url=live_server, viewport=PHONE, locale="fr-FR", bypass_csp=True, accept_downloads=True,
    )
    context.set_default_timeout(5000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def unpaid_ia(world):
    """A second IA of the world's student, awaiting payment, so the web IP is refused for it."""
    vet = Vet(code="TESTV2", version="1", label="Licence de test, 2e année", cip_id=world.cip.id)
    db.session.add(vet)
    db.session.flush()
    ia = make_ia(world.student, vet, payment_state="A")
    db.session.commit()
    return ia


@pytest.fixture
def group_states(world, clock):
    """Collections in every state the group block shows, for the world's student.

    On UEOBL (student mode, waitlist): TDA1 free, TDA2 full, TDA3 full with the student waiting.
    On the semester S1 (student mode): the student sits in TPS1, and TPS2 is free.
    On the VET: an "auto" collection, and a "staff" one.
    """
    td = make_collection(world.campaign, world.elps["UEOBL"], "TDA", [("TDA1", 2, None), ("TDA2", 1, None), ("TDA3", 1, None)],
                         has_waitlist=True)
    tp = make_collection(world.campaign, world.elps["S1"], "TPS", [("TPS1", 10, None), ("TPS2", 10, None)], label="TP")
    make_collection(world.campaign, world.vet, "AUTO", [("AUTO1", 30, None)], mode="auto", label="Amphi")
    make_collection(world.campaign, world.vet, "SCOL", [("SCOL1", 30, None)], mode="staff", label="Tutorat")
    groups = {group.code: group for collection in (td, tp) for group in collection.groups}
    groups["TDA2"].seats_taken = 1
    groups["TDA3"].seats_taken = 1
    groups["TPS1"].seats_taken = 1
    db.session.add(WaitlistEntry(group_id=groups["TDA3"].id, student_id=world.student.id, created_at=clock.now))
    db.session.add(GroupMembership(collection_id=tp.id, group_id=groups["TPS1"].id, student_id=world.student.id,
                                   assigned_by="student", created_at=clock.now))
    db.session.commit()
    return groups


@pytest.fixture
def complete_draft(world, clock):
    """Save a draft that meets every rule, so that the page validates at once."""
    context = open_ip(world.ia, clock.now)
    save_selection(context, complete_choice(world), clock.now)
    db.session.commit()


def axe_violations(page: Page) -> list[str]:
    """Run axe-core on the page and describe each violation with the first nodes it concerns."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_PATH))
    results = page.evaluate(RUN_AXE, WCAG_TAGS)
    described = []
    for violation in results["violations"]:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:4])
        described.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return described


def check_page(page: Page, name: str) -> None:
    """Run axe at both viewports, check width and target sizes at the phone's, then the width at 320 px."""
    page.set_viewport_size(DESKTOP)
    desktop_violations = axe_violations(page)
    page.set_viewport_size(PHONE)
    phone_violations = axe_violations(page)
    assert desktop_violations == [], f"{name} at {DESKTOP['width']} px: {desktop_violations}"
    assert phone_violations == [], f"{name} at {PHONE['width']} px: {phone_violations}"
    check_phone_layout(page, name)
    page.set_viewport_size(NARROW)
    narrow_width = page.evaluate("document.scrollingElement.scrollWidth")
    page.set_viewport_size(PHONE)
    assert narrow_width <= NARROW["width"], f"{name} scrolls horizontally at {NARROW['width']} px: {narrow_width} px wide"


def check_phone_layout(page: Page, name: str) -> None:
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    small_targets = page.evaluate(FIND_SMALL_TARGETS, MIN_TARGET_SIZE)
    assert scroll_width <= PHONE["width"], f"{name} scrolls horizontally: {scroll_width} px wide"
    assert small_targets == [], f"{name} has targets under {MIN_TARGET_SIZE} px: {small_targets}"


def test_login_page(world, page):
    page.goto("/connexion")
    check_page(page, "demo login")


def test_login_error(world, page):
    page.goto("/connexion")
    page.get_by_label("Numéro étudiant").fill("00000000")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#student_number-error")).to_be_visible()
    check_page(page, "demo login with an error")


def test_profile_page(world, page):
    log_in(page, world.student.number)
    check_page(page, "profile")


def test_profile_errors(world, page):
    log_in(page, world.student.number)
    page.get_by_label("Adresse électronique").fill("pas-une-adresse")
    page.get_by_label("Téléphone").fill("12")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.locator("#email-error")).to_be_visible()
    check_page(page, "profile with errors")


def test_registrations_page(world, unpaid_ia, page):
    log_in(page, world.student.number)
    page.goto("/inscriptions")
    expect(page.locator(".reasons")).to_contain_text("en attente de paiement")
    check_page(page, "registrations, one eligible IA and one refused")


def test_closed_page(world, unpaid_ia, page):
    log_in(page, world.student.number)
    page.goto(f"/inscriptions/{unpaid_ia.id}/elements")
    check_page(page, "IP closed")


def test_not_found_page(world, page):
    page.goto("/page-inconnue")
    check_page(page, "404")


def test_elements_page(world, page):
    log_in(page, world.student.number)
    open_elements(page)
    check_page(page, "elements")


def test_elements_after_change(world, page):
    log_in(page, world.student.number)
    open_elements(page)
    for elp_code in ("UEA", "UEB", "UEC"):
        swap_after(page, element_box(page, world, "CHOIX2", elp_code, "S1").click)
    expect(page.locator(".counter-error")).to_have_count(1)
    check_page(page, "elements after an htmx change, one list over its maximum")


def test_elements_rejected(world, page):
    log_in(page, world.student.number)
    open_elements(page)
    swap_after(page, element_box(page, world, "CHOIX2", "UEB", "S1").click)
    page.get_by_role("button", name=VALIDATE_LABEL).click()
    expect(page.locator("#problems")).to_be_visible()
    check_page(page, "elements answered 422 with errors")


def test_group_states(world, group_states, page):
    log_in(page, world.student.number)
    open_elements(page)
    expect(page.locator("#ip-groups .badge")).to_have_count(2)
    check_page(page, "group block in every state")


def test_group_full_message(world, group_states, page):
    log_in(page, world.student.number)
    open_elements(page)
    choose = page.locator(f"#choose-{group_states['TDA1'].id}")
    db.session.execute(update(Group).where(Group.id == group_states["TDA1"].id).values(seats_taken=2))
    db.session.commit()
    swap_after(page, choose.click)
    expect(page.locator(".group-message")).to_contain_text("Groupe complet")
    check_page(page, "group block with the full-group message")


def test_group_chosen_message(world, group_states, page):
    log_in(page, world.student.number)
    open_elements(page)
    swap_after(page, page.locator(f"#choose-{group_states['TDA1'].id}").click)
    expect(page.locator(".group-message")).to_contain_text("Vous êtes inscrit(e)")
    check_page(page, "group block after a choice")


def test_confirmation_and_contract(world, complete_draft, page):
    log_in(page, world.student.number)
    open_elements(page)
    page.get_by_role("button", name=VALIDATE_LABEL).click()
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1/confirmation$"))
    page.wait_for_load_state("load")
    check_page(page, "confirmation")

    page.get_by_role("link", name="Voir mon contrat").click()
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1$"))
    page.wait_for_load_state("load")
    check_page(page, "contract")

    # A second validation adds the links between versions.
    page.goto(f"/inscriptions/{world.ia.id}/elements")
    page.get_by_role("button", name=VALIDATE_LABEL).click()
    page.get_by_role("link", name="Voir mon contrat").click()
    expect(page.get_by_role("link", name="version 1")).to_be_visible()
    check_page(page, "contract with two versions")


def test_personal_data_page(world, page):
    log_in(page, world.student.number)
    page.get_by_role("link", name=re.compile("Vos données personnelles")).click()
    expect(page).to_have_url(re.compile(r"/dossier/donnees-personnelles$"))
    page.wait_for_load_state("load")
    check_page(page, "personal data")


def test_english_pages(world, group_states, page):
    log_in(page, world.student.number)
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_page(page, "profile in English")

    page.goto(f"/inscriptions/{world.ia.id}/elements")
    check_page(page, "elements and groups in English")


def test_staff_pages(world, page):
    make_staff("gestionnaire", [world.cip])
    db.session.commit()
    page.goto("/gestion/connexion")
    check_page(page, "staff login")

    page.get_by_label("Identifiant").fill("gestionnaire")
    page.get_by_label("Mot de passe").fill("mot-de-passe-test")
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/gestion/$"))
    page.wait_for_load_state("load")
    check_page(page, "staff home")


def focused_description(page: Page) -> str:
    return page.evaluate(
        """() => {
            const element = document.activeElement;
            if (!element || element === document.body) return "nothing";
            return element.outerHTML.slice(0, 120);
        }"""
    )


def tab_to(page: Page, selector: str, key: str = "Tab") -> None:
    """Press Tab (or Shift+Tab) until the focused element matches the selector."""
    for _press in range(MAX_TAB_PRESSES):
        page.keyboard.press(key)
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"{key} never reached {selector}; focus is on {focused_description(page)}")


def press_and_swap(page: Page, key: str) -> None:
    """Press a key on the focused control and wait for htmx to settle the swap it causes."""
    swap_after(page, lambda: page.keyboard.press(key))


def test_keyboard_path(world, page):
    make_collection(world.campaign, world.elps["UEOBL"], "TDK", [("TDK1", 20, None), ("TDK2", 20, None)])
    db.session.commit()
    boxes = [
        ("CHOIX2", "UEA", "S1"), ("SUBA", "ECA1", "UEA"), ("CHOIX2", "UEB", "S1"),
        ("AUMOINS2", "UEF", "S1"), ("AUMOINS2", "UEG", "S1"), ("BLOCX", "UEL", "BLOC1"),
    ]

    # Login: Tab to the number field, type it, Enter.
    page.goto("/connexion")
    tab_to(page, "#student_number")
    page.keyboard.type(world.student.number)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dossier$"))
    page.wait_for_load_state("load")
    check_phone_layout(page, "profile")

    # Profile: the submit button comes after the six fields.
    tab_to(page, "form.stack button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/inscriptions$"))
    page.wait_for_load_state("load")
    check_phone_layout(page, "registrations")

    tab_to(page, f"a[href$='/inscriptions/{world.ia.id}/elements']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/elements$"))
    page.wait_for_load_state("load")

    # Tick the elements with Space; htmx keeps focus on the box, so Tab goes on from there.
    for list_code, elp_code, parent_code in boxes:
        tab_to(page, f"#e-{world.key(list_code, elp_code, parent_code)}")
        press_and_swap(page, "Space")
        expect(element_box(page, world, list_code, elp_code, parent_code)).to_be_checked()
    # Shift+Tab goes back to the box ticked before the last one.
    tab_to(page, f"#e-{world.key('AUMOINS2', 'UEG', 'S1')}", key="Shift+Tab")
    check_phone_layout(page, "elements")

    # Choose a group with Enter: the button goes, and focus moves to the heading above the message.
    tab_to(page, "#ip-groups button")
    press_and_swap(page, "Enter")
    expect(page.locator(".group-message")).to_contain_text("Vous êtes inscrit(e) dans le groupe TDK1")
    assert page.evaluate("document.activeElement.id") == "groups-heading"

    tab_to(page, "button[formaction$='/validation']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1/confirmation$"))
    page.wait_for_load_state("load")
    check_phone_layout(page, "confirmation")

    tab_to(page, "a[href$='/v1']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1$"))
    page.wait_for_load_state("load")
    expect(page.locator(".contract-groups")).to_contain_text("TDK1")
    check_phone_layout(page, "contract")

    end_read_transaction()
