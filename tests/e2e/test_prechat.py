"""The pre-chat form in the widget (issue 23): required, the window asks for a name and email
before the composer shows; optional, it may be skipped."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_required_pre_chat_form_comes_before_the_first_message(web_server, site, peter, panel_for, open_page):
    site.prechat = "required"
    site.save()
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    shop.locator("[data-testid=wp-launcher]").click()
    expect(shop.locator("[data-testid=wp-offline-text]")).to_have_text(
        "Before we start: your name and email, so we can answer even if you leave."
    )
    expect(shop.locator("[data-testid=wp-input]")).to_be_hidden()
    expect(shop.locator("[data-testid=wp-details-skip]")).to_be_hidden()
    expect(panel.locator("[data-testid=pool-item]")).to_have_count(0)

    shop.locator("[data-testid=wp-name]").fill("Linda")
    shop.locator("[data-testid=wp-email]").fill("linda@example.com")
    shop.locator("[data-testid=wp-details-save]").click()
    expect(shop.locator("[data-testid=wp-input]")).to_be_visible()
    # Her name and email are no request yet: her first message is (R4).
    expect(panel.locator("[data-testid=pool-item]")).to_have_count(0)
    shop.locator("[data-testid=wp-input]").fill("Do you ship to Norway?")
    shop.locator("[data-testid=wp-send]").click()
    expect(panel.locator("[data-testid=pool-item]")).to_have_count(1)
    expect(panel.locator("[data-testid=pool-item]")).to_contain_text("Do you ship to Norway?")

    # The next page remembers she answered it.
    shop.reload()
    expect(shop.locator("[data-testid=wp-input]")).to_be_visible()


def test_an_optional_pre_chat_form_may_be_skipped(web_server, site, peter, panel_for, open_page):
    site.prechat = "optional"
    site.save()
    panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    shop.locator("[data-testid=wp-launcher]").click()
    expect(shop.locator("[data-testid=wp-details]")).to_be_visible()
    expect(shop.locator("[data-testid=wp-input]")).to_be_visible()
    shop.locator("[data-testid=wp-details-skip]").click()
    expect(shop.locator("[data-testid=wp-details]")).to_be_hidden()
