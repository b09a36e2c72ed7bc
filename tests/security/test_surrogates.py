"""Issue 21, case 8: a lone UTF-16 surrogate (JSON's `\\ud800`, which no UTF-8 database, log or
browser can hold) in a visitor's token, page or message, or an operator's message, is
refused as `invalid` with nothing stored, and the socket goes on."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)

LONE = "\ud800"


def stored() -> list[str]:
    return list(Message.objects.order_by("pk").values_list("body", flat=True))


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param({"type": "message", "body": f"Size {LONE}42?", "client_id": "l-1"}, id="message"),
        pytest.param({"type": "message", "body": "Size 42?", "client_id": f"l-{LONE}"}, id="client-id"),
        pytest.param({"type": "page", "url": f"http://shop.test/{LONE}", "title": "Boots"}, id="page-url"),
        pytest.param({"type": "page", "url": "http://shop.test/boots", "title": f"\udfff{LONE}"}, id="page-title"),
    ],
)
async def test_a_lone_surrogate_in_a_visitors_frame_is_invalid_and_stores_nothing(sockets, site, frame):
    linda = await sockets.visitor()
    error = await linda.ask("error", **frame)
    assert (error["code"], error["for"]) == ("invalid", frame["type"])
    assert await database_sync_to_async(stored)() == []
    await linda.ask("ack", type="message", body="Size 42?", client_id="l-2")  # the socket goes on
    assert await database_sync_to_async(stored)() == ["Size 42?"]


async def test_a_lone_surrogate_in_a_hello_token_or_page_is_invalid_and_hello_may_be_said_again(sockets, site):
    linda = await sockets.visitor(hello=False)
    for hello in ({"token": f"abc{LONE}"}, {"token": None, "page": {"url": f"http://shop.test/{LONE}"}}):
        error = await linda.ask("error", type="hello", **hello)
        assert (error["code"], error["for"]) == ("invalid", "hello")
    welcome = await linda.ask("welcome", type="hello", token=None, page={"url": "http://shop.test/ok"})
    assert welcome["visitor"]


async def test_a_lone_surrogate_in_an_operators_message_is_invalid_and_stores_nothing(sockets, site, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]["id"]
    await panel.ask(of_type("room", room__id=room, room__status="active"), type="accept", room=room)
    await linda.expect(of_type("message", message__event="joined"))  # the transcript's line: Peter joined

    error = await panel.ask("error", type="message", room=room, body=f"We have {LONE}", client_id="p-1")
    assert (error["code"], error["for"]) == ("invalid", "message")
    await linda.expect_none(of_type("message", message__sender="operator"), within=0.3)
    assert await database_sync_to_async(stored)() == ["Hello?", "Peter joined the chat"]
    ack = await panel.ask("ack", type="message", room=room, body="We have it.", client_id="p-2")
    await linda.expect(of_type("message", message__id=ack["id"]))


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param({"type": "message", "body": "Size\x0042?", "client_id": "n-1"}, id="message"),
        pytest.param({"type": "page", "url": "http://shop.test/boots", "title": "Bo\x00ots"}, id="page-title"),
    ],
)
async def test_a_nul_character_in_a_visitors_frame_is_invalid_on_every_database(sockets, site, frame):
    """PostgreSQL stores no NUL in text: it failed there as `unavailable`, which the snippet
    retries for ever (and a page title with one would have failed a whole page-view batch)."""
    linda = await sockets.visitor()
    error = await linda.ask("error", **frame)
    assert (error["code"], error["for"]) == ("invalid", frame["type"])
    assert await database_sync_to_async(stored)() == []
    await linda.ask("ack", type="message", body="Size 42?", client_id="n-2")
    assert await database_sync_to_async(stored)() == ["Size 42?"]
