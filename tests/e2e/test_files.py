"""Files and images in the panel (issue 23, part 4): an operator sends an image and sees it go,
with its progress, then its thumbnail, which opens the full image; a refused file says why in the
room; a cancelled one is gone; a file the visitor sends shows in the panel as a thumbnail; the
widget sends one with its progress, refuses what the site does not take, and shows the operator's."""

import io
import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from chat.models import Attachment

pytestmark = pytest.mark.django_db(transaction=True)


def png_bytes(width: int, height: int, color=(36, 87, 214)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def chat_with_shop_visitor(web_server, panel, open_page):
    shop = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    expect(panel.locator("[data-testid=room-panel]")).to_be_visible()
    return shop


def test_an_operator_sends_an_image_and_sees_its_progress_then_its_thumbnail(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    chat_with_shop_visitor(web_server, panel, open_page)
    # Held on its way to the server: the transcript shows it going, with Cancel.
    held = []
    panel.route("**/api/rooms/*/files/", lambda route: held.append(route))
    image = png_bytes(800, 400)
    panel.locator("[data-testid=file-input]").set_input_files(
        {"name": "blue shoes.png", "mimeType": "image/png", "buffer": image}
    )
    going = panel.locator("[data-testid=upload]")
    expect(going).to_be_visible()
    expect(going.locator("[data-testid=upload-name]")).to_have_text("blue shoes.png")
    expect(going.locator("[data-testid=upload-progress]")).to_be_visible()
    expect(going.locator("[data-testid=upload-cancel]")).to_be_visible()
    panel.wait_for_timeout(200)
    assert len(held) == 1
    held[0].continue_()

    # Stored: the row gives way to the message, its thumbnail loaded from the signed link.
    expect(going).to_have_count(0)
    thumb = panel.locator("[data-testid=message][data-sender=operator] [data-testid=message-thumb]")
    expect(thumb).to_be_visible()
    expect(thumb).to_have_attribute("alt", "blue shoes.png")
    panel.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 160]
    link = panel.locator("[data-testid=message-image-link]")
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    href = link.get_attribute("href")
    assert href.startswith("/files/")
    assert href.endswith("/")
    full = panel.request.get(f"http://{web_server}{href}")
    assert full.status == 200
    assert full.body() == image
    assert full.headers["content-type"] == "image/png"
    assert Attachment.objects.filter(is_image=True).count() == 1


def test_a_refused_or_cancelled_file_says_so_in_the_room(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    chat_with_shop_visitor(web_server, panel, open_page)
    chooser = panel.locator("[data-testid=file-input]")

    # Refused in the browser: a type the server does not take.
    chooser.set_input_files({"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"})
    refused = panel.locator("[data-testid=upload][data-state=failed]")
    expect(refused).to_contain_text("not sent: Files of that type are not taken.")
    refused.locator("[data-testid=upload-dismiss]").click()
    expect(refused).to_have_count(0)

    # Refused by the server: named as an image, it is a page.
    chooser.set_input_files({"name": "cat.png", "mimeType": "image/png", "buffer": b"<html><script>1</script>"})
    expect(panel.locator("[data-testid=upload][data-state=failed]")).to_contain_text("Files of that type are not taken")

    # Cancelled on its way: nothing is sent.
    held = []
    panel.route("**/api/rooms/*/files/", lambda route: held.append(route))
    chooser.set_input_files({"name": "sizes.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 sizes"})
    going = panel.locator("[data-testid=upload][data-state=sending]")
    going.locator("[data-testid=upload-cancel]").click()
    expect(going).to_have_count(0)
    expect(panel.locator("[data-testid=message-file]")).to_have_count(0)
    assert Attachment.objects.count() == 0


def test_a_file_the_visitor_sends_shows_as_a_thumbnail_in_the_panel(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = chat_with_shop_visitor(web_server, panel, open_page)
    token = shop.evaluate("() => localStorage.getItem('whitepanel:demo:token')")
    assert token
    # What the snippet's upload will send: the visitor's token, cross-origin from the shop's page.
    sent = shop.request.post(
        f"http://{web_server}/files/visitor/?site=demo",
        headers={"Origin": f"http://{web_server}"},
        multipart={
            "token": token,
            "client_id": "v-file-1",
            "body": "This one?",
            "file": {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": png_bytes(200, 300)},
        },
    )
    assert sent.status == 201, sent.text()
    from_visitor = panel.locator("[data-testid=message][data-sender=visitor]").filter(has_text="This one?")
    thumb = from_visitor.locator("[data-testid=message-thumb]")
    expect(thumb).to_be_visible()
    panel.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [200, 300]  # never enlarged

    # A download: a chip with its name and size, which downloads.
    chip = shop.request.post(
        f"http://{web_server}/files/visitor/?site=demo",
        headers={"Origin": f"http://{web_server}"},
        multipart={"token": token, "file": {"name": "order.pdf", "mimeType": "application/pdf", "buffer": b"%PDF"}},
    )
    assert chip.status == 201, chip.text()
    link = panel.locator("[data-testid=message-file-link]").filter(has_text="order.pdf")
    expect(link).to_contain_text("4 bytes")
    assert link.get_attribute("rel") == "noopener noreferrer"


def test_the_visitor_sends_an_image_from_the_widget_with_its_progress_and_sees_the_operators(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    shop = chat_with_shop_visitor(web_server, panel, open_page)
    panel.locator("[data-testid=message-input]").fill("Send me a photo of the label?")
    panel.locator("[data-testid=send]").click()
    shop.locator("[data-testid=wp-toast]").click()

    # The upload, held back a moment on its way: the widget shows it going.
    def slowly(route):
        time.sleep(1)
        route.continue_()

    shop.route("**/files/visitor/**", slowly)
    shop.locator("[data-testid=wp-file]").set_input_files(
        files=[{"name": "label.png", "mimeType": "image/png", "buffer": png_bytes(640, 480)}]
    )
    expect(shop.locator("[data-testid=wp-progress]")).to_be_visible()
    mine = shop.locator("[data-testid=wp-message][data-sender=visitor]")
    image = mine.locator("[data-testid=wp-image]")
    expect(image).to_be_visible()
    expect(shop.locator("[data-testid=wp-progress]")).to_have_count(0)
    shop.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") == 320  # the thumbnail, not the photo
    assert image.get_attribute("alt") == "label.png"
    expect(panel.locator("[data-testid=message][data-sender=visitor] [data-testid=message-thumb]")).to_be_visible()

    # What the site does not take is refused before it is sent, in the visitor's words.
    shop.locator("[data-testid=wp-file]").set_input_files(
        files=[{"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}]
    )
    expect(shop.locator("[data-testid=wp-upload-error]").last).to_have_text(
        "Not sent: this kind of file is not accepted"
    )
    assert Attachment.objects.count() == 1

    # A file from the operator: a download chip with its name and size, on the server's origin.
    panel.locator("[data-testid=file-input]").set_input_files(
        files=[{"name": "size-chart.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 " + b"x" * 3000}]
    )
    chip = shop.locator("[data-testid=wp-file-link]").filter(has_text="size-chart.pdf")
    expect(chip).to_have_text("size-chart.pdf (3 KB)")
    assert chip.get_attribute("href").startswith(f"http://{web_server}/files/")
    assert chip.get_attribute("download") == "size-chart.pdf"
