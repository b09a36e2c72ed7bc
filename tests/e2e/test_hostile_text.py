"""Visitor-supplied text is shown as text in the panel: never markup, never a live script."""

import contextlib
import json

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from chat.models import Room
from conftest import PASSWORD
from tests.owners import make_staff
from visitors.models import Visitor

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


# Cases 1 and 2 of docs/security.md: a forged client sends what no browser page would, and the
# panel, the transcript and admin show it as inert text.

ATTACKS = {
    "url": "javascript:alert('url')//http://shop.test/",
    "title": '<img src=x onerror=alert("title")><script>alert("title")</script>',
    "referrer": "data:text/html,<script>alert('referrer')</script>",
    "body": 'see javascript:alert("msg") or <a href="javascript:alert(5)">this</a> <svg onload=alert(6)>',
}
LIVE_MARKUP = "img[src=x], svg[onload], a[href^='javascript:' i], a[href^='data:' i], iframe, object, embed"


@contextlib.contextmanager
def forged_visitor(web_server: str):
    """A hand-made websocket client on the demo site: it may send any page, title and referrer."""
    with connect(f"ws://{web_server}/ws/visitor/?site=demo", origin=f"http://{web_server}") as socket:
        socket.send(json.dumps({"type": "hello", "token": None}))
        assert json.loads(socket.recv(timeout=5))["type"] == "welcome"
        socket.send(json.dumps({"type": "page", **{k: ATTACKS[k] for k in ("url", "title", "referrer")}}))
        socket.send(json.dumps({"type": "message", "body": ATTACKS["body"], "client_id": "x"}))
        yield socket


def assert_inert(page) -> None:
    expect(page.locator(LIVE_MARKUP)).to_have_count(0)
    assert page.locator("script:not([src])").count() == page.locator("script[type='application/json']").count()
    page.wait_for_timeout(300)  # a stray handler's chance to fire
    assert page.dialogs == []


def test_forged_urls_and_markup_stay_text_in_panel_transcript_and_admin(web_server, site, peter, panel_for, open_page):
    panel = panel_for(peter)
    with forged_visitor(web_server):
        row = panel.locator("[data-testid=visitor-row]")
        expect(row.locator("[data-testid=visitor-page]")).to_contain_text(ATTACKS["title"])
        expect(row.locator("[data-testid=visitor-referrer]")).to_contain_text(ATTACKS["referrer"])
        pool_item = panel.locator("[data-testid=pool-item]")
        expect(pool_item.locator("[data-testid=pool-message]")).to_have_text(ATTACKS["body"])
        pool_item.locator("[data-testid=accept]").click()
        transcript = panel.locator("[data-testid=room-panel] [data-testid=transcript]")
        expect(transcript.locator("[data-testid=message][data-sender=visitor]")).to_contain_text(ATTACKS["body"])
        # The javascript: page is shown, never linked (only http and https URLs become links).
        assert "javascript:" in panel.locator("[data-testid=room-visitor-page]").first.inner_text() + row.inner_text()
        assert_inert(panel)

        # The site's owner reads the same in admin: the visitor's pages and the transcript.
        owner = make_staff("owner", site)
        admin = open_page(f"http://{web_server}/admin/login/?next=/admin/")
        admin.fill("input[name=username]", owner.username)
        admin.fill("input[name=password]", PASSWORD)
        admin.click("input[type=submit]")
        admin.wait_for_url("**/admin/")
        visitor = Visitor.objects.get(site=site)
        room = Room.objects.get(visitor=visitor)
        shown = {
            "/admin/visitors/visitor/": ATTACKS["title"],
            f"/admin/visitors/visitor/{visitor.pk}/change/": ATTACKS["referrer"],
            "/admin/chat/room/": None,
            f"/admin/chat/room/{room.pk}/change/": ATTACKS["body"],  # the transcript
            "/admin/chat/message/": None,
        }
        for path, text in shown.items():
            admin.goto(f"http://{web_server}{path}")
            if text:
                expect(admin.locator("#content")).to_contain_text(text)
            assert_inert(admin)


def test_panel_runs_under_its_policy_and_the_policy_stops_injected_script(web_server, peter, open_page):
    """Case 11: the Content-Security-Policy the panel is served with breaks nothing of the panel
    and would stop a script that got into the page despite all of the above."""
    panel = open_page(f"http://{web_server}/operators/login/")
    panel.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.violations.push(e.violatedDirective));"
    )
    panel.fill("input[name=username]", peter.user.username)
    panel.fill("input[name=password]", PASSWORD)
    panel.click("button[type=submit]")
    panel.wait_for_url("**/panel/")
    expect(panel.locator("[data-testid=connection-status]")).to_have_attribute("data-state", "online")
    assert panel.evaluate("window.violations") == []

    outcome = panel.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener("securitypolicyviolation", e => resolve("blocked " + e.violatedDirective));
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            setTimeout(() => resolve(window.injected ? "ran" : "neither"), 2000);
        })"""
    )
    assert outcome.startswith("blocked script-src")


def test_bidirectional_controls_in_visitor_text_reorder_nothing_around_it(web_server, site, peter, panel_for):
    """Issue 21: a right-to-left override (U+202E) left open in a page title turned the rest of
    its line around, the page's address after it included. Visitor text is isolated (dir="auto"):
    the address stays to the right of the title, and our own words ("on", "from") before theirs."""
    panel = panel_for(peter)
    with connect(f"ws://{web_server}/ws/visitor/?site=demo", origin=f"http://{web_server}") as socket:
        socket.send(json.dumps({"type": "hello", "token": None}))
        assert json.loads(socket.recv(timeout=5))["type"] == "welcome"
        page = {"url": "http://shop.test/boots", "title": "\u202eBoots on sale", "referrer": "http://ref.test/\u202ex"}
        socket.send(json.dumps({"type": "page", **page}))
        socket.send(json.dumps({"type": "message", "body": "\u202eIs this \u2067real\u200b?", "client_id": "b"}))

        pool_item = panel.locator("[data-testid=pool-item]")
        expect(pool_item.locator("[data-testid=pool-message]")).to_have_text("\u202eIs this \u2067real\u200b?")
        # "on" and "from" are ours, outside the visitor's text.
        expect(pool_item.locator("[data-testid=pool-page] bdi")).to_have_text(page["title"])
        referrer = panel.locator("[data-testid=visitor-referrer]")
        expect(referrer.locator("bdi")).to_have_text(page["referrer"])
        isolated = "n => getComputedStyle(n).unicodeBidi"
        assert pool_item.locator("[data-testid=pool-message]").evaluate(isolated) in ("isolate", "plaintext")
        pool_item.locator("[data-testid=accept]").click()
        header = panel.locator("[data-testid=room-panel] [data-testid=room-visitor-page]")
        expect(header).to_contain_text("Boots on sale")
        title, url = header.locator(".page-title"), header.locator(".url")
        assert url.bounding_box()["x"] >= title.bounding_box()["x"] + title.bounding_box()["width"] - 1
        body = panel.locator("[data-testid=room-panel] [data-testid=message-body]").first
        for node in (title, url, body):
            assert node.evaluate(isolated) in ("isolate", "plaintext")
