"""Visitor-supplied text is shown as text in the panel: never markup, never a live script."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = "<img src=x onerror=alert(1)>"


def test_html_in_title_url_and_message_shows_as_text(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    mary = open_page(f"http://{web_server}/demo/cart/")
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    # A single-page app may set any title and URL; here they carry the payload.
    mary.evaluate(
        """payload => {
            document.title = payload;
            history.pushState({}, "", "/demo/cart/?q=" + encodeURIComponent("<script>alert(2)</script>"));
        }""",
        PAYLOAD,
    )
    row = panel.locator("[data-testid=visitor-row]")
    expect(row.locator("[data-testid=visitor-page]")).to_contain_text(PAYLOAD)
    mary.locator("[data-testid=wp-launcher]").click()
    mary.locator("[data-testid=wp-input]").fill(PAYLOAD)
    mary.locator("[data-testid=wp-send]").click()

    pool_item = panel.locator("[data-testid=pool-item]")
    expect(pool_item.locator("[data-testid=pool-message]")).to_have_text(PAYLOAD)
    pool_item.locator("[data-testid=accept]").click()
    transcript = panel.locator("[data-testid=room-panel] [data-testid=transcript]")
    expect(transcript.locator("[data-testid=message][data-sender=visitor]")).to_contain_text(PAYLOAD)
    # The operator echoes it back: the visitor's page shows text too.
    panel.locator("[data-testid=message-input]").fill("You wrote: " + PAYLOAD)
    panel.locator("[data-testid=send]").click()
    expect(mary.locator("[data-testid=wp-transcript]")).to_contain_text("You wrote: " + PAYLOAD)

    # Nothing was injected, nothing ran.
    expect(panel.locator("img[src=x]")).to_have_count(0)
    expect(mary.locator("img[src=x]")).to_have_count(0)
    panel.wait_for_timeout(300)  # give a stray onerror handler its chance to fire
    assert panel.dialogs == []
    assert mary.dialogs == []
