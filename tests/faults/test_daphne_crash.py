"""Issue 8, fault 3: one of two daphne processes is killed (SIGKILL) mid-conversation.

Its clients reconnect to the survivor and lose nothing. Presence survives it both
ways: visitors who reconnect are never dropped, and one whose page died with the
process (no reconnect) leaves once its lease has run out, not never."""

import asyncio
import time

import pytest
from django.conf import settings

from conftest import SITE_ORIGIN
from tests.faults.clients import VisitorTab
from tests.faults.conversation import assert_complete, chat_between, eventually, panel_for, rooms_of, write
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)


async def test_clients_of_a_killed_daphne_reconnect_to_the_survivor_and_lose_nothing(faults, live_sockets, peter, jane):
    doomed, survivor = faults.daphnes
    both = [doomed.base, survivor.base]
    panel = await panel_for(peter, both, "peter")
    linda = await VisitorTab(both, origin=SITE_ORIGIN, name="linda").started()
    mary = await VisitorTab([survivor.base], origin=SITE_ORIGIN, name="mary").started()
    linda_room = await chat_between(panel, linda)
    mary_room = await chat_between(panel, mary)
    # Jane watches from the survivor; Sue's page dies with the process and never comes back.
    watcher = await live_sockets.operator(survivor.base, jane)
    sue = await live_sockets.visitor(doomed.base)
    sue_id = sue.welcome["visitor"]
    await sue.send(type="page", url=f"{SITE_ORIGIN}/shoes", title="Shoes", referrer="")
    await watcher.expect(of_type("visitor", visitor__id=sue_id, visitor__url=f"{SITE_ORIGIN}/shoes"))

    rounds = 20
    writing = asyncio.gather(
        write(linda, rounds), write(mary, rounds), write(panel, rounds, room=linda_room, pause=(0.05, 0.2))
    )
    await asyncio.sleep(1.0)
    doomed.kill()
    killed_at = time.monotonic()
    await writing

    await assert_complete(linda_room, linda, panel, written={linda: rounds, panel: rounds})
    await assert_complete(mary_room, mary, panel, written={mary: rounds})
    assert panel.connects >= 2, "the panel was on the killed process"
    assert linda.connects >= 2, "Linda was on the killed process"

    # Sue's socket died with the process: she leaves once her lease ran out, plus the visitor timeout.
    latest = settings.WP_PRESENCE_LEASE + settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 2
    await watcher.expect(of_type("visitor_gone", visitor=sue_id), timeout=latest + 2)
    gone_after = time.monotonic() - killed_at
    assert gone_after >= settings.WP_VISITOR_TIMEOUT, f"Sue left {gone_after:.2f}s after the crash"
    assert gone_after <= latest, f"Sue left {gone_after:.2f}s after the crash"

    # Linda, Mary and Peter reconnected in time: nobody dropped them, their rooms live on.
    def dropped(frame: dict) -> bool:
        if of_type("visitor_gone")(frame):
            return frame["visitor"] in (linda.visitor_id, mary.visitor_id)
        return of_type("operator", operator__id=peter.pk, operator__online=False)(frame)

    await watcher.expect_none(dropped, within=max(0.5, killed_at + latest - time.monotonic()))
    assert not [f for f in panel.frames if of_type("visitor_gone")(f) and f["visitor"] != sue_id]
    assert await rooms_of(linda.visitor_id) == [(linda_room, "active", "")]
    assert await rooms_of(mary.visitor_id) == [(mary_room, "active", "")]

    async def still_shown():
        return {linda.visitor_id, mary.visitor_id} <= set(panel.visitors) and sue_id not in panel.visitors

    await eventually(still_shown, timeout=2, what="the panel does not show who is online")
