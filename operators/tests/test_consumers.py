"""The operator socket at the socket level (SPEC §3): the snapshot, who may connect,
presence of operators, and what an operator may act on. In-process consumers on the
real Redis channel layer and database."""

import json

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

import conftest
from tests.sockets import ask_to_chat, of_type, wait_closed

pytestmark = pytest.mark.django_db(transaction=True)


async def request_chat(sockets, site_key: str = "shop", origin: str = conftest.SITE_ORIGIN):
    """A visitor who opened the chat window: (their socket, their pooled room's id)."""
    visitor = await sockets.visitor(site_key, origin=origin)
    answer = await ask_to_chat(visitor, of_type("room", room__status="pending"))
    return visitor, answer["room"]["id"]


async def accept(panel, room_id: int) -> dict:
    answer = await panel.ask(of_type("room", room__id=room_id, room__status="active"), type="accept", room=room_id)
    return answer["room"]


def operator_headers(cookie: str | None, *, origin: str | None, host: str | None) -> list[tuple[bytes, bytes]]:
    headers = []
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    if host:
        headers.append((b"host", host.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return headers


def changed_for_visitor(frame: dict) -> bool:
    """What a visitor would notice if an operator's action had gone through."""
    if frame["type"] == "message":
        return frame["message"]["sender"] != "visitor"  # their own, the request's, are no news
    return frame["type"] == "room" and frame["room"]["status"] in ("closing", "expired")


# Snapshot -------------------------------------------------------------------------


async def test_snapshot_shows_own_sites_visitors_the_pool_and_own_rooms_only(
    sockets, site, other_site, peter, jane, olga, make_operator
):
    sam = await database_sync_to_async(make_operator)("sam", site, first_name="Sam")  # never connected
    jane_panel = await sockets.operator(jane)
    peter_first_panel = await sockets.operator(peter)

    linda, pool_room = await request_chat(sockets)
    await linda.send(type="page", url="http://shop.test/shoes", title="Shoes", referrer="")
    await linda.ask("pong", type="ping")
    mia, janes_room = await request_chat(sockets)
    await accept(jane_panel, janes_room)
    noah, peters_room = await request_chat(sockets)
    await accept(peter_first_panel, peters_room)
    browsing = await sockets.visitor()
    oscar, other_pool_room = await request_chat(sockets, "other", conftest.OTHER_ORIGIN)
    await database_sync_to_async(_offline_visitor)(site)

    panel = await sockets.operator(peter)
    snapshot = panel.snapshot
    assert snapshot["type"] == "snapshot"
    assert snapshot["operator"] == {"id": peter.pk, "name": "Peter", "online": True, "status": "available"}

    operators = {o["id"]: o for o in snapshot["operators"]}
    assert set(operators) == {peter.pk, jane.pk, sam.pk}
    assert operators[peter.pk]["online"] is True
    assert operators[jane.pk]["online"] is True
    assert operators[sam.pk]["online"] is False
    assert operators[jane.pk]["name"] == "Jane"

    visitors = {v["id"]: v for v in snapshot["visitors"]}
    shop_visitors = [linda, mia, noah, browsing]
    assert set(visitors) == {v.welcome["visitor"] for v in shop_visitors}
    assert oscar.welcome["visitor"] not in visitors
    assert all(v["online"] is True and v["site"] == site.pk for v in visitors.values())
    assert visitors[linda.welcome["visitor"]]["url"] == "http://shop.test/shoes"
    assert visitors[linda.welcome["visitor"]]["room"]["id"] == pool_room

    rooms = {r["id"]: r for r in snapshot["rooms"]}
    assert set(rooms) == {pool_room, peters_room}
    assert janes_room not in rooms
    assert other_pool_room not in rooms
    assert rooms[pool_room]["status"] == "pending"
    assert rooms[peters_room]["status"] == "active"
    assert rooms[peters_room]["operator"]["id"] == peter.pk


async def test_snapshot_carries_the_limits_the_server_enforces(sockets, peter, settings):
    settings.WP_MAX_MESSAGE_LENGTH = 120
    panel = await sockets.operator(peter)
    limits = panel.snapshot["limits"]
    assert limits["message_length"] == 120
    assert limits["history_page"] == 500
    assert limits["frame_bytes"] == settings.WP_MAX_FRAME_BYTES


def _offline_visitor(site):
    """A visitor of the site who left earlier (offline in the database)."""
    from visitors.models import Visitor

    now = timezone.now()
    return Visitor.objects.create(
        site=site, token_hash="0" * 64, first_seen=now, since=now, last_seen=now, online=False, url="http://shop.test/"
    )


# Who may connect -----------------------------------------------------------------


def _user_without_operator_profile():
    return get_user_model().objects.create_user(username="walter", password=conftest.PASSWORD)


async def _cookie(user) -> str:
    return await database_sync_to_async(conftest.session_cookie_for)(user)


@pytest.mark.parametrize(
    ("who", "origin", "host"),
    [
        pytest.param("anonymous", "http://testserver", "testserver", id="no-session"),
        pytest.param("no-profile", "http://testserver", "testserver", id="user-without-operator-profile"),
        pytest.param("inactive", "http://testserver", "testserver", id="inactive-user"),
        pytest.param("peter", "http://evil.test", "testserver", id="foreign-origin"),
        pytest.param("peter", None, "testserver", id="missing-origin"),
        pytest.param("peter", "null", "testserver", id="null-origin"),
        pytest.param("peter", "http://testserver.evil.com", "testserver", id="look-alike-origin"),
        pytest.param("peter", "http://evil.testserver", "testserver", id="subdomain-origin"),
        pytest.param("peter", "http://testserver:8001", "testserver:8000", id="other-port"),
        pytest.param("peter", "http://testserver:8000", "testserver", id="port-only-in-origin"),
        pytest.param("peter", "http://testserver/panel/", "testserver", id="origin-with-path"),
        pytest.param("peter", "http://testserver", None, id="missing-host"),
        # Issue 21: Origin and Host agree, but name a host this server is not.
        pytest.param("peter", "http://evil.example", "evil.example", id="host-not-allowed"),
        pytest.param("peter", "http://evil.example:8000", "evil.example:8000", id="host-not-allowed-with-port"),
    ],
)
async def test_operator_socket_is_refused_at_the_handshake(sockets, peter, who, origin, host):
    if who == "anonymous":
        cookie = None
    elif who == "no-profile":
        cookie = await _cookie(await database_sync_to_async(_user_without_operator_profile)())
    else:
        cookie = await _cookie(peter.user)
        if who == "inactive":
            await database_sync_to_async(get_user_model().objects.filter(pk=peter.user.pk).update)(is_active=False)
    assert await sockets.refused("/ws/operator/", operator_headers(cookie, origin=origin, host=host))


@pytest.mark.parametrize(
    ("origin", "host"),
    [("http://testserver", "testserver"), ("http://testserver:8000", "testserver:8000")],
)
async def test_operator_socket_with_session_and_own_origin_is_accepted(sockets, peter, origin, host):
    cookie = await _cookie(peter.user)
    assert not await sockets.refused("/ws/operator/", operator_headers(cookie, origin=origin, host=host))


async def test_refused_operator_is_not_shown_online(sockets, peter, jane):
    panel = await sockets.operator(peter)
    cookie = await _cookie(jane.user)
    assert await sockets.refused(
        "/ws/operator/", operator_headers(cookie, origin="http://evil.test", host="testserver")
    )
    await panel.expect_none(of_type("operator", operator__id=jane.pk), within=0.5)


# Operator presence -----------------------------------------------------------------


async def test_operator_connecting_is_shown_online_to_the_others(sockets, peter, jane, olga):
    peter_panel = await sockets.operator(peter)
    olga_panel = await sockets.operator(olga)
    assert {o["id"]: o["online"] for o in peter_panel.snapshot["operators"]}[jane.pk] is False

    await sockets.operator(jane)
    event = await peter_panel.expect(of_type("operator", operator__id=jane.pk))
    assert event["operator"] == {"id": jane.pk, "name": "Jane", "online": True, "status": "available"}
    await olga_panel.expect_none(of_type("operator", operator__id=jane.pk), within=0.5)


# Bad input: an error frame, the socket stays usable, nothing stored is lost ----------


def _bad_frames():
    return [
        pytest.param(lambda room: "not json", "bad_json", id="not-json"),
        pytest.param(lambda room: "[1, 2]", "bad_json", id="json-array"),
        pytest.param(lambda room: {"type": "dance"}, "unknown_type", id="unknown-type"),
        pytest.param(lambda room: {"type": ["message"]}, "unknown_type", id="type-not-string"),
        pytest.param(lambda room: {"type": "message", "body": "hi"}, "invalid", id="message-without-room"),
        pytest.param(lambda room: {"type": "accept"}, "invalid", id="accept-without-room"),
        pytest.param(lambda room: {"type": "close"}, "invalid", id="close-without-room"),
        pytest.param(lambda room: {"type": "start"}, "invalid", id="start-without-visitor"),
        pytest.param(lambda room: {"type": "message", "room": str(room), "body": "hi"}, "invalid", id="room-string"),
        pytest.param(lambda room: {"type": "close", "room": -1}, "invalid", id="room-negative"),
        pytest.param(lambda room: {"type": "close", "room": 2**70}, "invalid", id="room-huge"),
        pytest.param(lambda room: {"type": "close", "room": True}, "invalid", id="room-true"),
        pytest.param(lambda room: {"type": "close", "room": float(room)}, "invalid", id="room-float"),
        pytest.param(lambda room: {"type": "history", "room": room, "after": "x"}, "invalid", id="history-after-x"),
        pytest.param(lambda room: {"type": "message", "room": room}, "invalid", id="message-without-body"),
        pytest.param(lambda room: {"type": "message", "room": room, "body": ""}, "invalid", id="body-empty"),
        pytest.param(lambda room: {"type": "message", "room": room, "body": 5}, "invalid", id="body-not-string"),
        pytest.param(
            lambda room: {"type": "message", "room": room, "body": "x" * (settings.WP_MAX_MESSAGE_LENGTH + 1)},
            "too_long",
            id="body-too-long",
        ),
        pytest.param(lambda room: {"type": "hello", "token": None}, "not_allowed", id="visitor-hello"),
        pytest.param(lambda room: {"type": "page", "url": "http://shop.test/"}, "not_allowed", id="visitor-page"),
        pytest.param(lambda room: {"type": "open"}, "not_allowed", id="visitor-open"),
    ]


@pytest.mark.parametrize(("make_frame", "code"), _bad_frames())
async def test_bad_operator_frame_gets_an_error_and_the_socket_stays_usable(sockets, site, peter, make_frame, code):
    panel = await sockets.operator(peter)
    linda, room_id = await request_chat(sockets)
    await accept(panel, room_id)
    await panel.ask(of_type("ack", client_id="before"), type="message", room=room_id, body="kept", client_id="before")

    frame = make_frame(room_id)
    await panel.send_raw(frame if isinstance(frame, str) else json.dumps(frame))
    error = await panel.expect("error")
    assert error["code"] == code
    assert error["detail"]

    await panel.ask("pong", type="ping")
    ack = await panel.ask(
        of_type("ack", client_id="after"), type="message", room=room_id, body="still here", client_id="after"
    )
    await linda.expect(of_type("message", message__id=ack["id"]))
    history = await panel.ask(of_type("history", room=room_id), type="history", room=room_id, after=0)
    assert [m["body"] for m in history["messages"]] == ["Hello?", "Peter joined the chat", "kept", "still here"]


# Acting on rooms that are not yours ------------------------------------------------------


async def test_acting_on_another_operators_room_is_not_allowed(sockets, site, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    mia, room_id = await request_chat(sockets)
    await accept(jane_panel, room_id)
    # Both were told Jane joined (R15); nothing after that may reach them.
    for side in (mia, jane_panel):
        await side.expect(of_type("message", message__event="joined", message__name="Jane"))

    for action in ("message", "close", "reopen"):
        error = await peter_panel.ask("error", type=action, room=room_id, body="psst", client_id="x", after=0)
        assert error["code"] == "not_allowed", action
        await peter_panel.ask("pong", type="ping")
    await peter_panel.expect_none(lambda f: f["type"] == "ack", within=0.1)
    # Reading is per site, as over the API (docs/security.md): a colleague's transcript, not more.
    assert (await peter_panel.ask("history", type="history", room=room_id, after=0))["room"] == room_id

    await mia.expect_none(changed_for_visitor, within=0.5)
    await jane_panel.expect_none(of_type("message", message__body="psst"), within=0.1)
    # Jane's room is untouched: still active and hers.
    ack = await jane_panel.ask("ack", type="message", room=room_id, body="Hello Mia", client_id="j1")
    message = await mia.expect(of_type("message", message__id=ack["id"]))
    assert message["message"]["body"] == "Hello Mia"


@pytest.mark.parametrize("target", ["other-site", "nonexistent"])
async def test_acting_on_a_room_outside_the_operators_sites_is_not_found(
    sockets, site, other_site, peter, olga, target
):
    peter_panel = await sockets.operator(peter)
    olga_panel = await sockets.operator(olga)
    oscar, other_room = await request_chat(sockets, "other", conftest.OTHER_ORIGIN)
    room_id = other_room if target == "other-site" else other_room + 1_000_000

    for action in ("message", "close", "reopen", "history", "accept"):
        error = await peter_panel.ask("error", type=action, room=room_id, body="psst", client_id="x", after=0)
        assert error["code"] == "not_found", action
        await peter_panel.ask("pong", type="ping")
    await peter_panel.expect_none(lambda f: f["type"] in ("ack", "history", "room"), within=0.1)

    # Oscar's request is untouched: nothing reached him, and it is still in his site's pool.
    await oscar.expect_none(lambda f: changed_for_visitor(f) or of_type("room", room__status="active")(f), within=0.5)
    room = await accept(olga_panel, other_room)
    assert room["operator"]["id"] == olga.pk


async def test_starting_a_chat_with_a_visitor_outside_the_operators_sites_is_not_found(
    sockets, site, other_site, peter, olga
):
    peter_panel = await sockets.operator(peter)
    olga_panel = await sockets.operator(olga)
    oscar = await sockets.visitor("other", origin=conftest.OTHER_ORIGIN)
    for visitor_id in (oscar.welcome["visitor"], oscar.welcome["visitor"] + 1_000_000):
        error = await peter_panel.ask("error", type="start", visitor=visitor_id)
        assert error["code"] == "not_found"
        await peter_panel.ask("pong", type="ping")
    await oscar.expect_none("room", within=0.5)
    # Still free for an operator of his own site.
    answer = await olga_panel.ask(
        of_type("room", room__visitor=oscar.welcome["visitor"]), type="start", visitor=oscar.welcome["visitor"]
    )
    assert answer["room"]["status"] == "active"
    assert answer["room"]["operator"]["id"] == olga.pk


# Sites taken away (issue 21, case 5) ----------------------------------------------------------


async def test_an_operator_taken_off_a_site_stops_hearing_and_acting_on_it_at_once(sockets, site, other_site, peter):
    """An admin moved an operator off a site: their open panel still received its messages and
    could accept its requests. Now it reconnects (4012) at once, and the new panel is the
    operator's as they are now."""
    await database_sync_to_async(peter.sites.add)(other_site)
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()  # on `site`
    room = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]["id"]
    await panel.expect(of_type("room", room__id=room))

    await database_sync_to_async(peter.sites.remove)(site)

    assert await wait_closed(panel) == 4012
    again = await sockets.operator(peter)
    snapshot = again.snapshot
    assert snapshot["rooms"] == []
    assert all(visitor["site"] != site.pk for visitor in snapshot["visitors"])
    error = await again.ask("error", type="accept", room=room)
    assert error["code"] == "not_found"
    await linda.ask("ack", type="message", body="Anyone?", client_id="l-1")
    await again.expect_none(lambda frame: frame.get("type") in ("message", "visitor"), within=0.5)


async def test_deleting_a_site_reconnects_the_panels_of_its_operators(sockets, make_site, make_operator):
    doomed = await database_sync_to_async(make_site)("doomed")
    sam = await database_sync_to_async(make_operator)("sam", doomed)
    panel = await sockets.operator(sam)
    await database_sync_to_async(doomed.delete)()
    assert await wait_closed(panel) == 4012
