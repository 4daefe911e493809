"""The student path in headless Chromium: clicks and keys on the real pages, htmx swaps included.

Each test logs in through the demo login page and drives the kiosk served by `live_server`. The
database is read back through the test's app context.
"""

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Ip

from .factories import World, make_cohort, make_collection

VALIDATE_LABEL = "Valider mon inscription pédagogique"

# A global set before ticking. It survives only if the page was not reloaded.
SAME_PAGE_MARKER = "window.kioskSamePageMarker"


def element_box(page: Page, world: World, list_code: str, elp_code: str, parent_code: str):
    return page.locator(f"#e-{world.key(list_code, elp_code, parent_code)}")


def list_key(world: World, list_code: str, parent_code: str) -> str:
    """Return the key of a list as the tree's ids use it: parent ELP id, then LSE id."""
    return f"{world.elps[parent_code].id}-{world.lists[list_code].id}"


def log_in(page: Page, student_number: str) -> None:
    """Type the student number on the demo login page and press Enter."""
    page.goto("/connexion")
    number_field = page.get_by_label("Numéro étudiant")
    number_field.fill(student_number)
    number_field.press("Enter")
    expect(page).to_have_url(re.compile(r"/dossier$"))
    page.wait_for_load_state("load")  # htmx and kiosk.js are deferred scripts


def open_elements(page: Page) -> None:
    """Go from the profile to the element tree of the only IA, through the summary page."""
    page.goto("/inscriptions")
    page.get_by_role("link", name="Choisir mes enseignements").click()
    expect(page).to_have_url(re.compile(r"/inscriptions/\d+/elements$"))
    page.wait_for_load_state("load")  # htmx must be running before the first tick


def swap_after(page: Page, action) -> None:
    """Run an action that changes a checkbox, then wait until htmx has swapped and settled the tree."""
    page.evaluate(
        """() => {
            window.kioskSettled = false;
            document.body.addEventListener("htmx:afterSettle", () => { window.kioskSettled = true; }, {once: true});
        }"""
    )
    action()
    page.wait_for_function("() => window.kioskSettled === true")


def end_read_transaction() -> None:
    """Roll back the test's session so that its next query reads what the server committed.

    On SQLite a read transaction keeps the snapshot it started with.
    """
    db.session.rollback()


def toggle(page: Page, box) -> None:
    """Click a checkbox, wait for the swap, and check that focus stayed on it (htmx keeps it by id)."""
    box_id = box.get_attribute("id")
    swap_after(page, box.click)
    focused_id = page.evaluate("document.activeElement && document.activeElement.id")
    assert focused_id == box_id, f"focus moved to {focused_id!r} after ticking {box_id}"


