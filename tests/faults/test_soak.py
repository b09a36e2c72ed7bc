"""Issue 8, fault 7: load with faults, bounded.

Two hundred visitors browse (page loads and single-page navigations) and some of them
chat with four operators, while the Celery worker is restarted and a daphne process is
killed and started again. At the end every message written is stored once and shown
on both sides, nobody still on the site was dropped and everybody who left is gone,
and each panel's state, built from its snapshot and the events since, equals a fresh
snapshot (Zulip's check). On a stack of its own, with timings in production's
proportions (conftest.SOAK_TIMINGS)."""

import asyncio
import contextlib
import random
import time

import pytest
from channels.db import database_sync_to_async

from chat.models import Message, Room
from conftest import SITE_ORIGIN
from tests.faults.clients import LIVE, Panel, VisitorTab, snapshot_view
from tests.faults.conversation import eventually, panel_for, shown, transcript

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

VISITORS = 200
CHATTERS = 60  # of them, who ask to chat
LEAVERS = 20  # of them, who leave the site before the end
ACTIVE = 60.0  # seconds of activity; the faults come during it


@database_sync_to_async
def stored_messages() -> list[tuple[int, int, str, str]]:
    """What people wrote (the system lines apart), oldest first."""
    written = Message.objects.exclude(sender=Message.Sender.SYSTEM)
    return list(written.order_by("id").values_list("id", "room_id", "sender", "body"))


@database_sync_to_async
def newest_room(visitor_id: int) -> int | None:
    return Room.objects.filter(visitor_id=visitor_id).order_by("-id").values_list("id", flat=True).first()


async def browse(tab: VisitorTab, until: float) -> None:
    """Pages of the shop: mostly full page loads (a new socket), some in-page navigations."""
    page = 0
    while time.monotonic() < until:
        await asyncio.sleep(random.uniform(3, 9))
        page += 1
        url = f"{SITE_ORIGIN}/{tab.name}/page-{page}"
        if random.random() < 0.7:
            tab.page = {"url": url, "title": f"Page {page}", "referrer": ""}
            await tab.drop(abort=False)  # the next page's snippet says hello with the same token
        else:
            await tab.visit(url, f"Page {page}")


async def chat(tab: VisitorTab, until: float) -> None:
    await asyncio.sleep(random.uniform(0, 10))
    await tab.ready.wait()
    await tab.send({"type": "open"})
    while time.monotonic() < until:
        await tab.say(f"{tab.name} says {len(tab.sent)}")
        await asyncio.sleep(random.uniform(2, 6))


async def operate(panel: Panel, until: float) -> None:
    """Take requests from the pool and answer the visitors of one's rooms."""
    answered: dict[int, int] = {}
    while time.monotonic() < until:
        await asyncio.sleep(random.uniform(0.3, 0.8))
        if not panel.ready.is_set():
            continue
        pending = [r["id"] for r in panel.rooms.values() if r["status"] == "pending"]
        if pending:
            await panel.send({"type": "accept", "room": random.choice(pending)})
        for room in list(panel.rooms.values()):
            if room["status"] != "active" or not panel.mine(room):
                continue
            log = panel.logs.get(room["id"], {})
            last_visitor = max((i for i, m in log.items() if m["sender"] == "visitor"), default=0)
            if last_visitor > answered.get(room["id"], 0):
                answered[room["id"]] = last_visitor
                await panel.say(f"{panel.name} says {len(panel.sent)}", room=room["id"])


async def faults_meanwhile(stack, started: float) -> None:
    await asyncio.sleep(max(0.0, started + ACTIVE * 0.25 - time.monotonic()))
    await asyncio.to_thread(stack.worker.stop)  # a deploy restarts the worker
    stack.worker.start()
    await asyncio.sleep(max(0.0, started + ACTIVE * 0.5 - time.monotonic()))
    doomed = stack.daphnes[0]
    doomed.kill()  # a crash; then the supervisor starts it again on its port
    await asyncio.sleep(2)
    await asyncio.to_thread(doomed.start)


async def test_soak_with_a_worker_restart_and_a_daphne_crash_loses_nothing_and_panels_match_snapshots(
    soak_stack, make_operator, site, peter, jane, live_sockets
):
    operators = [peter, jane] + [
        await database_sync_to_async(make_operator)(name, site, first_name=name.title()) for name in ("olivia", "omar")
    ]
    await soak(soak_stack, operators, soak_stack.bases, live_sockets)


def progress(what: str, since: float) -> None:
    print(f"{time.monotonic() - since:6.1f}s {what}", flush=True)  # shown when the test fails


