"""Ratings (issue 23, SPEC §3 `rate`): the visitor rates a chat of theirs once, 1-5 with a
comment; its operator sees it live, a fresh panel and the API show it; nobody else may."""

import pytest
from channels.db import database_sync_to_async

from chat.tests.test_rooms import chat_with, room_frame, stored_room
from tests.api import client_for
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_visitor_rates_their_chat_once_and_its_operator_sees_it(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    await panel.ask(room_frame(room["id"], room__status="closing"), type="close", room=room["id"])

    rated = await linda.ask(
        room_frame(room["id"], room__rating=5), type="rate", room=room["id"], rating=5, comment="Quick and kind"
    )
    assert rated["room"]["rating_comment"] == "Quick and kind"
    seen = await panel.expect(room_frame(room["id"], room__rating=5))
    assert seen["room"]["rating_comment"] == "Quick and kind"
    stored = await stored_room(room["id"])
    assert (stored.rating, stored.rating_comment, stored.rated_at is not None) == (5, "Quick and kind", True)

    again = await linda.ask(of_type("error", **{"for": "rate"}), type="rate", room=room["id"], rating=1)
    assert again["code"] == "not_allowed"
    assert (await stored_room(room["id"])).rating == 5
    api = await database_sync_to_async(lambda: client_for(peter.user).get(f"/api/rooms/{room['id']}/").json())()
    assert (api["rating"], api["rating_comment"]) == (5, "Quick and kind")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"rating": 0}, "invalid"),
        ({"rating": 6}, "invalid"),
        ({"rating": "5"}, "invalid"),
        ({"rating": True}, "invalid"),
        ({"rating": 4, "comment": "x" * 1001}, "too_long"),
        ({"rating": 4, "comment": 42}, "invalid"),
    ],
)
async def test_a_bad_rating_is_refused_and_nothing_is_stored(sockets, peter, fields, code):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    error = await linda.ask(of_type("error", **{"for": "rate"}), type="rate", room=room["id"], **fields)
    assert error["code"] == code
    assert (await stored_room(room["id"])).rating is None


async def test_only_the_rooms_visitor_rates_it_and_only_once_someone_answered(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    foreign = await mary.ask(of_type("error", **{"for": "rate"}), type="rate", room=room["id"], rating=1)
    assert foreign["code"] == "not_found"
    pending = (await ask_to_chat(mary, of_type("room", room__status="pending")))["room"]
    early = await mary.ask(of_type("error", **{"for": "rate"}), type="rate", room=pending["id"], rating=5)
    assert early["code"] == "not_allowed"
    assert (await stored_room(room["id"])).rating is None
