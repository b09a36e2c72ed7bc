"""The snippet's JavaScript API (issue 25, docs/snippet.md) on the demo shop's account page, and
its consent mode: calls made before it loads wait in the stub's queue; open and close; what the
page hears (ready, online, room, message); nothing stored and no socket before consent."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def log_of(page):
    return page.locator("#api-log li")


def test_the_page_opens_and_closes_the_chat_and_hears_what_happens(web_server, peter, panel_for, open_page, sweeper):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/account/")
    # Listeners added through the stub before the snippet had loaded.
    expect(log_of(shop).first).to_have_text("ready: someone is online")
    expect(log_of(shop).nth(1)).to_have_text("online: true")

    shop.locator("#api-open").click()
    expect(shop.locator("[data-testid=wp-window]")).to_be_visible()
    shop.locator("[data-testid=wp-input]").fill("Where is my order?")
    shop.locator("[data-testid=wp-input]").press("Enter")
    expect(log_of(shop).filter(has_text="room: pending")).to_have_count(1)
    expect(log_of(shop).filter(has_text="message from visitor: Where is my order?")).to_have_count(1)
    shop.locator("#api-close").click()
    expect(shop.locator("[data-testid=wp-window]")).to_be_hidden()

    panel.locator("[data-testid=pool-item]").locator("[data-testid=accept]").click()
    expect(log_of(shop).filter(has_text="room: active")).to_have_count(1)
    panel.locator("[data-testid=message-input]").fill("It ships <b>today</b>.")
    panel.locator("[data-testid=send]").click()
    expect(log_of(shop).filter(has_text="message from operator: It ships <b>today</b>.")).to_have_count(1)

    # The team's last panel closes (the operator lost): the page hears nobody is online.
    panel.close()
    expect(log_of(shop).filter(has_text="online: false")).to_have_count(1)


def test_in_consent_mode_nothing_is_stored_and_no_socket_opens_until_consent(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/consent/")
    sockets = []
    shop.on("websocket", lambda socket: sockets.append(socket.url))
    shop.reload()
    expect(shop.locator("[data-testid=wp-launcher]")).to_be_visible()
    shop.wait_for_timeout(1000)  # time enough for a socket that should not open
    assert sockets == []
    assert shop.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(0)

    shop.locator("#consent-accept").click()
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    assert len(sockets) == 1
    assert shop.evaluate("localStorage.getItem('whitepanel:demo:consent')") == "1"
    assert shop.evaluate("localStorage.getItem('whitepanel:demo:token')")

    # The next page remembers the consent: its socket opens at once.
    with shop.expect_websocket():
        shop.reload()
    assert len(sockets) == 2


def test_in_consent_mode_opening_the_chat_is_consent(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/consent/")
    shop.wait_for_timeout(500)
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(0)
    shop.locator("[data-testid=wp-launcher]").click()
    expect(shop.locator("[data-testid=wp-input]")).to_be_focused()
    shop.locator("[data-testid=wp-input]").fill("Hello")
    shop.locator("[data-testid=wp-input]").press("Enter")
    expect(panel.locator("[data-testid=pool-item]")).to_have_count(1)


def test_the_page_says_who_the_customer_is_and_what_they_did(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/account/")
    expect(log_of(shop).first).to_have_text("ready: someone is online")
    shop.locator("#api-identify").click()
    shop.locator("#api-attributes").click()
    shop.locator("#api-track").click()
    shop.locator("#api-open").click()
    shop.locator("[data-testid=wp-input]").fill("Hi, it's Ada")
    shop.locator("[data-testid=wp-input]").press("Enter")
    panel.locator("[data-testid=pool-item]").locator("[data-testid=accept]").click()

    info = panel.locator("[data-testid=room-panel] [data-testid=visitor-info]")
    expect(info).to_contain_text("Verified")
    expect(info).to_contain_text("c-1001")
    expect(info).to_contain_text("Summit Club")
    expect(info).to_contain_text("viewed orders")
    expect(info).to_contain_text("viewed_account")  # tracked through the stub, before the snippet loaded

    # The same customer on another browser (a phone, say): the conversation follows them.
    other = open_page(f"http://{web_server}/demo/account/")
    expect(log_of(other).first).to_have_text("ready: someone is online")
    other.locator("#api-identify").click()
    other.locator("#api-open").click()
    expect(other.locator("[data-testid=wp-message][data-sender=visitor]")).to_contain_text("Hi, it's Ada")