async def soak(stack, operators, bases, live_sockets) -> None:
    t0 = time.monotonic()
    panels = [await panel_for(operator, bases[n % 2 :] + bases[: n % 2], operator.user.username)
              for n, operator in enumerate(operators)]  # fmt: skip
    tabs = [VisitorTab(bases[n % 2 :] + bases[: n % 2], origin=SITE_ORIGIN, name=f"v{n}") for n in range(VISITORS)]
    for n, tab in enumerate(tabs):
        tab.page = {"url": f"{SITE_ORIGIN}/{tab.name}/landing", "title": "Landing", "referrer": ""}
        tab.start()
        if n % 20 == 19:
            await asyncio.sleep(0.05)  # not all at the same millisecond
    await eventually(lambda: all(t.ready.is_set() for t in tabs), timeout=60, what="not every visitor connected")
    progress("all connected", t0)

    started = time.monotonic()
    until = started + ACTIVE
    chatters, leavers = tabs[:CHATTERS], tabs[-LEAVERS:]
    work = [browse(tab, until) for tab in tabs] + [chat(tab, until) for tab in chatters]
    work += [operate(panel, until + 3) for panel in panels] + [faults_meanwhile(stack, started)]

    async def leave_early():
        await asyncio.sleep(ACTIVE * 0.75)
        await asyncio.gather(*(tab.stop() for tab in leavers))

    await asyncio.gather(*work, leave_early())
    progress("activity over", t0)

    # Quiet: every client reconnected, every message acknowledged.
    staying = tabs[:-LEAVERS]
    for client in [*staying, *panels]:
        await client.settled(timeout=30)
    written = sum(len(client.sent) for client in [*tabs, *panels])
    progress(f"settled: {written} messages written", t0)
    assert written > 300, f"only {written} messages were written"

    # Every message written is stored once, as acknowledged.
    stored = await stored_messages()
    by_id = {message_id: (room_id, body) for message_id, room_id, _, body in stored}
    bodies = [body for _, _, _, body in stored]
    assert len(bodies) == len(set(bodies)) == written, "a message was lost or stored twice"
    for client in [*tabs, *panels]:
        for client_id, body in client.written.items():
            assert by_id[client.acked[client_id]][1] == body

    refused = {code for client in [*tabs, *panels] for code in client.refused.values()}
    assert not refused, f"messages were refused: {refused}"

    # Presence settles: leavers are gone once their timeout (and a dead process's leases) ran out.
    departed = {tab.visitor_id for tab in leavers}
    settle = sum(stack.setting(name) for name in ("WP_PRESENCE_LEASE", "WP_VISITOR_TIMEOUT", "WP_SWEEP_INTERVAL"))
    await eventually(lambda: not departed & set(panels[0].visitors), timeout=settle + 5,
                     what="a visitor who left is still shown")  # fmt: skip
    await asyncio.sleep(1)  # the last events in flight

    # Each visitor shows the whole conversation of their room, each panel of its rooms.
    for tab in chatters:
        room_id = await newest_room(tab.visitor_id)
        expected = await transcript(room_id, as_visitor=True)
        await eventually(
            lambda tab=tab, room_id=room_id, expected=expected: shown(tab.messages, room_id) == expected,
            timeout=5,
            what=lambda tab=tab, room_id=room_id, expected=expected: (
                f"{tab.name} does not show the transcript of room {room_id}: "
                f"missing {sorted(set(expected) - set(shown(tab.messages, room_id)))}, "
                f"extra {sorted(set(shown(tab.messages, room_id)) - set(expected))}, closes {tab.close_codes}"
            ),
        )
    for panel in panels:
        for room_id in [r for r, room in panel.rooms.items() if room["status"] in LIVE]:
            expected = await transcript(room_id)
            showing = shown(panel.logs.get(room_id, {}), room_id)
            assert showing == expected, f"{panel.name}, room {room_id}: missing {sorted(set(expected) - set(showing))}"

    progress("transcripts checked", t0)
    # Zulip's check: the state built from events is the state fetched fresh.
    for panel, operator in zip(panels, operators, strict=True):
        fresh = await live_sockets.operator(bases[1], operator)

        def same(panel=panel, fresh=fresh):
            return panel.view() == snapshot_view(fresh.snapshot)

        with contextlib.suppress(AssertionError):
            await eventually(same, timeout=2, what="")
        assert panel.view() == snapshot_view(fresh.snapshot), f"{panel.name}'s panel differs from a fresh snapshot"
    assert {tab.visitor_id for tab in staying} <= set(panels[0].visitors), "a visitor still here is not shown"
