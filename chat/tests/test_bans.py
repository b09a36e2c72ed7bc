"""Bans (issue 25): an operator blocks a visitor from the panel, and maybe their address or
network. Over the sockets, on the real Redis and database."""

import pytest
from channels.db import database_sync_to_async

from chat import bans
from chat.bans import ban_lift
from chat.models import Ban, Message, Room
from operators.tests.test_logout import chat_with, from_now_on
from tests.owners import make_staff
from tests.sockets import of_type, wait_closed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def visitor_from(sockets):
    """`await visitor_from(ip, token=..., page=...)`: a visitor socket from `ip` that said hello;
    its `welcome` is the answer (None when `refused`: then `error` is the hello's error)."""

    async def connect(ip: str, *, token: str | None = None, page: dict | None = None, refused: bool = False):
        client = await sockets.visitor(address=ip, hello=False)
        hello = {"type": "hello", "token": token, **({"page": page} if page else {})}
        client.welcome = client.error = None
        if refused:
            client.error = await client.ask(of_type("error", code="banned"), **hello)
        else:
            client.welcome = await client.ask("welcome", **hello)
        return client

    return connect


PAGE = {"url": "http://shop.test/shoes", "title": "Shoes", "referrer": ""}


async def block(panel, visitor_id: int, reason: str = "Spam", **options) -> dict:
    answer = await panel.ask(
        lambda f: f["type"] in ("ban", "error"), type="ban", visitor=visitor_id, reason=reason, **options
    )
    assert answer["type"] == "ban", answer
    return answer["ban"]


async def test_blocking_a_visitor_ends_their_room_for_the_operator_and_closes_every_tab_of_theirs(
    sockets, peter, visitor_from
):
    """Linda keeps asking the same thing, rudely, in two tabs: Peter blocks her. Her chat ends
    with "Peter blocked the visitor" (which she does not see), her question does not go back
    to the pool, she is gone from the panel, and both her tabs are told and closed."""
    panel = await sockets.operator(peter)
    linda = await visitor_from("203.0.113.7", page=PAGE)
    linda_id, token = linda.welcome["visitor"], linda.welcome["token"]
    second_tab = await visitor_from("203.0.113.7", token=token, page=PAGE)
    assert second_tab.welcome["visitor"] == linda_id
    room = await chat_with(linda, panel, peter)
    await linda.ask(of_type("ack", client_id="v-1"), type="message", body="ANSWER ME", client_id="v-1")
    ended = from_now_on(panel, of_type("room", room__id=room["id"], room__status="expired"))
    gone = from_now_on(panel, of_type("visitor_gone", visitor=linda_id))
    pending = of_type("room", room__visitor=linda_id, room__status="pending")
    pooled = lambda frame: pending(frame) and frame["room"]["id"] != room["id"]  # noqa: E731

    ban = await block(panel, linda_id, reason="Abusive language", address=False)

    assert (ban["visitor"], ban["reason"], ban["active"], ban["address"]) == (linda_id, "Abusive language", True, None)
    assert ban["created_by"] == {"id": peter.pk, "name": "Peter"}
    assert (await panel.expect(ended))["room"]["reason"] == "banned"
    line = await panel.expect(of_type("message", message__room=room["id"], message__event="banned"))
    assert line["message"]["body"] == "Peter blocked the visitor"
    await panel.expect(gone)
    for tab in (linda, second_tab):
        await tab.expect("banned")
        assert await wait_closed(tab) == 4003
        assert not [f for f in tab.frames if f["type"] == "message" and f["message"].get("event") == "banned"]
    # No request of hers in the pool: nobody is to answer a blocked visitor.
    await panel.expect_none(pooled, within=0.5)
    live = await database_sync_to_async(Room.objects.filter(visitor_id=linda_id).exclude(status="expired").count)()
    assert live == 0
    # The transcript keeps the line, for operators.
    stored = await database_sync_to_async(Message.objects.filter(room_id=room["id"], event="banned").count)()
    assert stored == 1


