"""The visitor socket at the socket level (SPEC §3, R1, R2): in-process consumers on the real
Redis channel layer and database; R2's expiry windows run against the real Celery sweeper."""

import json
import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from conftest import OTHER_ORIGIN, SITE_ORIGIN
from tests.sockets import ask_to_chat, of_type
from visitors.models import PageView
from visitors.services import page_views_flush

pytestmark = pytest.mark.django_db(transaction=True)


def visitor_event(visitor_id: int, **fields):
    return of_type("visitor", visitor__id=visitor_id, **{f"visitor__{k}": v for k, v in fields.items()})


async def page(client, url: str, title: str = "", referrer: str = "") -> None:
    """Report a page and wait until the server has handled it (frames are handled in order)."""
    await client.send(type="page", url=url, title=title, referrer=referrer)
    await client.ask("pong", type="ping")


def leave_window() -> float:
    """From a disconnect, by when the sweep has made a visitor without sockets leave (R3, R13)."""
    return settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 2


# hello / welcome ------------------------------------------------------------


async def test_hello_without_token_gets_a_new_visitor_and_token(sockets, site):
    linda = await sockets.visitor(token=None)
    welcome = linda.welcome
    assert isinstance(welcome["visitor"], int)
    assert isinstance(welcome["token"], str)
    assert len(welcome["token"]) >= 32
    assert welcome["room"] is None
    other = await sockets.visitor(token=None)
    assert other.welcome["visitor"] != welcome["visitor"]
    assert other.welcome["token"] != welcome["token"]


async def test_token_gives_the_same_visitor_in_another_tab(sockets, site):
    first_tab = await sockets.visitor()
    second_tab = await sockets.visitor(token=first_tab.welcome["token"])
    assert second_tab.welcome["visitor"] == first_tab.welcome["visitor"]
    assert second_tab.welcome["token"] == first_tab.welcome["token"]
    # Both tabs are live sockets of the same visitor.
    await first_tab.ask("pong", type="ping")
    await second_tab.ask("pong", type="ping")


async def test_forged_token_starts_a_new_visitor(sockets, site):
    linda = await sockets.visitor()
    forged = await sockets.visitor(token=linda.welcome["token"][:-2] + "xx")
    assert forged.welcome["visitor"] != linda.welcome["visitor"]
    assert forged.welcome["token"] not in (linda.welcome["token"], linda.welcome["token"][:-2] + "xx")


async def test_token_of_another_sites_visitor_starts_a_new_visitor(sockets, site, other_site):
    elsewhere = await sockets.visitor("other", origin=OTHER_ORIGIN)
    here = await sockets.visitor(token=elsewhere.welcome["token"])
    assert here.welcome["visitor"] != elsewhere.welcome["visitor"]
    assert here.welcome["token"] != elsewhere.welcome["token"]


async def test_frame_before_hello_gets_hello_first_and_hello_still_works(sockets, site):
    linda = await sockets.visitor(hello=False)
    for frame in ({"type": "ping"}, {"type": "message", "body": "hi"}, {"type": "page", "url": "http://shop.test/"}):
        error = await linda.ask("error", **frame)
        assert error["code"] == "hello_first"
    welcome = await linda.ask("welcome", type="hello", token=None)
    assert isinstance(welcome["visitor"], int)
    # Saying hello in time keeps the socket open past the hello timeout.
    await linda.expect_none("error", within=settings.WP_HELLO_TIMEOUT + 0.5)
    await linda.ask("pong", type="ping")


async def test_socket_without_hello_is_closed_after_the_hello_timeout(sockets, site):
    linda = await sockets.visitor(hello=False)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="socket closed"):
        await linda.expect("welcome", timeout=settings.WP_HELLO_TIMEOUT + 3)
    assert linda.closed_code == 4008
    assert time.monotonic() - started >= settings.WP_HELLO_TIMEOUT - 0.1


async def test_second_hello_is_not_allowed(sockets, site):
    linda = await sockets.visitor()
    error = await linda.ask("error", type="hello", token=None)
    assert error["code"] == "not_allowed"
    await linda.ask("pong", type="ping")


