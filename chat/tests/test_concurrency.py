"""Races the database must settle (R4, R7, R12): two operators or two tabs acting at the
same instant. Threads start together on a Barrier, each with its own database
connection, so the services really do run at once; the socket variants check what
each side is told."""

import asyncio
import threading
from collections.abc import Callable
from functools import partial

import pytest
from channels.db import database_sync_to_async
from django.db import connection

from chat import services
from chat.models import Message, Room
from chat.visiting import visitor_arrive
from infra.errors import RoomTaken
from tests.sockets import ask_to_chat, of_type
from visitors.services import visitor_identify

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 20


def race(*calls: Callable[[], object]) -> list[tuple[str, object]]:
    """Run the calls in threads released at the same instant; each result is
    ("ok", value), ("taken", RoomTaken) or ("crash", exception)."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, object]] = [("crash", None)] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            connection.ensure_connection()  # connect first, so the calls themselves start together
            barrier.wait(timeout=10)
            results[index] = ("ok", call())
        except RoomTaken as error:
            results[index] = ("taken", error)
        except Exception as error:
            results[index] = ("crash", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a racing call hung"
    return results


def online_visitor(site):
    visitor, _ = visitor_identify(site=site, token=None)
    visitor, _ = visitor_arrive(visitor=visitor)
    return visitor


def pooled_request(site) -> Room:
    """A visitor's request: their first message (R4)."""
    return services.message_send_by_visitor(visitor_id=online_visitor(site).pk, body="Hello?").room


def room_of_or_error(room_id: int | None, operator_id: int):
    """An error, or a room frame (of this room, if given) naming this operator."""

    def match(frame: dict) -> bool:
        if frame["type"] == "error":
            return True
        return (
            frame["type"] == "room"
            and room_id in (None, frame["room"]["id"])
            and (frame["room"]["operator"] or {}).get("id") == operator_id
        )

    return match


# Accepting the same request ----------------------------------------------------


def test_two_operators_accepting_at_once_exactly_one_wins(site, peter, jane):
    operators = (peter, jane)
    for operator in operators:
        operator.site_ids  # noqa: B018 - read once here, not inside the race
    for round_no in range(ROUNDS):
        room = pooled_request(site)

        results = race(*(partial(services.room_accept, room_id=room.pk, operator=op) for op in operators))

        outcomes = sorted(kind for kind, _ in results)
        assert outcomes == ["ok", "taken"], f"round {round_no}: {results}"
        winner = operators[[kind for kind, _ in results].index("ok")]
        won_room = next(value for kind, value in results if kind == "ok")
        assert won_room.operator_id == winner.pk
        stored = Room.objects.get(pk=room.pk)
        assert stored.status == Room.Status.ACTIVE
        assert stored.operator_id == winner.pk, f"round {round_no}: the database names another winner"


async def test_two_panels_accepting_at_once_one_gets_the_room_the_other_taken(sockets, peter, jane):
    panels = {peter.pk: await sockets.operator(peter), jane.pk: await sockets.operator(jane)}
    for _ in range(3):
        linda = await sockets.visitor()
        room = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
        for panel in panels.values():
            await panel.expect(of_type("room", room__id=room["id"], room__status="pending"))

        await asyncio.gather(*(panel.send(type="accept", room=room["id"]) for panel in panels.values()))

        answers = {me: await panel.expect(room_of_or_error(room["id"], me)) for me, panel in panels.items()}
        winners = [me for me, frame in answers.items() if frame["type"] == "room"]
        losers = [me for me, frame in answers.items() if frame["type"] == "error"]
        assert len(winners) == 1, answers
        assert len(losers) == 1, answers
        assert answers[losers[0]]["code"] == "taken"
        assert answers[winners[0]]["room"]["status"] == "active"
        loser_panel = panels[losers[0]]
        await loser_panel.expect_none(of_type("room", room__id=room["id"], room__operator__id=losers[0]), within=0.3)
        stored = await database_sync_to_async(Room.objects.get)(pk=room["id"])
        assert stored.operator_id == winners[0]
        await linda.expect(of_type("room", room__id=room["id"], room__operator__id=winners[0]))
        await linda.close()