async def test_a_blocked_visitor_is_refused_on_every_page_until_an_owner_lifts_the_ban(
    sockets, peter, site, visitor_from
):
    """Blocked, Linda's next pages (same token, even from another address) are refused with
    `banned` and closed; someone else from her address chats as usual. Lifted, she is back."""
    panel = await sockets.operator(peter)
    linda = await visitor_from("203.0.113.7", page=PAGE)
    linda_id, token = linda.welcome["visitor"], linda.welcome["token"]
    ban = await block(panel, linda_id)
    assert await wait_closed(linda) == 4003

    # A page of hers this process knows her on, and a hello without a page: both refused.
    again = await visitor_from("198.51.100.20", token=token, page=PAGE, refused=True)
    assert again.error["for"] == "hello"
    assert await wait_closed(again) == 4003
    bare = await visitor_from("198.51.100.20", token=token, refused=True)
    assert await wait_closed(bare) == 4003
    neighbour = await visitor_from("203.0.113.7", page=PAGE)
    assert neighbour.welcome["visitor"] != linda_id

    owner = await database_sync_to_async(make_staff)("olivia", site)
    lifted = await database_sync_to_async(ban_lift)(user=owner, ban_id=ban["id"])
    assert lifted.lifted_at is not None

    back = await visitor_from("203.0.113.7", token=token, page=PAGE)
    assert back.welcome["visitor"] == linda_id
    await panel.expect(of_type("visitor", visitor__id=linda_id, visitor__online=True))


async def test_an_address_ban_refuses_new_visitors_from_it_and_a_network_ban_the_neighbours(
    sockets, peter, visitor_from
):
    panel = await sockets.operator(peter)
    spammer = await visitor_from("203.0.113.7", page=PAGE)
    ban = await block(panel, spammer.welcome["visitor"], address=True)
    assert ban["address"] == "203.0.113.7"
    refused = await visitor_from("203.0.113.7", page=PAGE, refused=True)
    assert await wait_closed(refused) == 4003
    # Another address, even next door, is fine.
    await visitor_from("203.0.113.8", page=PAGE)

    bot = await visitor_from("198.51.100.7", page=PAGE)
    ban = await block(panel, bot.welcome["visitor"], address=True, network=True)
    assert ban["address"] == "198.51.100.0/24"
    await visitor_from("198.51.100.99", page=PAGE, refused=True)
    await visitor_from("198.51.101.1", page=PAGE)

    # IPv6: the network is the /48.
    v6 = await visitor_from("2001:db8:1:2::5", page=PAGE)
    ban = await block(panel, v6.welcome["visitor"], network=True)
    assert ban["address"] == "2001:db8:1::/48"
    await visitor_from("2001:db8:1:ffff::1", page=PAGE, refused=True)
    await visitor_from("2001:db8:2::1", page=PAGE)


async def test_an_operator_of_another_site_cannot_block_a_visitor(sockets, site, olga, visitor_from):
    panel = await sockets.operator(olga)
    linda = await visitor_from("203.0.113.7", page=PAGE)
    error = await panel.ask("error", type="ban", visitor=linda.welcome["visitor"], reason="no")
    assert (error["code"], error["for"]) == ("not_found", "ban")
    assert await database_sync_to_async(Ban.objects.count)() == 0
    await linda.ask("pong", type="ping")


async def test_a_bad_ban_frame_is_refused_and_nothing_is_blocked(sockets, peter, visitor_from):
    panel = await sockets.operator(peter)
    linda = await visitor_from("203.0.113.7", page=PAGE)
    linda_id = linda.welcome["visitor"]
    too_long = await panel.ask("error", type="ban", visitor=linda_id, reason="x" * 501)
    assert too_long["code"] == "too_long"
    not_bool = await panel.ask("error", type="ban", visitor=linda_id, reason="", address="yes")
    assert not_bool["code"] == "invalid"
    await block(panel, linda_id)
    twice = await panel.ask("error", type="ban", visitor=linda_id, reason="again")
    assert twice["code"] == "not_allowed"
    assert await database_sync_to_async(Ban.objects.count)() == 1


async def test_hellos_read_a_sites_bans_once_until_a_ban_is_made(sockets, peter, site, visitor_from, monkeypatch):
    """The hot path: a hello asks the database nothing about bans while nothing changed; a ban
    made has every process read them again at its next handshake."""
    reads = []
    read = bans._read_site_bans
    monkeypatch.setattr(bans, "_read_site_bans", lambda site_id: reads.append(site_id) or read(site_id))
    panel = await sockets.operator(peter)
    first = await visitor_from("203.0.113.7", page=PAGE)
    for n in range(3):
        await visitor_from(f"203.0.113.{20 + n}", page=PAGE)
    assert reads == [site.pk]

    await block(panel, first.welcome["visitor"], address=True)
    await visitor_from("203.0.113.7", page=PAGE, refused=True)
    await visitor_from("203.0.113.30", page=PAGE)
    assert reads == [site.pk, site.pk]