# Origin and site --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "origin"),
    [
        pytest.param("/ws/visitor/?site=shop", b"http://evil.test", id="foreign-origin"),
        pytest.param("/ws/visitor/?site=shop", None, id="missing-origin"),
        pytest.param("/ws/visitor/?site=shop", b"http://shop.test.evil.com", id="look-alike-origin"),
        pytest.param("/ws/visitor/?site=shop", b"https://shop.test", id="other-scheme"),
        pytest.param("/ws/visitor/?site=shop", b"null", id="null-origin"),
        pytest.param("/ws/visitor/?site=nosuchsite", SITE_ORIGIN.encode(), id="unknown-site"),
        pytest.param("/ws/visitor/", SITE_ORIGIN.encode(), id="no-site"),
    ],
)
async def test_visitor_socket_is_refused_at_the_handshake(sockets, site, path, origin):
    headers = [(b"origin", origin)] if origin is not None else []
    assert await sockets.refused(path, headers)


async def test_visitor_socket_from_the_sites_own_origin_is_accepted(sockets, site):
    assert not await sockets.refused("/ws/visitor/?site=shop", [(b"origin", SITE_ORIGIN.encode())])
    headers = [(b"origin", SITE_ORIGIN.encode()), (b"host", b"testserver")]
    assert not await sockets.refused("/ws/visitor/?site=shop", headers)


@pytest.mark.parametrize("host", [b"evil.example", b"evil.example:443", b"testserver.evil.example"])
async def test_visitor_socket_to_a_host_this_server_is_not_is_refused(sockets, site, host):
    """Issue 21: the handshake's Host must be one of ALLOWED_HOSTS, as for any HTTP request."""
    assert await sockets.refused("/ws/visitor/?site=shop", [(b"origin", SITE_ORIGIN.encode()), (b"host", host)])


# R1: pages reach the panel -------------------------------------------------------


async def test_page_reaches_every_operator_of_the_site_and_no_other(sockets, site, peter, jane, olga):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    olga_panel = await sockets.operator(olga)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]

    await linda.send(type="page", url="http://shop.test/shoes", title="Shoes", referrer="https://search.test/?q=x")
    for panel in (peter_panel, jane_panel):
        event = await panel.expect(visitor_event(visitor_id, url="http://shop.test/shoes"))
        visitor = event["visitor"]
        assert visitor["title"] == "Shoes"
        assert visitor["referrer"] == "https://search.test/?q=x"
        assert visitor["online"] is True
        assert visitor["pages"] == 1

    await linda.send(type="page", url="http://shop.test/cart", title="Cart", referrer="http://shop.test/shoes")
    for panel in (peter_panel, jane_panel):
        event = await panel.expect(visitor_event(visitor_id, url="http://shop.test/cart"))
        assert event["visitor"]["title"] == "Cart"
        assert event["visitor"]["referrer"] == "http://shop.test/shoes"
        assert event["visitor"]["pages"] == 2

    await olga_panel.expect_none(lambda frame: frame["type"] in ("visitor", "visitor_gone"), within=1.0)


async def test_operator_connecting_later_sees_the_visitor_on_the_current_page(sockets, site, peter):
    linda = await sockets.visitor()
    await page(linda, "http://shop.test/", "Home")
    await page(linda, "http://shop.test/socks", "Socks", "http://shop.test/")

    panel = await sockets.operator(peter)
    visitors = {visitor["id"]: visitor for visitor in panel.snapshot["visitors"]}
    visitor = visitors[linda.welcome["visitor"]]
    assert visitor["url"] == "http://shop.test/socks"
    assert visitor["title"] == "Socks"
    assert visitor["referrer"] == "http://shop.test/"
    assert visitor["online"] is True
    assert visitor["pages"] == 2