def test_path_login_to_contract(world, browser_page, clock):
    from kiosk.services.groups import place_student

    page = browser_page
    # UE A has two TD groups: TD1 already full, TD2 with 15 seats.
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 1, None), ("TD2", 15, None)])
    place_student(make_cohort(world, 1)[0], collection.groups[0], "student", clock.now)
    db.session.commit()
    s1_key = world.key("ROOT", "S1")
    choice_key = list_key(world, "CHOIX2", "S1")
    counter = page.locator(f"#counter-{choice_key}")
    semester_total = page.locator(f"#ects-{s1_key}")

    # Demo login by typing the number, then correct the phone number on the profile.
    log_in(page, world.student.number)
    page.get_by_label("Téléphone").fill("07 98 76 54 32")
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page).to_have_url(re.compile(r"/inscriptions$"))
    page.wait_for_load_state("load")
    expect(page.get_by_text("Vos coordonnées ont été enregistrées.")).to_be_visible()

    # The summary shows the VET with no IP yet.
    expect(page.get_by_role("heading", name="Licence de test, 1re année")).to_be_visible()
    expect(page.locator(".status-none")).to_have_text("non commencée")
    page.get_by_role("link", name="Choisir mes enseignements").click()
    expect(page).to_have_url(re.compile(rf"/inscriptions/{world.ia.id}/elements$"))
    page.wait_for_load_state("load")
    # French puts 0 in the singular, which the counter does not do yet, so both forms pass.
    expect(counter).to_have_text(re.compile(r"^0 sur 2 choisis?$"))
    expect(semester_total).to_contain_text("6 ECTS")

    # Ticking UEA updates counter and ECTS and reveals its sub-list, all without a page load.
    page.evaluate(f"{SAME_PAGE_MARKER} = 'set before ticking'")
    sub_list = page.locator(f"#lse-{list_key(world, 'SUBA', 'UEA')}")
    expect(sub_list).to_have_count(0)
    toggle(page, element_box(page, world, "CHOIX2", "UEA", "S1"))
    expect(counter).to_have_text("1 sur 2 choisi")
    expect(sub_list).to_be_visible()
    expect(sub_list.get_by_text("ECUE A1")).to_be_visible()
    expect(sub_list.get_by_text("ECUE A2")).to_be_visible()
    expect(semester_total).to_contain_text("12 ECTS")
    assert page.evaluate(SAME_PAGE_MARKER) == "set before ticking"

    toggle(page, element_box(page, world, "CHOIX2", "UEB", "S1"))
    expect(counter).to_have_text("2 sur 2 choisis")
    expect(semester_total).to_contain_text("18 ECTS")

    # A third element in "choose 2" shows the over-maximum message beside that list at once.
    choice_error = page.locator(f"#lse-{choice_key} #error-{choice_key}")
    uec = element_box(page, world, "CHOIX2", "UEC", "S1")
    toggle(page, uec)
    expect(counter).to_have_text("3 sur 2 choisis")
    expect(counter).to_have_class(re.compile(r"\bcounter-error\b"))
    expect(choice_error).to_be_visible()
    expect(choice_error).to_contain_text("décochez 1 élément")

    # Focus stayed on UEC, so the space bar unticks it.
    swap_after(page, lambda: page.keyboard.press("Space"))
    expect(uec).not_to_be_checked()
    expect(counter).to_have_text("2 sur 2 choisis")
    expect(choice_error).to_have_count(0)

    # Complete the other lists.
    for list_code, elp_code, parent_code in [
        ("SUBA", "ECA1", "UEA"), ("AUMOINS2", "UEF", "S1"), ("AUMOINS2", "UEG", "S1"), ("BLOCX", "UEL", "BLOC1"),
    ]:
        toggle(page, element_box(page, world, list_code, elp_code, parent_code))
    expect(page.locator("#total-ects")).to_have_text("Total : 27 ECTS")
    assert page.evaluate(SAME_PAGE_MARKER) == "set before ticking"

    # The groups of UE A appeared with the tree's swap: TD1 is full, TD2 takes the student.
    groups = page.locator("#ip-groups")
    expect(groups.locator(f"#seats-{collection.groups[0].id}")).to_have_text("complet")
    expect(groups.locator(f"#seats-{collection.groups[1].id}")).to_have_text("15 places restantes")
    swap_after(page, groups.get_by_role("button", name="Choisir TD2").click)
    expect(groups.get_by_role("status")).to_have_text("Vous êtes inscrit(e) dans le groupe TD2.")
    expect(groups.locator(f"#seats-{collection.groups[1].id}")).to_have_text("14 places restantes")

    # Validate: confirmation of version 1, then the contract page.
    page.get_by_role("button", name=VALIDATE_LABEL).click()
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1/confirmation$"))
    page.wait_for_load_state("load")
    expect(page.get_by_role("status")).to_contain_text("Contrat pédagogique version 1")
    page.get_by_role("link", name="Voir mon contrat").click()
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1$"))
    page.wait_for_load_state("load")
    expect(page.locator(".contract-identity")).to_contain_text("Lefèvre-Ngô Zoé")
    contract_rows = page.locator(".contract-elements tbody")
    for label in ["UE obligatoire", "UE A", "ECUE A1", "UE B", "UE F", "UE G", "UE L"]:
        expect(contract_rows.get_by_role("cell", name=label, exact=True)).to_be_visible()
    expect(contract_rows.get_by_role("cell", name="UE C", exact=True)).to_have_count(0)
    expect(page.locator(".contract-groups")).to_contain_text("TD2")

    # The PDF link downloads a PDF.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le PDF").click()
    with open(download_info.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    end_read_transaction()
    assert world.student.phone == "07 98 76 54 32"


def test_validation_incomplete_keeps_draft(world, browser_page):
    page = browser_page
    choice_key = list_key(world, "CHOIX2", "S1")
    ueb = element_box(page, world, "CHOIX2", "UEB", "S1")

    log_in(page, world.student.number)
    open_elements(page)
    toggle(page, ueb)
    with page.expect_response(re.compile(r"/validation$")) as response_info:
        page.get_by_role("button", name=VALIDATE_LABEL).click()
    assert response_info.value.status == 422

    # The message sits inside the list's fieldset, and the ticked element is still ticked.
    choice_error = page.locator(f"#lse-{choice_key} #error-{choice_key}")
    expect(choice_error).to_be_visible()
    expect(choice_error).to_contain_text("choisissez encore 1 élément")
    expect(page.locator(f"#lse-{choice_key}")).to_have_class(re.compile(r"\bhas-error\b"))
    expect(ueb).to_be_checked()

    end_read_transaction()
    ip = db.session.scalar(select(Ip).where(Ip.student_id == world.student.id))
    assert ip.status == "draft"
    assert ip.version_count == 0


def test_draft_kept_after_logout(world, browser_page):
    page = browser_page
    chosen = [
        element_box(page, world, "CHOIX2", "UEB", "S1"),
        element_box(page, world, "AUMOINS2", "UEF", "S1"),
    ]

    log_in(page, world.student.number)
    open_elements(page)
    for box in chosen:
        toggle(page, box)

    # A reload shows the saved draft.
    page.reload()
    for box in chosen:
        expect(box).to_be_checked()

    # So does a new session, where the summary calls the IP a draft.
    page.get_by_role("button", name="Terminer et se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")
    log_in(page, world.student.number)
    page.goto("/inscriptions")
    expect(page.locator(".status-draft")).to_have_text("brouillon")
    page.get_by_role("link", name="Choisir mes enseignements").click()
    for box in chosen:
        expect(box).to_be_checked()
    expect(element_box(page, world, "CHOIX2", "UEA", "S1")).not_to_be_checked()


def test_logout_then_back_shows_login(world, browser_page):
    page = browser_page

    # The header assert is the real guard: the Back check below still passes when the header is
    # removed, since Playwright starts Chromium with its back-forward cache disabled.
    log_in(page, world.student.number)
    profile_response = page.goto("/dossier")
    assert profile_response.headers["cache-control"] == "no-store"
    expect(page.get_by_text(world.student.full_name)).to_be_visible()

    page.get_by_role("button", name="Terminer et se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")

    # Back requests /dossier again, which now redirects to the login page. A reload stays there.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")
    expect(page.get_by_text(world.student.full_name)).to_have_count(0)
    page.reload()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")
    expect(page.get_by_label("Numéro étudiant")).to_be_visible()
