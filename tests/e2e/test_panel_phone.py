"""Issue 24: the operators' panel on a phone (390 by 844, touch). The pool, the visitors as cards
with their page and their Start chat / Open chat button, a chat on the whole screen and the way
back to the lists; nothing scrolls sideways; the bar's actions in a menu. And visitor text in a
right-to-left script keeps its own direction without reordering the line around it."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import PASSWORD
from tests.e2e.test_screenshots import BROWSERS

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


def phone_panel(web_server, operator, open_page) -> Page:
    page = open_page(f"http://{web_server}/operators/login/", **PHONE)
    page.fill("input[name=username]", operator.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("button[type=submit]").tap()
    page.wait_for_url("**/panel/")
    expect(page.locator("[data-testid=connection-status]")).to_have_text("Online")
    return page


def assert_no_sideways_scroll(page: Page, where: str) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width <= inner, f"{where}: the page is {width} px wide in a {inner} px screen"


def test_an_operator_answers_from_a_phone(web_server, peter, open_page):
    panel = phone_panel(web_server, peter, open_page)
    assert_no_sideways_scroll(panel, "the empty panel")
    # (Browsers as people use them, not a headless test browser: the screenshots show them.)
    linda = open_page(f"http://{web_server}/demo/product/trail-shoes/", user_agent=BROWSERS["mac"])
    mary = open_page(f"http://{web_server}/demo/cart/", user_agent=BROWSERS["desktop"])
    mary.locator("[data-testid=wp-launcher]").click()
    mary.locator("[data-testid=wp-input]").fill("How long does delivery to Vienna take?")
    mary.locator("[data-testid=wp-send]").click()

    # The pool, and the visitors as cards: each with its page and its button, on screen.
    request = panel.locator("[data-testid=pool-item]")
    expect(request).to_contain_text("How long does delivery to Vienna take?")
    expect(request.locator("[data-testid=accept]")).to_be_in_viewport()
    expect(panel.locator("[data-testid=pane-lists]")).to_contain_text("1")
    cards = panel.locator("[data-testid=visitor-row]")
    expect(cards).to_have_count(2)
    card = cards.filter(has=panel.locator("[data-testid=visitor-page]", has_text="/demo/product/trail-shoes/"))
    for part in ("visitor-page", "visitor-chat-state", "start-chat"):
        node = card.locator(f"[data-testid={part}]")
        expect(node).to_be_visible()
        box = node.bounding_box()
        assert box["x"] >= 0, f"{part} is off the screen: {box}"
        assert box["x"] + box["width"] <= 390, f"{part} is off the screen: {box}"
    assert card.bounding_box()["height"] < 200  # a card, not a column of table cells
    assert_no_sideways_scroll(panel, "the lists with a request and two visitors")

    # Start a chat: it fills the screen, the lists are gone until asked for.
    card.locator("[data-testid=start-chat]").tap()
    room = panel.locator("[data-testid=room-panel]")
    expect(room).to_be_visible()
    expect(panel.locator("[data-testid=visitors]")).to_be_hidden()
    expect(panel.locator("[data-testid=pane-rooms]")).to_have_attribute("aria-pressed", "true")
    box = panel.locator(".rooms-card").bounding_box()
    assert box["width"] >= 360, box
    assert box["height"] >= 600, box
    composer = room.locator("[data-testid=message-input]")
    expect(composer).to_be_in_viewport()
    composer.fill("Hi! Can I help you with the trail shoes?")
    room.locator("[data-testid=send]").tap()
    linda.locator("[data-testid=wp-launcher]").click()
    expect(linda.locator("[data-testid=wp-transcript]")).to_contain_text("Can I help you with the trail shoes?")
    linda.locator("[data-testid=wp-input]").fill("Do they run small?")
    linda.locator("[data-testid=wp-send]").click()
    expect(room.locator("[data-testid=transcript]")).to_contain_text("Do they run small?")
    assert_no_sideways_scroll(panel, "a chat")
    IMAGES.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=IMAGES / "panel-phone-room.png")

    # Back to the lists: her card now offers to open the chat, which comes back full screen.
    panel.locator("[data-testid=pane-lists]").tap()
    expect(room).to_be_hidden()
    expect(request).to_be_visible()
    open_room = card.locator("[data-testid=open-room]")
    expect(open_room).to_be_visible()
    expect(panel.locator("[data-testid=pane-rooms]")).to_contain_text("1")
    panel.screenshot(path=IMAGES / "panel-phone.png")
    open_room.tap()
    expect(room).to_be_visible()
    expect(room.locator("[data-testid=transcript]")).to_contain_text("Do they run small?")

    # Accept the request from the pool: the second chat shows, with a tab for each.
    panel.locator("[data-testid=pane-lists]").tap()
    request.locator("[data-testid=accept]").tap()
    expect(panel.locator("[data-testid=room-tab]")).to_have_count(2)
    expect(panel.locator("[data-testid=room-panel]:visible [data-testid=transcript]")).to_contain_text("Vienna")
    assert_no_sideways_scroll(panel, "two chats")
    for name in ("panel-phone.png", "panel-phone-room.png"):
        assert (IMAGES / name).stat().st_size > 10_000


def test_the_bar_fits_a_phone_and_its_actions_are_in_a_menu(web_server, peter, open_page):
    panel = phone_panel(web_server, peter, open_page)
    bar = panel.locator(".bar")
    assert bar.bounding_box()["height"] <= 56  # one line, nothing wrapped
    history = panel.locator("[data-testid=history-open]")
    expect(history).to_be_hidden()
    menu = panel.locator("[data-testid=bar-menu]")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for testid in ("my-status", "history-open", "replies-open", "sound-toggle", "two-factor-link", "logout"):
        node = panel.locator(f"[data-testid={testid}]")
        expect(node).to_be_in_viewport()
        assert node.bounding_box()["height"] >= 40, testid  # a finger's target
    assert_no_sideways_scroll(panel, "the menu open")
    panel.keyboard.press("Escape")
    expect(history).to_be_hidden()
    expect(menu).to_be_focused()
    # Used, the menu shuts: the dialog opened is what is in front.
    menu.tap()
    history.tap()
    expect(panel.locator("[data-testid=history-dialog]")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")


def test_the_desktop_panel_keeps_its_columns_and_its_bar(web_server, peter, panel_for):
    panel = panel_for(peter)
    expect(panel.locator("[data-testid=bar-menu]")).to_be_hidden()
    expect(panel.locator("[data-testid=phone-nav]")).to_be_hidden()
    expect(panel.locator("[data-testid=history-open]")).to_be_visible()
    lists, rooms = panel.locator(".column-left").bounding_box(), panel.locator(".rooms-card").bounding_box()
    assert lists["x"] + lists["width"] <= rooms["x"]  # side by side
    assert abs(lists["y"] - rooms["y"]) < 2
    expect(panel.locator("[data-testid=visitors] thead")).to_be_visible()


def test_an_arabic_name_reads_right_to_left_and_leaves_the_line_around_it_alone(
    web_server, site, peter, panel_for, open_page
):
    site.prechat = "optional"
    site.save()
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    shop.locator("[data-testid=wp-launcher]").click()
    name, email = "ليلى حداد", "layla@example.com"
    shop.locator("[data-testid=wp-name]").fill(name)
    shop.locator("[data-testid=wp-email]").fill(email)
    shop.locator("[data-testid=wp-details-save]").click()
    shop.locator("[data-testid=wp-input]").fill("مرحبا، هل يوجد مقاس ٣٩؟")
    shop.locator("[data-testid=wp-send]").click()

    contact = panel.locator("[data-testid=visitor-contact]")
    expect(contact).to_have_text(f"{name} · {email}")
    # Each part isolated, in its own direction: the name right to left, the email left to right,
    # and in that order on screen, the separator between them.
    parts = contact.locator("bdi")
    expect(parts).to_have_text([name, email])
    assert parts.nth(0).evaluate("n => getComputedStyle(n).direction") == "rtl"
    assert parts.nth(1).evaluate("n => getComputedStyle(n).direction") == "ltr"
    first, second = parts.nth(0).bounding_box(), parts.nth(1).bounding_box()
    # (The column is narrow: the email may wrap to the next line, never come before the name.)
    assert first["x"] + first["width"] <= second["x"] + 1 or second["y"] >= first["y"] + first["height"] - 1
    message = panel.locator("[data-testid=pool-message]")
    expect(message).to_have_attribute("dir", "auto")
    assert message.evaluate("n => getComputedStyle(n).direction") == "rtl"

    panel.locator("[data-testid=pool-item] [data-testid=accept]").click()
    room = panel.locator("[data-testid=room-panel]")
    expect(room.locator("[data-testid=room-contact] bdi")).to_have_text([name, email])
    body = room.locator("[data-testid=message][data-sender=visitor] [data-testid=message-body]")
    assert body.evaluate("n => getComputedStyle(n).direction") == "rtl"
    expect(room.locator("[data-testid=info-name]")).to_have_text(name)
    assert room.locator("[data-testid=info-name]").evaluate("n => getComputedStyle(n).direction") == "rtl"
