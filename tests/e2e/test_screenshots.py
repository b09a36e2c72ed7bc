"""The screenshots in the README, taken from a real session so they stay true."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_screenshots_of_panel_and_demo_shop(web_server, peter, jane, panel_for, open_page):
    shop = f"http://{web_server}/demo"
    panel = panel_for(peter)
    panel_for(jane)
    linda = open_page(f"{shop}/product/trail-shoes/")
    mary = open_page(f"{shop}/cart/")
    open_page(f"{shop}/product/rain-jacket/")
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(3)

    mary.locator("[data-testid=wp-launcher]").click()
    mary.locator("[data-testid=wp-input]").fill("Hi! How long does delivery to Vienna take?")
    mary.locator("[data-testid=wp-send]").click()
    expect(panel.locator("[data-testid=pool-item]")).to_have_count(1)

    linda.locator("[data-testid=wp-launcher]").click()
    linda.locator("[data-testid=wp-input]").fill("Do these shoes run small?")
    linda.locator("[data-testid=wp-send]").click()
    panel.locator("[data-testid=pool-item]", has_text="run small").locator("[data-testid=accept]").click()
    panel.locator("[data-testid=message-input]").fill("They run true to size. Which size do you usually wear?")
    panel.locator("[data-testid=send]").click()
    linda.locator("[data-testid=wp-input]").fill("Usually 39.")
    linda.locator("[data-testid=wp-send]").click()
    expect(panel.locator("[data-testid=transcript]")).to_contain_text("Usually 39.")
    expect(linda.locator("[data-testid=wp-transcript]")).to_contain_text("true to size")

    IMAGES.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=IMAGES / "panel.png")
    linda.screenshot(path=IMAGES / "demo-shop.png")
    for name in ("panel.png", "demo-shop.png"):
        assert (IMAGES / name).stat().st_size > 10_000
