"""Links in messages (issue 23): an http(s) URL someone writes is a link on the other side,
opening in a new tab that tells the target nothing; nothing else ever becomes a link."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = (
    "See https://shop.example/boots?size=42. Not javascript:alert(1), not www.shop.example, "
    'not <a href="javascript:alert(2)">this</a>.'
)
REL = "noopener noreferrer nofollow ugc"


def test_urls_in_messages_become_safe_links_both_ways_and_nothing_else_does(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").fill(TEXT)
    panel.locator("[data-testid=send]").click()

    shop.locator("[data-testid=wp-toast]").click()
    message = shop.locator("[data-testid=wp-message][data-sender=operator]")
    expect(message).to_contain_text('not <a href="javascript:alert(2)">this</a>.')
    links = message.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://shop.example/boots?size=42")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", REL)

    shop.locator("[data-testid=wp-input]").fill(TEXT)
    shop.locator("[data-testid=wp-send]").click()
    body = panel.locator("[data-testid=message][data-sender=visitor] [data-testid=message-body]")
    expect(body).to_contain_text("not www.shop.example")
    links = body.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://shop.example/boots?size=42")
    expect(links).to_have_attribute("target", "_blank")
    expect(links).to_have_attribute("rel", REL)
    assert panel.dialogs == []
    assert shop.dialogs == []
