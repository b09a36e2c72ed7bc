"""Issue 8, fault 5: the Celery worker is down longer than every timeout, or beat runs twice.

When the worker comes back, every overdue expiry and release happens once, with the
reason whose deadline came first (as an on-time sweep would have decided), and none
before its deadline. Two beats (and two workers) started by mistake still expire
each room once."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import Room
from tests.faults.conversation import eventually
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)

CLOCK_SLACK = 0.05


@database_sync_to_async
def statuses(*room_ids: int) -> dict[int, tuple[str, str]]:
    return {r.pk: (r.status, r.reason) for r in Room.objects.filter(pk__in=room_ids)}


async def chatting(panel, visitor) -> int:
    visitor_id = visitor.welcome["visitor"]
    frame = await panel.ask(of_type("room", room__visitor=visitor_id, room__status="active"), type="start",
                            visitor=visitor_id)  # fmt: skip
    return frame["room"]["id"]


async def close_room(panel, room_id: int) -> None:
    await panel.ask(of_type("room", room__id=room_id, room__status="closing"), type="close", room=room_id)


async def read_all(client, seconds: float) -> list[dict]:
    """Every frame the client receives within `seconds` (nothing is left unread)."""
    await client.expect_none(lambda frame: False, within=seconds)
    return client.frames


def expired_events(frames: list[dict], room_id: int) -> list[dict]:
    return [f for f in frames if of_type("room", room__id=room_id, room__status="expired")(f)]


async def test_overdue_expiries_happen_once_with_the_first_reason_after_the_worker_was_down(
    faults, live_sockets, peter, jane
):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    janes_panel = await live_sockets.operator(second, jane)
    ann, bob, kim, sue, zoe = [await live_sockets.visitor(base) for base in (first, second, first, second, first)]
    ann_room, bob_room, zoe_room = [await chatting(panel, v) for v in (ann, bob, zoe)]
    kim_room = await chatting(janes_panel, kim)
    sue_room = (await ask_to_chat(sue, of_type("room", room__status="pending")))["room"]["id"]
    await panel.expect(of_type("room", room__id=sue_room, room__status="pending"))

    faults.worker.kill()  # dies mid-work, as a worker can
    # Ann's room runs out before she leaves; Bob leaves before his room runs out; Jane's
    # panel is gone before Kim leaves; Sue, waiting in the pool, leaves.
    await close_room(panel, ann_room)
    await bob.close()
    await janes_panel.close()
    await sue.close()
    await asyncio.sleep(0.5)
    await ann.close()
    await close_room(panel, bob_room)
    await kim.close()

    # Longer than every timeout: nothing happens while the worker is down.
    await asyncio.sleep(max(settings.WP_ROOM_EXPIRY, settings.WP_VISITOR_TIMEOUT, settings.WP_OPERATOR_TIMEOUT) + 1.5)
    live = await statuses(ann_room, bob_room, kim_room, sue_room, zoe_room)
    assert all(status != "expired" for status, _ in live.values()), live

    # Zoe's room is closed as the worker starts again: it is due only later.
    faults.worker.start()
    await close_room(panel, zoe_room)
    zoe_closed = time.monotonic()

    late_by = settings.WP_SWEEP_INTERVAL + 2
    await zoe.expect(of_type("room", room__id=zoe_room, room__status="expired"),
                     timeout=settings.WP_ROOM_EXPIRY + late_by + 15)  # fmt: skip
    waited = time.monotonic() - zoe_closed
    assert waited >= settings.WP_ROOM_EXPIRY - CLOCK_SLACK, f"Zoe's room expired {waited:.2f}s after closing"

    async def all_expired():
        return all(status == "expired" for status, _ in (await statuses(ann_room, bob_room, kim_room)).values())

    await eventually(all_expired, timeout=10, what="the overdue rooms did not all expire")
    assert await statuses(ann_room, bob_room, kim_room, sue_room, zoe_room) == {
        ann_room: ("expired", "operator_closed"),
        bob_room: ("expired", "visitor_left"),
        kim_room: ("expired", "operator_timeout"),
        # Her request holds her first message, a question nobody took in time: it stays in the
        # pool after she left, as an offline request (R16).
        sue_room: ("pending", ""),
        zoe_room: ("expired", "operator_closed"),
    }

    # Once each: one expiry event per room, one departure per visitor, Jane shown offline once.
    frames = await read_all(panel, settings.WP_SWEEP_INTERVAL * 4)
    for room_id in (ann_room, bob_room, zoe_room):
        assert len(expired_events(frames, room_id)) == 1, f"room {room_id}"
    assert expired_events(frames, sue_room) == []
    for visitor in (ann, bob, kim, sue):
        gone = [f for f in frames if of_type("visitor_gone", visitor=visitor.welcome["visitor"])(f)]
        assert len(gone) == 1, f"visitor {visitor.welcome['visitor']}"
    assert len([f for f in frames if of_type("operator", operator__id=jane.pk, operator__online=False)(f)]) == 1


async def test_two_beats_and_two_workers_expire_each_room_once(faults, live_sockets, peter):
    faults.start_extra(faults.beat_process("beat-2"))
    faults.start_extra(faults.celery("worker-2"))
    await asyncio.sleep(1)  # both beats scheduling, both workers taking sweeps
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    visitors = [await live_sockets.visitor((first, second)[n % 2]) for n in range(6)]
    rooms = [await chatting(panel, visitor) for visitor in visitors]

    # Three rooms closed by Peter, three visitors leaving: all due at about the same instant.
    for room_id in rooms[:3]:
        await close_room(panel, room_id)
    for visitor in visitors[3:]:
        await visitor.close()

    within = max(settings.WP_ROOM_EXPIRY, settings.WP_VISITOR_TIMEOUT) + settings.WP_SWEEP_INTERVAL + 4
    for visitor, room_id in zip(visitors[:3], rooms[:3], strict=True):
        await visitor.expect(of_type("room", room__id=room_id, room__status="expired"), timeout=within)
    frames = await read_all(panel, settings.WP_SWEEP_INTERVAL * 6)

    reasons = await statuses(*rooms)
    assert reasons == {
        **{room_id: ("expired", "operator_closed") for room_id in rooms[:3]},
        **{room_id: ("expired", "visitor_left") for room_id in rooms[3:]},
    }
    for room_id in rooms:
        assert len(expired_events(frames, room_id)) == 1, f"room {room_id} expired more than once"
    for visitor in visitors[:3]:
        tab_frames = await read_all(visitor, 0.1)
        assert len([f for f in tab_frames if of_type("room", room__status="expired")(f)]) == 1
    for visitor in visitors[3:]:
        gone = [f for f in frames if of_type("visitor_gone", visitor=visitor.welcome["visitor"])(f)]
        assert len(gone) == 1
    assert all(proc.running for proc in faults.extra), "a second beat or worker died"
