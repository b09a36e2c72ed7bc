"""Blocking a visitor from the panel (issue 25): the operator gives a reason, the chat ends with
a line saying who blocked, the visitor is gone from the list and their page's connection is
told `banned`: the snippet takes its button away, on this page and the next."""

import json

import pytest
from playwright.sync_api import expect

from chat.models import Ban

pytestmark = pytest.mark.django_db(transaction=True)


def _banned_frames(page) -> list[dict]:
    """The frames the page's sockets got from the server that say it is blocked."""
    frames: list[dict] = []

    def watch(ws):
        def received(payload):
            frame = json.loads(payload) if isinstance(payload, str) else {}
            if frame.get("type") == "banned" or frame.get("code") == "banned":
                frames.append(frame)

        ws.on("framereceived", received)

    page.on("websocket", watch)
    return frames


def _until(page, check, timeout: float = 5.0) -> None:
    """Lets the page run (its socket's events come in on its loop) until `check()` holds."""
    for _ in range(int(timeout * 10)):
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


def test_an_operator_blocks_a_visitor_with_a_reason_and_their_chat_ends(web_server, site, peter, panel_for, open_page):
    panel = panel_for(peter)
    linda = open_page("about:blank")
    told = _banned_frames(linda)
    linda.goto(f"http://{web_server}/demo/")

    row = panel.locator("[data-testid=visitor-row]")
    expect(row).to_have_count(1)
    row.locator("[data-testid=start-chat]").click()
    info = panel.locator("[data-testid=room-panel] [data-testid=visitor-info]")
    info.locator("[data-testid=block-visitor]").click()
    dialog = panel.locator("[data-testid=ban-dialog]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-testid=ban-reason]").fill("Insults <script>alert(1)</script>")
    dialog.locator("[data-testid=ban-address]").check()
    dialog.locator("[data-testid=ban-confirm]").click()

    expect(dialog).to_be_hidden()
    expect(panel.locator("[data-testid=room-status]")).to_have_text("Expired: visitor blocked")
    expect(panel.locator("[data-testid=room-panel]")).to_contain_text("Peter blocked the visitor")
    expect(row).to_have_count(0)
    # The visitor's page was told.
    _until(linda, lambda: {"type": "banned"} in told)

    ban = Ban.objects.get()
    assert (ban.reason, ban.address, ban.created_by_id) == ("Insults <script>alert(1)</script>", "127.0.0.1", peter.pk)

    # The chat button is gone from her page, and stays gone on the next one, which does not even
    # connect (a new hello would be refused: chat/tests/test_bans.py).
    expect(linda.locator("[data-testid=wp-launcher]")).to_have_count(0)
    linda.goto(f"http://{web_server}/demo/cart/")
    expect(linda.locator("[data-testid=wp-launcher]")).to_have_count(0)
    linda.wait_for_timeout(500)
    expect(row).to_have_count(0)
