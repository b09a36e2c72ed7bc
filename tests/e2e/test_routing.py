"""Away and routing in the panel (issue 23, part 7): an operator says they are away and their
colleagues see it; where the site assigns requests, a visitor's request opens straight in the
available operator's panel, never the pool."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_away_shows_to_colleagues_and_an_assigned_request_opens_in_the_available_operators_panel(
    web_server, site, peter, jane, panel_for, open_page
):
    site.routing = "assign"
    site.save()
    peter_panel = panel_for(peter)
    jane_panel = panel_for(jane)
    # As Jane would: once her panel is online (a change made before gets an error notice instead).
    expect(jane_panel.locator("[data-testid=connection-status]")).to_have_attribute("data-state", "online")
    jane_panel.locator("[data-testid=my-status]").select_option("away")
    jane_chip = peter_panel.locator(f"[data-testid=operator][data-operator-id='{jane.pk}']")
    expect(jane_chip).to_have_attribute("data-status", "away")
    expect(jane_chip).to_contain_text("(away)")
    jane_panel.reload()
    expect(jane_panel.locator("[data-testid=my-status]")).to_have_value("away")

    shop = open_page(f"http://{web_server}/demo/")
    shop.locator("[data-testid=wp-launcher]").click()
    shop.locator("[data-testid=wp-input]").fill("Hello, anyone?")
    shop.locator("[data-testid=wp-send]").click()
    expect(peter_panel.locator("[data-testid=room-tab]")).to_have_count(1)
    expect(peter_panel.locator("[data-testid=transcript]")).to_contain_text("Hello, anyone?")
    expect(shop.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    expect(jane_panel.locator("[data-testid=pool-item]")).to_have_count(0)
    expect(jane_panel.locator("[data-testid=room-tab]")).to_have_count(0)
