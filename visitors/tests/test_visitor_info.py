"""Who the visitor is (issue 23): browser, OS, device and language from the socket's headers,
the landing page with its UTM parameters and visits so far, written once when a visit starts
(never per page event); the page trail and the operators' note, read one visitor at a time
over the API."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.expiry import sweep
from tests.api import client_for, error_of, make_user, make_visitor
from visitors.clients import client_of, first_language, utm_of
from visitors.models import Visitor
from visitors.tests.test_visits import navigate, statements, visitor_event  # noqa: F401 - a fixture
from visitors.visits import visits

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36"
)
DESKTOP_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPAD_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

LANDING = {
    "url": "http://shop.test/boots?utm_source=newsletter&utm_medium=email&utm_campaign=spring&size=42",
    "title": "Boots",
    "referrer": "https://mail.test/inbox",
}
SHOES = {"url": "http://shop.test/shoes", "title": "Shoes", "referrer": LANDING["url"]}
CART = {"url": "http://shop.test/cart", "title": "Cart", "referrer": SHOES["url"]}


def headers(user_agent: str = IPHONE_SAFARI, language: str = "de-CH,de;q=0.9,en;q=0.8") -> list[tuple[bytes, bytes]]:
    return [(b"user-agent", user_agent.encode()), (b"accept-language", language.encode())]


# Parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "browser", "os", "device"),
    [
        (IPHONE_SAFARI, "Mobile Safari 17", "iOS 17.5", "phone"),
        (ANDROID_CHROME, "Chrome Mobile 126", "Android 14", "phone"),
        (DESKTOP_FIREFOX, "Firefox 128", "Windows 10", "desktop"),
        (IPAD_SAFARI, "Mobile Safari 17", "iOS 17.5", "tablet"),
        (GOOGLEBOT, "Googlebot 2", "", "bot"),
        ("", "", "", ""),
        ("no browser at all", "", "", ""),
    ],
    ids=["iphone", "android", "firefox", "ipad", "googlebot", "empty", "garbage"],
)
def test_browser_os_and_device_are_read_from_real_user_agents(user_agent, browser, os, device):
    client = client_of(user_agent=user_agent, accept_language=None)
    assert (client["browser"], client["os"], client["device"]) == (browser, os, device)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-CH,de;q=0.9,en;q=0.8", "de-CH"),
        ("en", "en"),
        ("*", ""),
        ("*;q=0.5, fr-FR", "fr-FR"),
        ("<script>alert(1)</script>", ""),
        ("x" * 300, ""),
        ("", ""),
        (None, ""),
    ],
)
def test_language_is_the_first_valid_tag_of_accept_language(header, language):
    assert first_language(header) == language


def test_utm_parameters_come_from_the_landing_url_each_cut_and_cleaned():
    url = "http://shop.test/?utm_source=news%00letter&utm_campaign=" + "s" * 500 + "&utm_term=%E2%80%AEboots&q=1"
    utm = utm_of(url)
    assert utm == {
        "utm_source": "newsletter",
        "utm_medium": "",
        "utm_campaign": "s" * 200,
        "utm_term": "boots",
        "utm_content": "",
    }
    assert utm_of("not a url [") == dict.fromkeys(utm, "")


# On the socket: written when a visit starts ---------------------------------------------------


@database_sync_to_async
def row(visitor_id: int) -> Visitor:
    return Visitor.objects.get(pk=visitor_id)


@pytest.mark.django_db(transaction=True)
async def test_the_panel_sees_browser_os_device_language_and_visits_on_every_page_event(sockets, site, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor(hello=False, headers=headers())
    welcome = await linda.ask("welcome", type="hello", token=None, page=LANDING)
    visitor_id = welcome["visitor"]
    who = {"browser": "Mobile Safari 17", "os": "iOS 17.5", "device": "phone", "language": "de-CH", "visits": 1}

    await panel.expect(visitor_event(visitor_id, url=LANDING["url"], **who))  # the visit's start: the database
    await navigate(linda, SHOES)  # a page of the visit in progress: Redis only
    await panel.expect(visitor_event(visitor_id, url=SHOES["url"], pages=2, **who))
    fresh = await sockets.operator(peter)
    shown = {v["id"]: v for v in fresh.snapshot["visitors"]}[visitor_id]
    assert {key: shown[key] for key in who} == who
    stored = await row(visitor_id)
    assert (stored.landing_url, stored.landing_referrer) == (LANDING["url"], LANDING["referrer"])
    assert (stored.utm_source, stored.utm_medium, stored.utm_campaign) == ("newsletter", "email", "spring")


@pytest.mark.django_db(transaction=True)
async def test_a_known_visitors_hello_and_page_events_still_touch_no_database(sockets, site, peter, statements):  # noqa: F811
    panel = await sockets.operator(peter)
    first = await sockets.visitor(hello=False, headers=headers())
    welcome = await first.ask("welcome", type="hello", token=None, page=LANDING)
    visitor_id = welcome["visitor"]
    await first.close()

    statements.clear()
    second = await sockets.visitor(hello=False, headers=headers(DESKTOP_FIREFOX, "fr"))
    await second.ask("welcome", type="hello", token=welcome["token"], page=SHOES)
    await navigate(second, CART)
    event = await panel.expect(visitor_event(visitor_id, url=CART["url"]))
    assert statements == []
    # A new tab in another browser is the same visit: what its start recorded stays.
    assert (event["visitor"]["browser"], event["visitor"]["language"]) == ("Mobile Safari 17", "de-CH")


@pytest.mark.django_db(transaction=True)
async def test_a_visitor_back_for_a_new_visit_counts_two_with_its_own_landing_page_and_browser(sockets, site, peter):
    linda = await sockets.visitor(hello=False, headers=headers())
    welcome = await linda.ask("welcome", type="hello", token=None, page=LANDING)
    visitor_id = welcome["visitor"]
    await linda.close()
    later = timezone.now() + timedelta(seconds=settings.WP_VISITOR_TIMEOUT + 1)
    await database_sync_to_async(sweep)(now=later)

    panel = await sockets.operator(peter)
    back = await sockets.visitor(hello=False, headers=headers(DESKTOP_FIREFOX, "en-GB"))
    await back.ask("welcome", type="hello", token=welcome["token"], page=CART)
    event = await panel.expect(visitor_event(visitor_id, url=CART["url"]))
    assert {k: event["visitor"][k] for k in ("browser", "device", "language", "visits")} == {
        "browser": "Firefox 128",
        "device": "desktop",
        "language": "en-GB",
        "visits": 2,
    }
    stored = await row(visitor_id)
    assert (stored.landing_url, stored.utm_source) == (CART["url"], "")


@pytest.mark.django_db(transaction=True)
async def test_hostile_headers_are_stored_cut_and_without_control_characters(sockets, site):
    user_agent = "Mozilla/5.0 \x00\u202e(evil)\x1b[31m " + "A" * 10_000 + " Firefox/128.0"
    raw = [(b"user-agent", user_agent.encode()), (b"accept-language", "\x00de\u202e;,<b>".encode())]
    linda = await sockets.visitor(hello=False, headers=raw)
    welcome = await linda.ask("welcome", type="hello", token=None, page=LANDING)

    stored = await row(welcome["visitor"])
    for value in (stored.browser, stored.os, stored.language):
        assert not any(ord(c) < 32 or c == "\u202e" for c in value)
    assert max(len(stored.browser), len(stored.os)) <= 100
    assert stored.language == ""


# Over the API: the detail and the note --------------------------------------------------------


def detail(user, visitor_id: int):
    return client_for(user).get(f"/api/visitors/{visitor_id}/")


def write_note(user, visitor_id: int, body):
    return client_for(user).patch(f"/api/visitors/{visitor_id}/", body, format="json")


@pytest.mark.django_db
def test_detail_lists_this_visits_pages_newest_first_including_those_not_yet_stored(site, peter):
    linda = make_visitor(site, url=LANDING["url"], since=timezone.now() - timedelta(minutes=10))
    earlier = timezone.now() - timedelta(days=2)
    linda.page_views.create(url="http://shop.test/last-week", at=earlier)  # an earlier visit's
    linda.page_views.create(url=LANDING["url"], title="Boots", at=linda.since)
    Visitor.objects.filter(pk=linda.pk).update(
        landing_url=LANDING["url"], utm_source="newsletter", browser="Firefox 128", visits=3
    )
    linda.refresh_from_db()
    visits.fill(linda, live_room_id=None, last_room_id=None)  # the visit in progress, in Redis
    for page in (SHOES, CART):  # waiting in the stream, not flushed
        async_to_sync(visits.page)(linda.pk, page=page, now=timezone.now())

    body = detail(peter.user, linda.pk).json()

    assert [page["url"] for page in body["trail"]] == [CART["url"], SHOES["url"], LANDING["url"]]
    assert body["trail"][-1]["title"] == "Boots"
    assert (body["url"], body["pages"], body["visits"], body["browser"]) == (CART["url"], 3, 3, "Firefox 128")
    assert (body["landing_url"], body["utm"]["source"], body["utm"]["medium"]) == (LANDING["url"], "newsletter", "")
    assert (body["note"], body["note_by"]) == ("", None)


@pytest.mark.django_db
def test_an_operator_writes_the_note_and_a_colleague_sees_it_with_their_name(site, peter, jane):
    linda = make_visitor(site)
    answer = write_note(peter.user, linda.pk, {"note": "Wants boots in size 42 <b>asap</b>"})
    assert answer.status_code == 200
    assert answer.json()["note"] == "Wants boots in size 42 <b>asap</b>"

    seen = detail(jane.user, linda.pk).json()
    assert (seen["note"], seen["note_by"]) == ("Wants boots in size 42 <b>asap</b>", peter.name)
    assert seen["note_at"] is not None
    cleared = write_note(jane.user, linda.pk, {"note": ""}).json()
    assert (cleared["note"], cleared["note_by"], cleared["note_at"]) == ("", None, None)


@pytest.mark.django_db
def test_another_sites_operator_finds_no_such_visitor_and_cannot_write_their_note(site, peter, olga):
    linda = make_visitor(site)
    assert error_of(detail(olga.user, linda.pk))["code"] == "not_found"
    assert error_of(write_note(olga.user, linda.pk, {"note": "mine"}))["code"] == "not_found"
    assert detail(olga.user, linda.pk).status_code == 404
    assert error_of(detail(peter.user, linda.pk + 1000))["code"] == "not_found"
    assert Visitor.objects.get(pk=linda.pk).note == ""


@pytest.mark.django_db
def test_a_site_owner_sees_the_visitor_but_only_operators_write_the_note(site, peter):
    linda = make_visitor(site)
    owner = make_user("owner", staff=True, owns=(site,))
    assert detail(owner, linda.pk).status_code == 200
    answer = write_note(owner, linda.pk, {"note": "hello"})
    assert (answer.status_code, error_of(answer)["code"]) == (403, "not_allowed")
    assert detail(None, linda.pk).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"note": "x" * 2001}, "too_long"),
        ({"note": 42}, "invalid"),
        ({"note": None}, "invalid"),
        ({}, "invalid"),
        ({"note": "a\x00b"}, "invalid"),
    ],
    ids=["too-long", "number", "null", "missing", "nul"],
)
def test_a_bad_note_is_refused_and_changes_nothing(site, peter, body, code):
    linda = make_visitor(site)
    write_note(peter.user, linda.pk, {"note": "kept"})
    answer = write_note(peter.user, linda.pk, body)
    assert (answer.status_code, error_of(answer)["code"]) == (400, code)
    assert Visitor.objects.get(pk=linda.pk).note == "kept"
