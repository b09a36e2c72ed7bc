"""Issue 8, fault 4: Redis restarts mid-conversation and comes back empty (no persistence).

Nobody restarts anything by hand. Every message written during the outage is stored
(acknowledged) or refused with `unavailable` and then stored on the client's retry;
none is silently lost. Clients are told to resync once the server hears Redis again
(visitors by a `resync` frame, panels by close code 4012), and do; presence rebuilds
itself, so nobody connected is dropped and nobody who left stays; expiry catches up."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from conftest import SITE_ORIGIN
from operators.models import Operator
from tests.faults.clients import VisitorTab, snapshot_view
from tests.faults.conversation import assert_complete, chat_between, eventually, panel_for, rooms_of, write_until
from visitors.models import Visitor

pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE = 2.0  # seconds Redis is down
CLOSE_RESYNC = 4012


@database_sync_to_async
def online(visitor_id: int) -> bool:
    return Visitor.objects.get(pk=visitor_id).online


async def test_redis_restart_mid_conversation_loses_nothing_and_the_server_recovers_on_its_own(
    faults, live_sockets, peter, jane
):
    first, second = faults.bases
    panel = await panel_for(peter, [first, second], "peter")
    linda = await VisitorTab([second, first], origin=SITE_ORIGIN, name="linda").started()
    room = await chat_between(panel, linda)
    # Sue leaves the site while Redis is down; Mary's room was closed just before the outage.
    sue = await live_sockets.visitor(first)
    sue_id = sue.welcome["visitor"]
    mary = await VisitorTab([first, second], origin=SITE_ORIGIN, name="mary").started()
    mary_room = await chat_between(panel, mary)
    await panel.send({"type": "close", "room": mary_room})

    async def outage(done: asyncio.Event) -> float:
        await asyncio.sleep(0.5)
        faults.redis.stop()
        await sue.close()
        await asyncio.sleep(OUTAGE)
        faults.redis.start()
        back = time.monotonic()
        await asyncio.sleep(1.5)
        done.set()
        return back

    done = asyncio.Event()
    _, by_linda, by_peter = await asyncio.gather(
        outage(done), write_until(done, linda, pause=(0.1, 0.3)), write_until(done, panel, room=room, pause=(0.1, 0.3))
    )

    # No message lost, none twice, each side shows them all: stored, or refused and stored on retry.
    await assert_complete(room, linda, panel, written={linda: by_linda, panel: by_peter})
    refused = [e for e in linda.errors + panel.errors if e.get("for") == "message"]
    assert all(e["code"] == "unavailable" for e in refused), refused
    # The servers told their clients to resync once Redis was back: panels by reconnecting,
    # visitors (who are many) with a `resync` frame, answered by `history`.
    assert CLOSE_RESYNC in panel.close_codes
    assert any(frame["type"] == "resync" for frame in linda.frames)

    # Events flow again without anybody restarting anything: the panel's new subscriptions,
    # and Linda's from before the outage, which her server subscribed again by itself.
    connects = linda.connects
    await linda.say("linda after the outage")
    await panel.say("peter after the outage", room=room)
    await eventually(
        lambda: any(m["body"] == "linda after the outage" for m in panel.logs.get(room, {}).values()),
        timeout=5,
        what="an event after the outage did not reach the panel",
    )
    await eventually(
        lambda: any(f["type"] == "message" and f["message"]["body"] == "peter after the outage" for f in linda.frames),
        timeout=5,
        what="an event after the outage did not reach the visitor",
    )
    assert linda.connects == connects, "Linda's socket was not the same"

    # Expiry caught up: Mary's closed room expired, Sue left; Linda is still here, in her room.
    await eventually(
        lambda: rooms_of_are(mary.visitor_id, [(mary_room, "expired", "operator_closed")]),
        timeout=settings.WP_ROOM_EXPIRY + settings.WP_SWEEP_INTERVAL + 4,
        what="the room closed before the outage did not expire",
    )
    left_by = settings.WP_VISITOR_TIMEOUT + settings.WP_PRESENCE_LEASE + settings.WP_SWEEP_INTERVAL + 3
    await eventually(lambda: not_online(sue_id), timeout=left_by, what="Sue, who left during the outage, stays online")
    assert await online(linda.visitor_id)
    assert await rooms_of(linda.visitor_id) == [(room, "active", "")]

    # The panel's state, built from events since its last snapshot, is what a fresh snapshot shows.
    fresh = await live_sockets.operator(second, peter)
    await eventually(
        lambda: panel.view() == snapshot_view(fresh.snapshot),
        timeout=3,
        what=lambda: f"panel {panel.view()} != snapshot {snapshot_view(fresh.snapshot)}",
    )
    assert (await database_sync_to_async(Operator.objects.get)(pk=peter.pk)).online


async def rooms_of_are(visitor_id: int, expected: list) -> bool:
    return await rooms_of(visitor_id) == expected


async def not_online(visitor_id: int) -> bool:
    return not await online(visitor_id)
