"""The screenshots in the README, taken from a real session so they stay true."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"

# The visitors of the pictures browse as people do, not as a headless test browser (a bot).
BROWSERS = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
}


def shoe_photo() -> bytes:
    """A stand-in photo: a shoe's shape on a floor, drawn."""
    image = Image.new("RGB", (480, 320), (226, 221, 211))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 230, 480, 320), fill=(173, 160, 140))
    draw.rounded_rectangle((70, 150, 400, 250), radius=40, fill=(36, 87, 214))
    draw.polygon([(70, 200), (160, 90), (250, 100), (260, 160)], fill=(36, 87, 214))
    draw.rectangle((60, 240, 410, 262), fill=(245, 245, 245))
    for x in range(170, 250, 20):
        draw.line((x, 120, x + 30, 150), fill=(245, 245, 245), width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_screenshots_of_panel_and_demo_shop(web_server, peter, jane, panel_for, open_page):
    shop = f"http://{web_server}/demo"
    panel = panel_for(peter)
    panel_for(jane)
    linda = open_page(f"{shop}/product/trail-shoes/?utm_source=newsletter", user_agent=BROWSERS["mac"], locale="en-GB")
    mary = open_page(f"{shop}/cart/", user_agent=BROWSERS["desktop"])
    open_page(f"{shop}/product/rain-jacket/", user_agent=BROWSERS["desktop"])
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
    # A photo from her, sent from the widget (issue 23): a thumbnail in both.
    linda.locator("[data-testid=wp-file]").set_input_files(
        files=[{"name": "my-old-pair.png", "mimeType": "image/png", "buffer": shoe_photo()}]
    )
    expect(panel.locator("[data-testid=message-thumb]")).to_be_visible()
    # A link, and the visitor typing her next question (issue 23); the room's side panel shows
    # who she is.
    panel.locator("[data-testid=message-input]").fill("39 it is. Our size guide: https://shop.example/size-guide")
    panel.locator("[data-testid=send]").click()
    expect(linda.locator("[data-testid=wp-transcript] a[rel~=ugc]")).to_have_count(1)
    # (The snippet says it is typing once every 3 s at most: her last message was just now.)
    linda.locator("[data-testid=wp-input]").press_sequentially("And do they come in gre", delay=200)
    expect(panel.locator("[data-testid=room-typing]")).to_be_visible()
    expect(linda.locator("[data-testid=wp-transcript]")).to_contain_text("true to size")

    IMAGES.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=IMAGES / "panel.png")
    linda.screenshot(path=IMAGES / "demo-shop.png")
    for name in ("panel.png", "demo-shop.png"):
        assert (IMAGES / name).stat().st_size > 10_000


def test_screenshot_of_the_widget_asking_for_a_rating(web_server, peter, panel_for, open_page, sweeper):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/product/trail-shoes/", user_agent=BROWSERS["mac"])
    linda.locator("[data-testid=wp-launcher]").click()
    linda.locator("[data-testid=wp-input]").fill("Do these shoes run small?")
    linda.locator("[data-testid=wp-send]").click()
    panel.locator("[data-testid=pool-item]").locator("[data-testid=accept]").click()
    panel.locator("[data-testid=message-input]").fill("They run true to size: take your usual 39.")
    panel.locator("[data-testid=send]").click()
    expect(linda.locator("[data-testid=wp-transcript]")).to_contain_text("true to size")
    # The chat ended: the widget asks for a rating (issue 23).
    panel.locator("[data-testid=close-room]").click()
    rate = linda.locator("[data-testid=wp-rate]")
    expect(rate).to_contain_text("How was this chat?", timeout=15_000)
    linda.locator("[data-testid=wp-star]").nth(4).click()
    linda.locator("[data-testid=wp-rate-comment]").fill("Quick and friendly, thanks!")
    IMAGES.mkdir(parents=True, exist_ok=True)
    linda.screenshot(path=IMAGES / "widget-rating.png")
    assert (IMAGES / "widget-rating.png").stat().st_size > 10_000


def test_screenshot_of_the_widget_on_a_phone_in_german(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    phone = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
    anna = open_page(f"http://{web_server}/demo/product/rain-jacket/", locale="de-DE", **phone)
    anna.locator("[data-testid=wp-launcher]").tap()
    anna.locator("[data-testid=wp-input]").fill("Ist die Jacke wirklich wasserdicht?")
    anna.locator("[data-testid=wp-input]").press("Enter")
    panel.locator("[data-testid=pool-item]").locator("[data-testid=accept]").click()
    panel.locator("[data-testid=message-input]").fill(
        "Ja, 20.000 mm Wassersäule. Hier die Details: https://shop.example/jacke"
    )
    panel.locator("[data-testid=send]").click()
    expect(anna.locator("[data-testid=wp-message][data-sender=operator]")).to_have_count(1)
    expect(anna.locator("[data-testid=wp-status]")).to_have_text("Peter ist für Sie da")
    anna.screenshot(path=IMAGES / "widget-phone.png")
    assert (IMAGES / "widget-phone.png").stat().st_size > 10_000
