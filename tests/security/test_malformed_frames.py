"""Case 10, property-based: whatever frames a client makes up (any JSON, wrong types, huge
numbers, other people's ids, text that is not JSON, binary), both sockets answer each
with at most an error frame, stay open, and what is stored stays consistent: nobody's
conversation is touched but what the sender may touch.
(Fixed cases, one per kind of mistake: visitors/ and operators/tests/test_consumers.py.)"""

import json

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Message, Room
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)

# Each frame type and the fields it reads (SPEC §3): generated frames fill these with anything.
VISITOR_FRAMES = {
    "hello": ["token"],
    "page": ["url", "title", "referrer"],
    "open": [],
    "close": [],
    "message": ["body", "client_id"],
    "history": ["after"],
    "ping": [],
    "rotate": [],
}
OPERATOR_FRAMES = {
    "accept": ["room"],
    "start": ["visitor"],
    "message": ["room", "body", "client_id"],
    "close": ["room"],
    "reopen": ["room"],
    "history": ["room", "after"],
    "ping": [],
}
FIELDS = ["token", "url", "title", "referrer", "body", "client_id", "after", "room", "visitor"]
# The server may refuse a frame; it must never fail on one.
BROKEN = {"server_error", "unavailable"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def frames(kinds: dict[str, list[str]], ids: list[int]) -> st.SearchStrategy:
    """Text or binary websocket frames, most of them JSON objects of a known type whose fields
    hold anything: the right type or not, other people's ids, huge numbers, long text."""
    values = st.one_of(
        st.text(max_size=300),
        st.sampled_from([*ids, 0, -1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**70), 1e308, 0.5, True, None, "", " \n"]),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.just("x" * 5000),
        json_values,
    )

    def typed(kind: str, fields: list[str]) -> st.SearchStrategy:
        others = {name: values for name in FIELDS if name not in fields}
        return st.fixed_dictionaries({"type": st.just(kind), **dict.fromkeys(fields, values)}, optional=others)

    objects = st.one_of(*(typed(kind, fields) for kind, fields in kinds.items()))
    strange = st.fixed_dictionaries({"type": json_values}, optional=dict.fromkeys(FIELDS, values))
    to_json = st.one_of(objects, objects, objects, strange, json_values)
    nested = st.integers(min_value=1, max_value=20000).map(lambda depth: '{"type":"message","body":' + "[" * depth)
    rest = st.one_of(st.text(max_size=100), st.binary(max_size=100), nested)
    return st.one_of(to_json.map(lambda value: json.dumps(value, allow_nan=True)), rest)


async def throw(client, frame: str | bytes) -> list[dict]:
    """Send one frame and everything the server said until it answered a ping after it."""
    start = len(client.frames)
    # Straight to the application: the communicator's send_to() refuses empty frames.
    key = "bytes" if isinstance(frame, bytes) else "text"
    await client.communicator.send_input({"type": "websocket.receive", key: frame})
    await client.ask("pong", type="ping")
    return client.frames[start:]


def broken(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f.get("type") == "error" and f.get("code") in BROKEN]


@database_sync_to_async
def transcript(room_id: int) -> list[tuple[int, str, str]]:
    return list(Message.objects.filter(room_id=room_id).order_by("id").values_list("id", "sender", "body"))


@database_sync_to_async
def room_state(room_id: int) -> tuple:
    room = Room.objects.get(pk=room_id)
    return room.status, room.operator_id, room.visitor_id


@pytest.fixture
async def world(sockets, peter, jane, olga):
    """Jane chats with Linda on the shop; Olga with Oscar on the other site; Paul waits in the pool."""
    jane_panel = await sockets.operator(jane)
    olga_panel = await sockets.operator(olga)
    rooms = {}
    for name, panel, site, origin in (
        ("linda", jane_panel, "shop", "http://shop.test"),
        ("oscar", olga_panel, "other", "http://other.test"),
    ):
        visitor = await sockets.visitor(site, origin=origin)
        room = (await ask_to_chat(visitor, of_type("room", room__status="pending")))["room"]["id"]
        await panel.ask(of_type("room", room__id=room, room__status="active"), type="accept", room=room)
        await visitor.ask("ack", type="message", body=f"private words of {name}", client_id="1")
        await panel.ask("ack", type="message", room=room, body=f"answer to {name}", client_id="1")
        rooms[name] = (visitor, room)
    paul = await sockets.visitor()
    rooms["paul"] = (paul, (await ask_to_chat(paul))["room"]["id"])
    before = {name: (await room_state(room), await transcript(room)) for name, (_, room) in rooms.items()}
    return rooms, before


FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(data=st.data())
async def test_generated_frames_never_break_the_visitor_socket(sockets, world, data):
    rooms, before = world
    mallory = await sockets.visitor()
    ids = [room for _, room in rooms.values()] + [visitor.welcome["visitor"] for visitor, _ in rooms.values()]
    for frame in data.draw(st.lists(frames(VISITOR_FRAMES, ids), min_size=1, max_size=8)):
        answers = await throw(mallory, frame)
        assert broken(answers) == [], frame

    # Other people's conversations are exactly as they were.
    for name, (_, room) in rooms.items():
        assert (await room_state(room), await transcript(room)) == before[name], name
    # What Mallory got acknowledged is stored, in her own room, and she heard only her own.
    acked = [f["id"] for f in mallory.frames if f.get("type") == "ack"]
    mine = await database_sync_to_async(
        lambda: set(Message.objects.filter(room__visitor_id=mallory.welcome["visitor"]).values_list("id", flat=True))
    )()
    assert set(acked) <= mine
    heard = [f["message"]["id"] for f in mallory.frames if f.get("type") == "message"]
    assert set(heard) <= mine


@FUZZ
@given(data=st.data())
async def test_generated_frames_never_break_the_operator_socket(sockets, world, peter, data):
    rooms, before = world
    panel = await sockets.operator(peter)
    ids = [room for _, room in rooms.values()] + [visitor.welcome["visitor"] for visitor, _ in rooms.values()]
    for frame in data.draw(st.lists(frames(OPERATOR_FRAMES, ids), min_size=1, max_size=8)):
        answers = await throw(panel, frame)
        assert broken(answers) == [], frame

    # Jane's and Olga's rooms are theirs still, word for word; Peter may only have taken Paul's request.
    for name in ("linda", "oscar"):
        _, room = rooms[name]
        assert (await room_state(room), await transcript(room)) == before[name], name
    _, paul_room = rooms["paul"]
    _, operator_id, _ = await room_state(paul_room)
    assert operator_id in (None, peter.pk)
    # Peter wrote only into rooms that are his.
    strays = await database_sync_to_async(
        lambda: Message.objects.filter(sender="operator", name="Peter").exclude(room__operator=peter).count()
    )()
    assert strays == 0