async def test_single_page_app_navigations_each_update_the_panel(sockets, site, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    urls = ["http://shop.test/app", "http://shop.test/app#/shoes", "http://shop.test/app/shoes/42"]
    for url in urls:
        await linda.send(type="page", url=url, title="App", referrer="")
    for pages, url in enumerate(urls, start=1):
        event = await panel.expect(visitor_event(visitor_id, url=url))
        assert event["visitor"]["pages"] == pages


# The hello that carries its page and asks for history (extensions) -----------------


async def test_page_carried_by_the_hello_reaches_the_panel_in_one_event_per_navigation(sockets, site, peter):
    panel = await sockets.operator(peter)
    landing = {"url": "http://shop.test/shoes", "title": "Shoes", "referrer": "https://search.test/?q=boots"}
    linda = await sockets.visitor(hello=False)
    welcome = await linda.ask("welcome", type="hello", token=None, page=landing)
    visitor_id = welcome["visitor"]
    assert "messages" not in welcome  # not asked for
    event = await panel.expect(visitor_event(visitor_id, url="http://shop.test/shoes"))
    assert (event["visitor"]["title"], event["visitor"]["referrer"]) == ("Shoes", "https://search.test/?q=boots")
    assert (event["visitor"]["online"], event["visitor"]["pages"]) == (True, 1)

    # The next page: a new socket, its hello with the new page.
    await linda.close()
    cart = {"url": "http://shop.test/cart", "title": "Cart", "referrer": "http://shop.test/shoes"}
    next_page = await sockets.visitor(hello=False)
    await next_page.ask("welcome", type="hello", token=welcome["token"], page=cart)
    event = await panel.expect(visitor_event(visitor_id, url="http://shop.test/cart"))
    assert event["visitor"]["pages"] == 2
    # One event per navigation, not one for the arrival and one for the page.
    await panel.expect_none(of_type("visitor", visitor__id=visitor_id), within=0.5)

    fresh = await sockets.operator(peter)
    visitor = {v["id"]: v for v in fresh.snapshot["visitors"]}[visitor_id]
    assert (visitor["url"], visitor["title"], visitor["pages"]) == ("http://shop.test/cart", "Cart", 2)
    await database_sync_to_async(page_views_flush)(wait=True)  # the page views wait in Redis
    views = await database_sync_to_async(list)(PageView.objects.filter(visitor_id=visitor_id).values_list("url"))
    assert sorted(views) == [("http://shop.test/cart",), ("http://shop.test/shoes",)]


async def test_hello_asking_for_history_gets_the_rooms_messages_in_its_welcome(sockets, site, peter):
    linda = await sockets.visitor()
    ids = []
    for n, body in enumerate(["one", "two", "three"]):
        ack = await linda.ask(of_type("ack", client_id=f"c{n}"), type="message", body=body, client_id=f"c{n}")
        ids.append(ack["id"])
    token = linda.welcome["token"]

    everything = await sockets.visitor(hello=False)
    welcome = await everything.ask("welcome", type="hello", token=token, history=0)
    assert [m["body"] for m in welcome["messages"]] == ["one", "two", "three"]
    assert welcome["room"]["status"] == "pending"
    later = await sockets.visitor(hello=False)
    welcome = await later.ask("welcome", type="hello", token=token, history=ids[0], page={"url": "http://shop.test/"})
    assert [m["id"] for m in welcome["messages"]] == ids[1:]
    # A new visitor has none.
    stranger = await sockets.visitor(hello=False)
    assert (await stranger.ask("welcome", type="hello", token=None, history=0))["messages"] == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        pytest.param({"page": "http://shop.test/"}, "invalid", id="page-not-an-object"),
        pytest.param({"page": {"title": "No url"}}, "invalid", id="page-without-url"),
        pytest.param({"page": {"url": "http://shop.test/", "title": 7}}, "invalid", id="page-title-not-string"),
        pytest.param(
            {"page": {"url": "http://shop.test/" + "a" * settings.WP_MAX_URL_LENGTH}},
            "too_long",
            id="page-url-too-long",
        ),
        pytest.param({"history": -1}, "invalid", id="history-negative"),
        pytest.param({"history": "0"}, "invalid", id="history-string"),
    ],
)
async def test_hello_with_a_bad_page_or_history_is_refused_and_may_be_said_again(sockets, site, peter, fields, code):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor(hello=False)
    error = await linda.ask("error", type="hello", token=None, **fields)
    assert (error["code"], error["for"]) == (code, "hello")
    await panel.expect_none("visitor", within=0.3)  # nobody arrived
    welcome = await linda.ask("welcome", type="hello", token=None, page={"url": "http://shop.test/ok"})
    await panel.expect(visitor_event(welcome["visitor"], url="http://shop.test/ok"))


# R2: online while connected; a short disconnect does not make a visitor leave --


