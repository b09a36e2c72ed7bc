"""Who the visitor is (issue 23), as an operator sees it: the row says device, system, browser
and language; the room's side panel adds how the visit began (landing page, UTM campaign), the
pages of the visit as the visitor moves on, and a note colleagues see later."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_operator_sees_who_the_visitor_is_their_pages_and_keeps_a_note(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    landing = f"http://{web_server}/demo/?utm_source=newsletter&utm_campaign=spring"
    linda = open_page(landing, user_agent=IPHONE_SAFARI, locale="de-CH")

    row = panel.locator("[data-testid=visitor-row]")
    expect(row.locator("[data-testid=visitor-who]")).to_have_text("Phone · iOS 17.5 · Mobile Safari 17 · de-CH")
    # The page column shows the path, not the host; the whole URL is the link's.
    link = row.locator("[data-testid=visitor-page] a.url")
    expect(link).to_have_text("/demo/?utm_source=newsletter&utm_campaign=spring")
    expect(link).to_have_attribute("title", landing)

    row.locator("[data-testid=start-chat]").click()
    info = panel.locator("[data-testid=room-panel] [data-testid=visitor-info]")
    expect(info).to_be_visible()
    expect(info.locator("[data-testid=info-who]")).to_have_text("Phone · iOS 17.5 · Mobile Safari 17 · de-CH")
    expect(info.locator("[data-testid=info-visits]")).to_have_text("1st visit")
    expect(info.locator("[data-testid=info-landing]")).to_have_text("/demo/?utm_source=newsletter&utm_campaign=spring")
    expect(info.locator("[data-testid=info-utm]")).to_contain_text("source: newsletter")
    expect(info.locator("[data-testid=info-utm]")).to_contain_text("campaign: spring")
    trail = info.locator("[data-testid=trail-item] [data-testid=trail-url]")
    expect(trail).to_have_text(["/demo/?utm_source=newsletter&utm_campaign=spring"])

    # The trail grows as she moves on, newest first, with times.
    linda.goto(f"http://{web_server}/demo/product/wool-socks/")
    expect(trail).to_have_text(["/demo/product/wool-socks/", "/demo/?utm_source=newsletter&utm_campaign=spring"])
    linda.goto(f"http://{web_server}/demo/cart/")
    expect(trail.first).to_have_text("/demo/cart/")
    expect(trail).to_have_count(3)
    expect(info.locator("[data-testid=trail-item] time").first).not_to_be_empty()
    # The landing page stays the one she came in on.
    expect(info.locator("[data-testid=info-landing]")).to_have_text("/demo/?utm_source=newsletter&utm_campaign=spring")

    # A note, written once, seen again after a reload (and by colleagues: the API test).
    info.locator("[data-testid=visitor-note]").fill("Wants the socks in size 42 <b>soon</b>")
    info.locator("[data-testid=save-note]").click()
    expect(info.locator("[data-testid=note-by]")).to_contain_text("by Peter")
    panel.reload()
    info = panel.locator("[data-testid=room-panel] [data-testid=visitor-info]")
    expect(info.locator("[data-testid=visitor-note]")).to_have_value("Wants the socks in size 42 <b>soon</b>")
    expect(info.locator("[data-testid=note-by]")).to_contain_text("by Peter")

    # Folded away, and back.
    panel.locator("[data-testid=info-toggle]").click()
    expect(info).to_be_hidden()
    panel.locator("[data-testid=info-toggle]").click()
    expect(info).to_be_visible()


def test_operator_sees_a_verified_visitor_with_the_sites_attributes_and_events(
    web_server, site, peter, panel_for, open_page
):
    """Issue 25: what the site's own code said through the snippet's API (identify, setAttributes,
    track), driven here through the services its frames call (chat/tests/test_identity.py drives
    the frames): a Verified badge with the site's id of the person, a key/value list, the events
    newest first with their times, all as text."""
    from chat.identity import visitor_identify_verified
    from visitors.models import Visitor
    from visitors.services import site_rotate_identity_secret, visitor_attributes_update, visitor_event_track
    from visitors.verified import identity_hash

    panel = panel_for(peter)
    open_page(f"http://{web_server}/demo/")
    row = panel.locator("[data-testid=visitor-row]")
    expect(row).to_have_count(1)
    visitor_id = Visitor.objects.get(site=site, online=True).pk
    secret = site_rotate_identity_secret(site_id=site.pk)
    visitor_identify_verified(visitor_id=visitor_id, external_id="user-42", signature=identity_hash(secret, "user-42"))
    visitor_attributes_update(visitor_id=visitor_id, attributes={"plan": "pro", "cart_total": 42.5, "vip": True})
    visitor_attributes_update(visitor_id=visitor_id, attributes={"note": "<img src=x onerror=alert(1)>"})
    for name in ("added_to_cart", "checkout started"):
        visitor_event_track(visitor_id=visitor_id, name=name)

    row.locator("[data-testid=start-chat]").click()
    info = panel.locator("[data-testid=room-panel] [data-testid=visitor-info]")
    expect(info.locator("[data-testid=info-verified]")).to_have_text("Verified user-42")
    attributes = info.locator("[data-testid=info-attributes]")
    # By name, on every database (PostgreSQL's jsonb keeps no order).
    expect(attributes.locator("dt")).to_have_text(["cart_total", "note", "plan", "vip"])
    expect(attributes.locator("dd")).to_have_text(["42.5", "<img src=x onerror=alert(1)>", "pro", "true"])
    expect(attributes.locator("img")).to_have_count(0)
    events = info.locator("[data-testid=info-event]")
    expect(events.locator(".event-name")).to_have_text(["checkout started", "added_to_cart"])
    expect(events.locator("time").first).not_to_be_empty()


def test_an_anonymous_visitor_shows_no_badge_and_no_empty_lists(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=visitor-row] [data-testid=start-chat]").click()
    info = panel.locator("[data-testid=room-panel] [data-testid=visitor-info]")
    expect(info.locator("[data-testid=info-who]")).not_to_be_empty()
    expect(info.locator("[data-testid=info-verified]")).to_be_hidden()
    expect(info.locator("[data-testid=info-attributes]")).to_be_hidden()
    expect(info.locator("[data-testid=info-events]")).to_be_hidden()
    expect(info.get_by_role("heading", name="Attributes")).to_be_hidden()
