"""The panel installs as an app on a phone or a desktop (issue 24): a web app manifest, served as
one, with icons that exist at the sizes it says, and the panel's page pointing to it."""

import io
import json

from django.test import Client
from django.urls import reverse
from PIL import Image


def test_the_panel_page_links_its_manifest_theme_colour_and_touch_icon(peter):
    client = Client()
    client.force_login(peter.user)
    page = client.get(reverse("panel")).content.decode()
    assert '<link rel="manifest" href="/static/panel/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#2a63c8">' in page
    assert '<link rel="apple-touch-icon" href="/static/panel/icons/apple-touch-icon.png">' in page
    icon = Client().get("/static/panel/icons/apple-touch-icon.png")
    assert Image.open(io.BytesIO(b"".join(icon.streaming_content))).size == (180, 180)


def test_the_manifest_is_served_as_one_and_opens_the_panel_standalone(db):
    response = Client().get("/static/panel/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(b"".join(response.streaming_content))
    assert manifest["name"] == "White Panel"
    assert manifest["short_name"]
    assert manifest["start_url"] == reverse("panel") == "/panel/"
    # The login page the panel sends a signed-out operator to is inside the app too.
    assert reverse("login").startswith(manifest["scope"])
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#2a63c8"

    # Each icon exists, is a PNG of the size it claims; one of 192, one of 512, one maskable.
    seen = set()
    for icon in manifest["icons"]:
        served = Client().get("/static/panel/" + icon["src"])
        assert served.status_code == 200, icon["src"]
        image = Image.open(io.BytesIO(b"".join(served.streaming_content)))
        assert image.format == "PNG"
        assert "{}x{}".format(*image.size) == icon["sizes"]
        seen.add((icon["sizes"], icon.get("purpose", "any")))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= seen
