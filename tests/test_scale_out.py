"""Scale-out (SPEC §2): two real daphne processes on the same Redis and database. An
operator on one process and a visitor on the other talk normally, and expiry (run by the
Celery sweeper) reaches sockets on either process."""

import asyncio
import time

import pytest
from django.conf import settings

from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "http://shop.test"
CLOCK_SLACK = 0.05


def in_room(room_id: int, **fields):
    return of_type("room", room__id=room_id, **{f"room__{name}": value for name, value in fields.items()})


def message(body: str):
    return of_type("message", message__body=body)


def late_by() -> float:
    return settings.WP_SWEEP_INTERVAL + 2


async def says(client, body: str, client_id: str, **fields) -> int:
    ack = await client.ask(
        of_type("ack", client_id=client_id), type="message", body=body, client_id=client_id, **fields
    )
    return ack["id"]


async def start_chat(panel, visitor) -> int:
    visitor_id = visitor.welcome["visitor"]
    frame = await panel.ask(
        of_type("room", room__visitor=visitor_id, room__status="active"), type="start", visitor=visitor_id
    )
    await visitor.expect(in_room(frame["room"]["id"], status="active"))
    return frame["room"]["id"]


async def arrival(client, match, *, within: float) -> float:
    await client.expect(match, timeout=within)
    return time.monotonic()


def assert_on_time(started: float, arrived: float, timeout: float) -> None:
    waited = arrived - started
    assert timeout - CLOCK_SLACK <= waited <= timeout + late_by(), f"after {waited:.3f}s, timeout {timeout}s"


async def test_operator_and_visitor_on_different_processes_chat_normally(daphne_pair, live_sockets, peter):
    (_, first), (_, second) = daphne_pair
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    linda_id = linda.welcome["visitor"]

    await linda.send(type="page", url=f"{SHOP}/shoes", title="Shoes", referrer="")
    await panel.expect(of_type("visitor", visitor__id=linda_id, visitor__url=f"{SHOP}/shoes"))

    # Linda asks to chat: the request reaches Peter's pool on the other process (R4).
    request = (await ask_to_chat(linda))["room"]
    assert request["status"] == "pending"
    acks = [await says(linda, "Do you have these in red?", "linda-1")]
    await panel.expect(in_room(request["id"], status="pending"))
    await panel.expect(message("Do you have these in red?"))
    accepted = await panel.ask(in_room(request["id"], status="active"), type="accept", room=request["id"])
    assert accepted["room"]["operator"]["id"] == peter.pk
    await linda.expect(in_room(request["id"], status="active"))

    # Messages flow both ways across the processes.
    acks.append(await says(panel, "Yes, in every size.", "peter-1", room=request["id"]))
    await linda.expect(message("Yes, in every size."))
    acks.append(await says(linda, "Great, I'll take a 38.", "linda-2"))
    await panel.expect(message("Great, I'll take a 38."))

    # A second tab, on the first process: Peter's messages reach both of Linda's tabs (R6).
    second_tab = await live_sockets.visitor(first, token=linda.welcome["token"])
    assert second_tab.welcome["visitor"] == linda_id
    assert second_tab.welcome["room"]["id"] == request["id"]
    acks.append(await says(panel, "Added to your basket.", "peter-2", room=request["id"]))
    for tab in (linda, second_tab):
        received = await tab.expect(message("Added to your basket."))
        assert received["message"]["room"] == request["id"]
    acks.append(await says(second_tab, "Thanks!", "linda-3"))
    await panel.expect(message("Thanks!"))

    assert acks == sorted(acks)
    assert len(set(acks)) == len(acks)


async def test_expiry_reaches_sockets_on_both_processes(daphne_pair, live_sockets, peter, sweeper):
    (_, first), (_, second) = daphne_pair
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    linda_id = linda.welcome["visitor"]
    linda_other_tab = await live_sockets.visitor(first, token=linda.welcome["token"])
    mary = await live_sockets.visitor(second)
    linda_room = await start_chat(panel, linda)
    mary_room = await start_chat(panel, mary)

    # Peter closes Mary's room (R9) while Linda closes every tab, on both processes (R3).
    started = time.monotonic()
    await panel.ask(in_room(mary_room, status="closing"), type="close", room=mary_room)
    await linda.close()
    await linda_other_tab.close()

    within = max(settings.WP_ROOM_EXPIRY, settings.WP_VISITOR_TIMEOUT) + late_by() + 2
    mary_saw, peter_saw = await asyncio.gather(
        arrival(mary, in_room(mary_room, status="expired", reason="operator_closed"), within=within),
        arrival(panel, of_type("visitor_gone", visitor=linda_id), within=within),
    )
    assert_on_time(started, mary_saw, settings.WP_ROOM_EXPIRY)
    assert_on_time(started, peter_saw, settings.WP_VISITOR_TIMEOUT)
    # Linda's room expired in the same sweep, though Peter never closed it.
    await panel.expect(in_room(linda_room, status="expired", reason="visitor_left"), timeout=1)
    await panel.expect(in_room(mary_room, status="expired", reason="operator_closed"), timeout=1)


async def test_visitor_moving_to_another_process_stays_online(daphne_pair, live_sockets, peter, sweeper):
    (_, first), (_, second) = daphne_pair
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(first)
    linda_id = linda.welcome["visitor"]
    room = await start_chat(panel, linda)

    # The next page loads from the other process, well within the timeout (R2).
    await linda.close()
    moved_at = time.monotonic()
    await asyncio.sleep(settings.WP_VISITOR_TIMEOUT / 4)  # the page loading
    next_page = await live_sockets.visitor(second, token=linda.welcome["token"])
    assert next_page.welcome["visitor"] == linda_id
    assert next_page.welcome["room"]["id"] == room

    def lost_linda(frame: dict) -> bool:
        return of_type("visitor_gone", visitor=linda_id)(frame) or in_room(room, status="expired")(frame)

    # Past the deadline her first socket's close would have set, and a sweep after it.
    window_end = moved_at + settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 1
    await panel.expect_none(lost_linda, within=window_end - time.monotonic())
    await says(panel, "Still there?", "peter-1", room=room)
    await next_page.expect(message("Still there?"))
