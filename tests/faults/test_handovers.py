"""Issue 22: after each handover of a visitor, what every panel shows, built from its snapshot and
the events since, is what a fresh snapshot shows. Two daphne processes, the real Redis and
Celery: the visitor on one, the panels on either.

The handovers: a question in a closing room (R14 reopens it), a transfer to a colleague, that
colleague's panel gone for OPERATOR_TIMEOUT with the question unanswered (R14: back in the pool
by itself), the request taken, and the visitor's last tab closing (connection lost)."""

import pytest
from django.conf import settings

from conftest import SITE_ORIGIN
from tests.faults.clients import Panel, VisitorTab, snapshot_view
from tests.faults.conversation import chat_between, eventually, panel_for

pytestmark = pytest.mark.django_db(transaction=True)


async def same_as_a_fresh_snapshot(panel: Panel, operator, live_sockets, base: str, step: str) -> None:
    async def same() -> bool:
        fresh = await live_sockets.operator(base, operator)
        try:
            return panel.view() == snapshot_view(fresh.snapshot)
        finally:
            await fresh.close()

    await eventually(same, timeout=10, what=f"after {step}, {panel.name}'s panel differs from a fresh snapshot")


def room_of(panel: Panel, visitor_id: int, status: str):
    return next((r for r in panel.rooms.values() if r["visitor"] == visitor_id and r["status"] == status), None)


async def test_every_panel_matches_a_fresh_snapshot_after_each_handover(faults, live_sockets, peter, jane):
    first, second = faults.bases
    peter_panel = await panel_for(peter, [first, second], "peter")
    jane_panel = await panel_for(jane, [second, first], "jane")
    linda = await VisitorTab([second, first], origin=SITE_ORIGIN, name="linda").started()

    async def all_match(step: str) -> None:
        await same_as_a_fresh_snapshot(peter_panel, peter, live_sockets, first, step)
        await same_as_a_fresh_snapshot(jane_panel, jane, live_sockets, second, step)

    room = await chat_between(peter_panel, linda)
    await peter_panel.say("Hello Linda, how can I help?", room=room)

    # Peter closes the room; Linda asks again within the minute: it is reopened (R14).
    await peter_panel.send({"type": "close", "room": room})
    await eventually(lambda: linda.room and linda.room["status"] == "closing", timeout=5, what="not closing")
    await linda.say("Wait, does it come in XL?")
    await eventually(lambda: peter_panel.rooms[room]["status"] == "active", timeout=5, what="not reopened")
    await all_match("a question in a closing room")

    # Peter hands her over to Jane.
    await peter_panel.send({"type": "transfer", "room": room, "operator": jane.pk})
    await eventually(lambda: room in jane_panel.rooms, timeout=5, what="Jane did not get the room")
    await eventually(lambda: room not in peter_panel.rooms, timeout=5, what="Peter still has the room")
    await all_match("a transfer")

    # Jane's panel goes away without logging out, Linda's question unanswered: after the
    # operator timeout it is back in the pool by itself, marked why (R14).
    await linda.say("Hello? Anyone?")
    await jane_panel.stop()
    timeout = settings.WP_OPERATOR_TIMEOUT + settings.WP_PRESENCE_LEASE + settings.WP_SWEEP_INTERVAL + 5
    await eventually(
        lambda: room_of(peter_panel, linda.visitor_id, "pending") is not None,
        timeout=timeout,
        what="the unanswered question did not come back to the pool",
    )
    returned = room_of(peter_panel, linda.visitor_id, "pending")
    assert returned["returned"] == {"reason": "operator_timeout", "operator": "Jane"}
    await same_as_a_fresh_snapshot(peter_panel, peter, live_sockets, first, "the operator timeout")

    # Peter takes it back.
    await peter_panel.send({"type": "accept", "room": returned["id"]})
    await eventually(
        lambda: linda.room and linda.room["id"] == returned["id"] and linda.room["status"] == "active",
        timeout=5,
        what="Linda did not see her request taken",
    )
    await same_as_a_fresh_snapshot(peter_panel, peter, live_sockets, first, "accepting the returned request")

    # Linda's last tab closes: connection lost, in the events as in a fresh snapshot.
    await linda.stop()
    await eventually(
        lambda: (peter_panel.visitors.get(linda.visitor_id) or {}).get("lost"),
        timeout=settings.WP_RECONNECT_GRACE * 2 + 3,
        what="the panel did not hear that Linda's connection was lost",
    )
    await same_as_a_fresh_snapshot(peter_panel, peter, live_sockets, first, "the visitor's last tab closing")
