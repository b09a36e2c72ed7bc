"""Small things an operator notices (issue 23, part 9): a draft survives a reload, a counter near
the length limit, logging out with open chats asks first, the visitor filter says when nothing
matches."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unsent_draft_survives_a_reload_and_a_counter_shows_near_the_limit(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    composer = panel.locator("[data-testid=message-input]")
    composer.fill("Half-written answer about the return policy")
    panel.reload()
    expect(panel.locator("[data-testid=message-input]")).to_have_value("Half-written answer about the return policy")

    counter = panel.locator("[data-testid=composer-counter]")
    expect(counter).to_be_hidden()
    panel.locator("[data-testid=message-input]").fill("x" * 3700)
    expect(counter).to_have_text("3700 / 4000")
    panel.locator("[data-testid=message-input]").press("Enter")
    expect(counter).to_be_hidden()
    panel.reload()
    expect(panel.locator("[data-testid=message-input]")).to_have_value("")


def test_logging_out_with_open_chats_asks_first_and_staying_keeps_them(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    expect(panel.locator("[data-testid=room-status]")).to_have_text("Active")
    panel.locator("[data-testid=logout]").click()
    expect(panel.locator("[data-testid=logout-text]")).to_contain_text("You have 1 open chat.")
    expect(panel.locator("[data-testid=logout-text]")).to_contain_text("goes back to the pool")
    panel.locator("[data-testid=logout-stay]").click()
    expect(panel.locator("[data-testid=room-status]")).to_have_text("Active")
    assert "/panel/" in panel.url

    panel.locator("[data-testid=logout]").click()
    panel.locator("[data-testid=logout-confirm]").click()
    panel.wait_for_url("**/operators/login/**")


def test_the_visitor_filter_says_when_nothing_matches(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    open_page(f"http://{web_server}/demo/cart/")
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    panel.locator("[data-testid=visitor-filter]").fill("checkout")
    expect(panel.locator("#visitors-empty")).to_have_text("No visitors match “checkout”.")
    panel.locator("[data-testid=visitor-filter]").fill("cart")
    expect(panel.locator("#visitors-empty")).to_be_hidden()