# Two tabs writing at once ------------------------------------------------------------


def test_two_tabs_writing_a_first_message_at_once_share_one_request(site):
    for round_no in range(ROUNDS // 2):
        visitor = online_visitor(site)

        results = race(
            *(partial(services.message_send_by_visitor, visitor_id=visitor.pk, body=f"Tab {tab}") for tab in (1, 2))
        )

        assert [kind for kind, _ in results] == ["ok", "ok"], f"round {round_no}: {results}"
        first, second = (message.room_id for _, message in results)
        assert first == second
        assert list(Room.objects.filter(visitor=visitor).values_list("pk", flat=True)) == [first]


async def test_two_tabs_opening_then_writing_at_once_get_one_request(sockets, peter):
    panel = await sockets.operator(peter)
    tab1 = await sockets.visitor()
    tab2 = await sockets.visitor(token=tab1.welcome["token"])
    visitor_id = tab1.welcome["visitor"]

    # Opening the window in both at once: no request (R4: the first message is the request).
    await asyncio.gather(tab1.send(type="open"), tab2.send(type="open"))
    for tab in (tab1, tab2):
        assert (await tab.expect("room"))["room"] is None
    await panel.expect_none(of_type("room", room__visitor=visitor_id), within=0.3)

    await asyncio.gather(
        tab1.send(type="message", body="From one tab", client_id="t-1"),
        tab2.send(type="message", body="From the other", client_id="t-2"),
    )

    first = await tab1.expect(of_type("room", room__status="pending"))
    second = await tab2.expect(of_type("room", room__status="pending"))
    assert first["room"]["id"] == second["room"]["id"]
    await tab1.expect_none("error", within=0.3)
    await tab2.expect_none("error", within=0.1)
    stored = await database_sync_to_async(
        lambda: list(Message.objects.filter(room__visitor_id=visitor_id).values_list("room_id", "body"))
    )()
    room_id = first["room"]["id"]
    assert sorted(stored) == [(room_id, "From one tab"), (room_id, "From the other")]


# Two operators starting with one visitor ------------------------------------------


def test_two_operators_starting_with_one_visitor_at_once_open_one_room(site, peter, jane):
    operators = (peter, jane)
    for operator in operators:
        operator.site_ids  # noqa: B018 - read once here, not inside the race
    for round_no in range(ROUNDS // 2):
        visitor = online_visitor(site)

        results = race(*(partial(services.room_start, visitor_id=visitor.pk, operator=op) for op in operators))

        assert sorted(kind for kind, _ in results) == ["ok", "taken"], f"round {round_no}: {results}"
        winner = operators[[kind for kind, _ in results].index("ok")]
        rooms = list(Room.objects.filter(visitor=visitor))
        assert len(rooms) == 1, f"round {round_no}: {rooms}"
        assert rooms[0].operator_id == winner.pk
        assert rooms[0].status == Room.Status.ACTIVE


async def test_two_panels_starting_with_one_visitor_at_once_one_gets_the_room(sockets, peter, jane):
    panels = {peter.pk: await sockets.operator(peter), jane.pk: await sockets.operator(jane)}
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]

    await asyncio.gather(*(panel.send(type="start", visitor=visitor_id) for panel in panels.values()))

    answers = {
        me: await panel.expect(
            lambda f, me=me: (
                f["type"] == "error" or (f["type"] == "room" and (f["room"]["operator"] or {}).get("id") == me)
            )
        )
        for me, panel in panels.items()
    }
    winners = [me for me, frame in answers.items() if frame["type"] == "room"]
    assert len(winners) == 1, answers
    loser = next(me for me in answers if me != winners[0])
    assert answers[loser]["code"] == "taken"
    rooms = await database_sync_to_async(lambda: list(Room.objects.filter(visitor_id=visitor_id)))()
    assert len(rooms) == 1
    assert rooms[0].operator_id == winners[0]
    await linda.expect(of_type("room", room__id=rooms[0].pk, room__operator__id=winners[0]))