async def test_idle_visitor_stays_online_beyond_the_visitor_timeout(sockets, site, peter, jane, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    await page(linda, "http://shop.test/long-article", "Long read")
    # Control: a visitor who does leave is seen leaving in this same window, so the sweep runs.
    ghost = await sockets.visitor()
    await ghost.close()

    await panel.expect(of_type("visitor_gone", visitor=ghost.welcome["visitor"]), timeout=leave_window())
    # Long enough for an unrenewed presence lease to run out and its leave deadline to pass.
    idle = settings.WP_PRESENCE_LEASE + settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 1
    await panel.expect_none(of_type("visitor_gone", visitor=linda.welcome["visitor"]), within=idle)

    fresh = await sockets.operator(jane)
    online = {visitor["id"]: visitor for visitor in fresh.snapshot["visitors"]}
    assert online[linda.welcome["visitor"]]["online"] is True
    assert online[linda.welcome["visitor"]]["url"] == "http://shop.test/long-article"
    await linda.ask("pong", type="ping")


async def test_page_change_reconnect_keeps_visitor_and_room(sockets, site, peter, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id, token = linda.welcome["visitor"], linda.welcome["token"]
    await page(linda, "http://shop.test/shoes", "Shoes")
    room = (await ask_to_chat(linda))["room"]
    await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])
    ghost = await sockets.visitor()

    # Next page: the old socket closes, the new one says hello with the same token.
    await linda.close()
    await ghost.close()
    next_page = await sockets.visitor(token=token)
    assert next_page.welcome["visitor"] == visitor_id
    assert next_page.welcome["room"]["id"] == room["id"]
    assert next_page.welcome["room"]["status"] == "active"
    await page(next_page, "http://shop.test/cart", "Cart", "http://shop.test/shoes")

    await panel.expect(of_type("visitor_gone", visitor=ghost.welcome["visitor"]), timeout=leave_window())
    await panel.expect_none(of_type("visitor_gone", visitor=visitor_id), within=1.5)
    await panel.expect_none(of_type("room", room__id=room["id"], room__status="expired"), within=0.1)

    # A tab opened now is told the room is still live with the same operator.
    another_tab = await sockets.visitor(token=token)
    assert another_tab.welcome["room"]["id"] == room["id"]
    assert another_tab.welcome["room"]["status"] == "active"
    assert another_tab.welcome["room"]["operator"]["id"] == peter.pk
    ack = await panel.ask("ack", type="message", room=room["id"], body="Found the cart?", client_id="p1")
    message = await next_page.expect(of_type("message", message__id=ack["id"]))
    assert message["message"]["body"] == "Found the cart?"


async def test_visitor_closing_one_of_two_tabs_stays_online(sockets, site, peter, jane, sweeper):
    panel = await sockets.operator(peter)
    first_tab = await sockets.visitor()
    visitor_id = first_tab.welcome["visitor"]
    second_tab = await sockets.visitor(token=first_tab.welcome["token"])
    await page(second_tab, "http://shop.test/compare", "Compare")
    ghost = await sockets.visitor()

    await first_tab.close()
    await ghost.close()
    await panel.expect(of_type("visitor_gone", visitor=ghost.welcome["visitor"]), timeout=leave_window())
    await panel.expect_none(of_type("visitor_gone", visitor=visitor_id), within=1.5)

    fresh = await sockets.operator(jane)
    assert visitor_id in {visitor["id"] for visitor in fresh.snapshot["visitors"]}
    await second_tab.ask("pong", type="ping")


# ping, history ------------------------------------------------------------------


async def test_ping_gets_pong(sockets, site):
    linda = await sockets.visitor()
    assert await linda.ask("pong", type="ping") == {"type": "pong"}


async def test_history_after_a_message_returns_only_later_ones_in_order(sockets, site):
    linda = await sockets.visitor()
    ids = []
    for n, body in enumerate(["one", "two", "three"]):
        ack = await linda.ask(of_type("ack", client_id=f"c{n}"), type="message", body=body, client_id=f"c{n}")
        ids.append(ack["id"])
    assert ids == sorted(ids)

    history = await linda.ask("history", type="history", after=ids[0])
    assert [m["id"] for m in history["messages"]] == ids[1:]
    assert [m["body"] for m in history["messages"]] == ["two", "three"]
    assert all(m["sender"] == "visitor" for m in history["messages"])

    everything = await linda.ask("history", type="history", after=0)
    assert [m["body"] for m in everything["messages"]] == ["one", "two", "three"]
    nothing_new = await linda.ask("history", type="history", after=ids[-1])
    assert nothing_new["messages"] == []


# Bad input: an error frame, the socket stays usable, nothing stored is lost -------


def _frame(**fields) -> str:
    return json.dumps(fields)


