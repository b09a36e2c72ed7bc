"""A conversation between emulated clients, and the stored truth to check it against."""

import asyncio
import inspect
import random

from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import Message, Room
from conftest import session_cookie_for
from tests.faults.clients import Panel, VisitorTab

# The system lines about the visitor themselves and the pool's workings: operators see them,
# the visitor never does (R15, docs/protocol.md).
OPERATORS_ONLY = ("window_opened", "window_closed", "left_site", "returned", "reopened_by_visitor")


@database_sync_to_async
def transcript(room_id: int, *, as_visitor: bool = False) -> list[tuple[int, str, str]]:
    """The stored messages of a room: (id, sender, body), oldest first; `as_visitor`: those its
    visitor sees."""
    messages = Message.objects.filter(room_id=room_id)
    if as_visitor:
        messages = messages.exclude(event__in=OPERATORS_ONLY)
    return list(messages.order_by("id").values_list("id", "sender", "body"))


@database_sync_to_async
def rooms_of(visitor_id: int) -> list[tuple[int, str, str]]:
    return list(Room.objects.filter(visitor_id=visitor_id).order_by("id").values_list("id", "status", "reason"))


def shown(messages: dict[int, dict], room_id: int) -> list[tuple[int, str, str]]:
    """What a client shows of a room, in the transcript's shape."""
    return [(m["id"], m["sender"], m["body"]) for _, m in sorted(messages.items()) if m["room"] == room_id]


async def eventually(check, *, timeout: float, what) -> None:
    """Wait until `check()` (a value or an awaitable) is true; fail after `timeout` seconds,
    saying `what` (a text, or a function that gives it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(what() if callable(what) else what)
        await asyncio.sleep(0.05)


async def panel_for(operator, bases: list[str], name: str) -> Panel:
    cookie = await database_sync_to_async(session_cookie_for)(operator.user)
    return await Panel(bases, cookies={settings.SESSION_COOKIE_NAME: cookie}, name=name).started()


# The visitor's first message, which is their request (R4), and the operator's answer to it
# (nothing is left unanswered: the room's end frees the visitor, R14): not numbered ones.
ASKING = "asks to chat"
ANSWERING = "answers the request"


async def chat_between(panel: Panel, tab: VisitorTab) -> int:
    """The visitor asks to chat (opens the window and writes) and the operator accepts: the
    room's id."""
    await tab.send({"type": "open"})
    await tab.say(f"{tab.name} {ASKING}")

    async def pooled():
        return any(r["visitor"] == tab.visitor_id and r["status"] == "pending" for r in panel.rooms.values())

    await eventually(pooled, timeout=10, what="the request did not reach the pool")
    room_id = next(r["id"] for r in panel.rooms.values() if r["visitor"] == tab.visitor_id)
    await panel.send({"type": "accept", "room": room_id})

    async def active():
        return tab.room is not None and tab.room["id"] == room_id and tab.room["status"] == "active"

    await eventually(active, timeout=10, what="the visitor did not see the room accepted")
    answer = await panel.say(f"{panel.name} {ANSWERING}", room=room_id)
    await eventually(lambda: answer in panel.acked, timeout=10, what="the answer to the request was not stored")
    return room_id


async def write(client, count: int, *, pause: tuple[float, float] = (0.03, 0.15), **fields) -> None:
    """The client's user writes `count` numbered messages."""
    for n in range(count):
        await client.say(f"{client.name} says {n}", **fields)
        await asyncio.sleep(random.uniform(*pause))


async def write_until(done: asyncio.Event, client, *, pause: tuple[float, float] = (0.03, 0.15), **fields) -> int:
    """The client's user writes numbered messages until `done`; how many they wrote."""
    count = 0
    while not done.is_set():
        await client.say(f"{client.name} says {count}", **fields)
        count += 1
        await asyncio.sleep(random.uniform(*pause))
    return count


async def assert_complete(room_id: int, visitor: VisitorTab, panel: Panel, *, written: dict) -> None:
    """Every message written into the room ({client: how many}) is stored once, in the order
    written, and both sides show exactly the stored transcript (the visitor, without the system
    lines for operators only)."""
    await asyncio.gather(visitor.settled(), panel.settled())
    stored = await transcript(room_id)
    seen_by_visitor = await transcript(room_id, as_visitor=True)
    bodies = [body for _, sender, body in stored if sender != "system" and not body.endswith((ASKING, ANSWERING))]
    for client, count in written.items():
        got = [body for body in bodies if body.startswith(f"{client.name} says ")]
        expected = [f"{client.name} says {n}" for n in range(count)]
        assert got == expected, (
            f"{client.name}'s messages: missing {sorted(set(expected) - set(got))}, "
            f"stored twice {sorted({b for b in got if got.count(b) > 1})}, stored {got}"
        )
        acked = [client.acked[cid] for cid in client.sent]
        assert acked == sorted(acked), f"{client.name}'s messages are not stored in the order written"
    assert len(bodies) == sum(written.values()), "a message was stored that nobody wrote"

    async def both_show_it():
        return (
            shown(visitor.messages, room_id) == seen_by_visitor
            and shown(panel.logs.get(room_id, {}), room_id) == stored
        )

    await eventually(both_show_it, timeout=10, what=f"a side does not show the stored transcript of room {room_id}")
