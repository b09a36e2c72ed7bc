"""Owners' admin as White Panel's (issue 25): a site's page previews the chat button and window
as the owner types, and admin's pages read well in its light and dark themes."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import PASSWORD
from tests.e2e.axe import assert_no_violations
from tests.owners import make_staff
from visitors.widget_texts import table

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
GREETING = "Hej! Looking for a size?"
MARKUP = "<img src=x onerror=alert(1)> Hi!"


@pytest.fixture
def owner(site):
    return make_staff("owner", site)


def admin_for(open_page, web_server, user, **context_options) -> Page:
    admin = open_page(f"http://{web_server}/admin/login/?next=/admin/", **context_options)
    admin.fill("input[name=username]", user.username)
    admin.fill("input[name=password]", PASSWORD)
    admin.click("input[type=submit]")
    admin.wait_for_url("**/admin/")
    return admin


def gaps(admin: Page) -> dict:
    """The preview button's distance from the preview page's left, right and bottom edges."""
    page = admin.locator("[data-testid=preview-page]").bounding_box()
    button = admin.locator("[data-testid=preview-launcher]").bounding_box()
    return {
        "left": round(button["x"] - page["x"]),
        "right": round(page["x"] + page["width"] - button["x"] - button["width"]),
        "bottom": round(page["y"] + page["height"] - button["y"] - button["height"]),
    }


def test_site_page_previews_the_widget_as_the_owner_types(web_server, site, owner, open_page):
    admin = admin_for(open_page, web_server, owner)
    admin.goto(f"http://{web_server}/admin/visitors/site/{site.pk}/change/")
    launcher = admin.locator("[data-testid=preview-launcher]")
    status = admin.locator("[data-testid=preview-status]")
    send = admin.locator("[data-testid=preview-send]")
    # The saved look first: the default blue with white text, bottom right.
    expect(launcher).to_have_css("background-color", "rgb(36, 87, 214)")
    expect(launcher).to_have_css("color", "rgb(255, 255, 255)")
    expect(status).to_have_text(site.greeting)
    assert gaps(admin)["right"] == gaps(admin)["bottom"] == 21  # 20px, as the snippet, and the frame's border

    # Markup in the greeting is shown as typed, never run.
    admin.fill("#id_greeting", MARKUP)
    expect(status).to_have_text(MARKUP)
    expect(admin.locator("[data-testid=preview-greeting]")).to_have_text(MARKUP)
    assert admin.locator("[data-testid=site-preview] img").count() == 0

    # A light yellow: dark text on it, as the snippet chooses.
    admin.fill("#id_greeting", GREETING)
    admin.fill("#id_color", "#fff3a8")
    expect(launcher).to_have_css("background-color", "rgb(255, 243, 168)")
    expect(launcher).to_have_css("color", "rgb(27, 27, 27)")
    expect(admin.locator("[data-testid=preview-widget] .head")).to_have_css("color", "rgb(27, 27, 27)")
    expect(send).to_have_css("background-color", "rgb(255, 243, 168)")
    expect(status).to_have_text(GREETING)
    admin.locator(".wp-look").screenshot(path=IMAGES / "admin-site.png")

    # Arabic: the button moves to the left, the window speaks Arabic.
    arabic = table()
    admin.select_option("#id_language", "ar")
    expect(send).to_have_text(arabic["window"]["ar"]["send"])
    expect(admin.locator("[data-testid=preview-input]")).to_have_text(arabic["window"]["ar"]["message"])
    expect(launcher).to_have_attribute("aria-label", arabic["snippet"]["ar"]["open"])
    assert gaps(admin)["left"] == 21
    # The owner's greeting stays theirs, in any language.
    expect(status).to_have_text(GREETING)

    # Lifted above the site's own bottom bar.
    admin.fill("#id_launcher_offset", "80")
    expect(admin.locator("[data-testid=preview-widget]")).to_have_css("bottom", "100px")
    assert gaps(admin)["bottom"] == 101


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_admin_index_and_site_page_pass_axe(web_server, site, owner, open_page, scheme):
    admin = admin_for(open_page, web_server, owner, color_scheme=scheme)
    expect(admin.locator("#site-name")).to_have_text("White Panel")
    assert_no_violations(admin)
    admin.goto(f"http://{web_server}/admin/visitors/site/{site.pk}/change/")
    expect(admin.locator("[data-testid=preview-send]")).to_have_text("Send")
    assert_no_violations(admin)