BAD_FRAMES = [
    pytest.param(lambda: "this is not json", "bad_json", id="not-json"),
    pytest.param(lambda: '{"type": "ping"', "bad_json", id="truncated-json"),
    pytest.param(lambda: '[{"type": "ping"}]', "bad_json", id="json-array"),
    pytest.param(lambda: '"ping"', "bad_json", id="json-string"),
    pytest.param(lambda: "42", "bad_json", id="json-number"),
    pytest.param(lambda: b'{"type": "ping"}', "bad_json", id="binary-frame"),
    pytest.param(lambda: "[" * 65000, "bad_json", id="deeply-nested-arrays"),
    pytest.param(lambda: '{"type":"message","body":' + "[" * 30000 + "]" * 30000 + "}", "bad_json", id="nested-value"),
    pytest.param(lambda: _frame(type="dance"), "unknown_type", id="unknown-type"),
    pytest.param(lambda: _frame(type=5), "unknown_type", id="type-number"),
    pytest.param(lambda: _frame(type=None), "unknown_type", id="type-null"),
    pytest.param(lambda: _frame(body="hi"), "unknown_type", id="type-missing"),
    pytest.param(lambda: _frame(type="message"), "invalid", id="message-without-body"),
    pytest.param(lambda: _frame(type="message", body=123), "invalid", id="body-not-string"),
    pytest.param(lambda: _frame(type="message", body=["hi"]), "invalid", id="body-list"),
    pytest.param(lambda: _frame(type="message", body=""), "invalid", id="body-empty"),
    pytest.param(lambda: _frame(type="message", body="   \n"), "invalid", id="body-blank"),
    pytest.param(
        lambda: _frame(type="message", body="x" * (settings.WP_MAX_MESSAGE_LENGTH + 1)), "too_long", id="body-too-long"
    ),
    pytest.param(lambda: _frame(type="message", body="hi", client_id=7), "invalid", id="client-id-not-string"),
    pytest.param(
        lambda: _frame(type="page", url="http://shop.test/" + "a" * settings.WP_MAX_URL_LENGTH, title="", referrer=""),
        "too_long",
        id="page-url-too-long",
    ),
    pytest.param(lambda: _frame(type="page", title="No url"), "invalid", id="page-without-url"),
    pytest.param(lambda: _frame(type="history", after="x"), "invalid", id="history-after-string"),
    pytest.param(lambda: _frame(type="history", after=-1), "invalid", id="history-after-negative"),
    pytest.param(lambda: _frame(type="history", after=True), "invalid", id="history-after-true"),
    pytest.param(lambda: _frame(type="history", after=1.5), "invalid", id="history-after-float"),
    pytest.param(lambda: _frame(type="history", after=2**70), "invalid", id="history-after-huge"),
    pytest.param(lambda: _frame(type="accept", room=1), "not_allowed", id="visitor-accept"),
    pytest.param(lambda: _frame(type="start", visitor=1), "not_allowed", id="visitor-start"),
    pytest.param(lambda: _frame(type="reopen", room=1), "not_allowed", id="visitor-reopen"),
    pytest.param(lambda: _frame(type="snapshot"), "not_allowed", id="visitor-snapshot"),
]


@pytest.mark.parametrize(("make_frame", "code"), BAD_FRAMES)
async def test_bad_frame_gets_an_error_and_the_socket_stays_usable(sockets, site, make_frame, code):
    linda = await sockets.visitor()
    await linda.ask("ack", type="message", body="kept", client_id="before")

    frame = make_frame()
    if isinstance(frame, bytes):
        await linda.send_bytes(frame)
    else:
        await linda.send_raw(frame)
    error = await linda.expect("error")
    assert error["code"] == code
    assert error["detail"]

    await linda.ask("pong", type="ping")
    await linda.ask(of_type("ack", client_id="after"), type="message", body="still here", client_id="after")
    history = await linda.ask("history", type="history", after=0)
    assert [m["body"] for m in history["messages"]] == ["kept", "still here"]


async def test_message_at_the_length_limit_is_stored(sockets, site):
    linda = await sockets.visitor()
    body = "y" * settings.WP_MAX_MESSAGE_LENGTH
    ack = await linda.ask("ack", type="message", body=body)
    history = await linda.ask("history", type="history", after=0)
    assert [(m["id"], m["body"]) for m in history["messages"]] == [(ack["id"], body)]


async def test_frame_over_64_kib_closes_the_socket_with_4009(sockets, site):
    """Under daphne no such message reaches the consumer (it refuses it first, with 1009); on
    another server the consumer's own check closes with 4009: daphne takes no other code than
    1000 and 3000-4999 from an application, and answered 1009 with 1011 (issue 21, case 2)."""
    linda = await sockets.visitor()
    await linda.send(type="message", body="z" * (settings.WP_MAX_FRAME_BYTES + 1))
    with pytest.raises(AssertionError, match="socket closed"):
        await linda.expect("ack", timeout=5)
    assert linda.closed_code == 4009
    # The oversized message was not stored: a new tab of the visitor sees no history.
    next_tab = await sockets.visitor(token=linda.welcome["token"])
    history = await next_tab.ask("history", type="history", after=0)
    assert history["messages"] == []
