"""R16's queue (issue 22): a waiting visitor sees their place in line and the usual wait, from
their site's recent accepts, updated live as the pool changes. Over the sockets, on the real Redis."""

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import events, selectors
from chat.expiry import sweep
from chat.models import Room
from chat.services import rooms_end
from operators.tests.test_logout import from_now_on
from tests.api import make_room
from tests.owners import make_visitor
from tests.sockets import ask_to_chat, of_type
from visitors.presence import visitor_presence
from visitors.tests.test_visits import navigate, statements  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)

SHOES = {"url": "http://shop.test/shoes", "title": "Shoes", "referrer": ""}


def place(room_id: int, position: int, **fields):
    return of_type("queue", room=room_id, position=position, **fields)


async def request(visitor) -> dict:
    """The visitor opens the chat window: their request, in the pool."""
    return (await ask_to_chat(visitor, of_type("room", room__status="pending")))["room"]


async def test_waiting_visitors_see_their_place_in_line_and_move_up_when_one_is_taken(sockets, peter):
    panel = await sockets.operator(peter)
    linda, mary, sue = [await sockets.visitor() for _ in range(3)]
    rooms = {}
    for visitor in (linda, mary, sue):
        rooms[visitor] = (await request(visitor))["id"]
    # Each hears where they stand once the last request is in.
    await linda.expect(place(rooms[linda], 1, wait=None))
    await mary.expect(place(rooms[mary], 2, wait=None))
    await sue.expect(place(rooms[sue], 3, wait=None))

    mary_moves, sue_moves = from_now_on(mary, place(rooms[mary], 1)), from_now_on(sue, place(rooms[sue], 2))
    # Every queue event before the accept says no wait is known yet; one after it would.
    linda_after = lambda frame: of_type("queue")(frame) and frame["wait"] is not None  # noqa: E731
    await panel.ask(of_type("room", room__id=rooms[linda], room__status="active"), type="accept", room=rooms[linda])
    # Live: nobody asks for it. Linda, taken, is in no queue any more.
    moved = await mary.expect(mary_moves)
    await sue.expect(sue_moves)
    await linda.expect_none(linda_after, within=0.3)
    # Linda waited a moment: that is the site's usual wait now.
    assert isinstance(moved["wait"], int)
    assert 0 <= moved["wait"] <= 5

    # A new tab (or a reconnect) shows the place at once, and so does a history answer.
    sue_tab = await sockets.visitor(token=sue.welcome["token"])
    assert sue_tab.welcome["queue"] == {"room": rooms[sue], "position": 2, "wait": moved["wait"]}
    history = await sue_tab.ask("history", type="history", after=0)
    assert history["queue"] == sue_tab.welcome["queue"]
    # Not waiting: no place in line.
    assert linda.welcome["queue"] is None
    assert (await linda.ask("history", type="history", after=0))["queue"] is None

    # A request that ends (the visitor closed... and left: here, an admin ended it) moves the rest up.
    sue_first = from_now_on(sue, place(rooms[sue], 1))
    await mary.close()
    await database_sync_to_async(_end)(rooms[mary])
    await sue.expect(sue_first)
    await sue_tab.expect(place(rooms[sue], 1))  # every tab of hers


def _end(room_id: int) -> None:
    rooms_end(room_ids=[room_id], now=timezone.now())


async def test_a_visitor_of_another_site_never_hears_this_sites_queue(sockets, peter, other_site):
    other = await sockets.visitor("other", origin="http://other.test")
    their_room = (await request(other))["id"]
    await other.expect(place(their_room, 1))
    linda, mary = await sockets.visitor(), await sockets.visitor()
    await request(linda)
    mary_room = (await request(mary))["id"]
    await mary.expect(place(mary_room, 2))  # Linda's request came first, not the other site's
    panel = await sockets.operator(peter)
    await panel.ask(of_type("room", room__status="active"), type="accept", room=mary_room)

    not_theirs = of_type("queue")
    await other.expect_none(lambda frame: not_theirs(frame) and frame["room"] != their_room, within=0.5)


def _accepted_rooms(site, *waits: float, ago: timedelta = timedelta(minutes=5)) -> None:
    """Requests of this site accepted `ago`, after these waits (seconds)."""
    accepted_at = timezone.now() - ago
    for wait in waits:
        room = make_room(make_visitor(site, online=False), status=Room.Status.EXPIRED)
        created_at = accepted_at - timedelta(seconds=wait)
        Room.objects.filter(pk=room.pk).update(created_at=created_at, accepted_at=accepted_at)


def _started_room(site, operator) -> None:
    """A chat an operator started (R12): accepted as it was made, nobody waited."""
    now = timezone.now() - timedelta(minutes=1)
    room = make_room(make_visitor(site, online=False), operator=operator, status=Room.Status.EXPIRED)
    Room.objects.filter(pk=room.pk).update(created_at=now, accepted_at=now)


async def test_the_wait_shown_is_the_median_of_the_sites_recent_accepts(sockets, site, other_site, peter):
    # The site's last accepts waited 40 s, 3 min and 5 min: "about 3 min". An operator-started
    # chat (no wait), another site's slow accepts and last week's do not count.
    await database_sync_to_async(_accepted_rooms)(site, 40, 180, 300)
    await database_sync_to_async(_started_room)(site, peter)
    await database_sync_to_async(_accepted_rooms)(other_site, 3600, 3600, 3600, 3600)
    await database_sync_to_async(_accepted_rooms)(site, 7200, 7200, 7200, 7200, ago=timedelta(days=7))

    linda = await sockets.visitor()
    room = (await request(linda))["id"]
    assert (await linda.expect(place(room, 1)))["wait"] == 180

    # The twenty newest accepts only: a busy hour since moves the estimate with it.
    await database_sync_to_async(_accepted_rooms)(site, *[20] * 20, ago=timedelta(minutes=1))
    mary = await sockets.visitor()
    mary_room = (await request(mary))["id"]
    assert (await mary.expect(place(mary_room, 2)))["wait"] == 20
    assert (await linda.expect(place(room, 1, wait=20)))["wait"] == 20


async def test_pages_of_visitors_not_waiting_cost_no_query_while_the_pool_changes(sockets, peter, statements):  # noqa: F811
    """The page event hot path is untouched: a visitor with no chat costs no statement, even as
    others' requests come and go; a waiting one's pages cost what they did (their room's read)."""
    panel = await sockets.operator(peter)
    browsing, waiting = await sockets.visitor(), await sockets.visitor()
    await navigate(browsing, SHOES)  # the visit's first page: the database records it
    await navigate(waiting, SHOES)
    room = (await request(waiting))["id"]
    await waiting.expect(place(room, 1))

    statements.clear()
    for n in range(3):
        await navigate(browsing, {**SHOES, "url": f"http://shop.test/shoes/{n}"})
    assert statements == []
    await navigate(waiting, {**SHOES, "url": "http://shop.test/cart"})
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1
    assert not any("COUNT(" in sql.upper() for sql in statements)
    await panel.expect(of_type("visitor", visitor__id=waiting.welcome["visitor"], visitor__url="http://shop.test/cart"))


def test_a_pool_change_reads_the_queue_in_two_queries_however_many_wait(site):
    for _ in range(12):
        make_room(make_visitor(site))
    with CaptureQueriesContext(connection) as queries:
        queues = selectors.site_queues(site_ids=[site.pk])
    assert [queue["position"] for _, queue in queues] == list(range(1, 13))
    assert len(queries) == 2


def test_a_sweep_letting_many_waiting_visitors_go_reads_each_sites_queue_once(site, monkeypatch):
    """Hundreds of visitors who left with a request open: their requests end in the sweep's
    batches; the one visitor still waiting hears their new place once, not once per request."""
    leaving = [make_visitor(site) for _ in range(450)]  # three of the sweep's batches
    for visitor in leaving:
        make_room(visitor)
    staying = make_visitor(site)
    staying_room = make_room(staying)
    now = timezone.now()
    visitor_presence.mark_absent([visitor.pk for visitor in leaving], now=now.timestamp() - 60)
    read, sent = [], []
    site_queues = selectors.site_queues

    def counted(*, site_ids):
        read.append(sorted(site_ids))
        return site_queues(site_ids=site_ids)

    monkeypatch.setattr(selectors, "site_queues", counted)
    monkeypatch.setattr(events, "_deliver", sent.extend)

    assert sweep(now=now).visitors_left == 450

    assert read == [[site.pk]]
    queue_events = [event for group, event in _events(sent) if event["type"] == "queue"]
    assert queue_events == [{"type": "queue", "room": staying_room.pk, "position": 1, "wait": None}]


def _events(batch):
    return [(group, json.loads(message["text"])) for group, message in batch if "text" in message]


def test_an_owner_ending_many_requests_in_admin_has_each_sites_queue_read_once(site, monkeypatch):
    ended = [make_room(make_visitor(site)) for _ in range(30)]
    staying_room = make_room(make_visitor(site))
    read, sent = [], []
    site_queues = selectors.site_queues

    def counted(*, site_ids):
        read.append(sorted(site_ids))
        return site_queues(site_ids=site_ids)

    monkeypatch.setattr(selectors, "site_queues", counted)
    monkeypatch.setattr(events, "_deliver", sent.extend)

    assert len(_end_rooms([room.pk for room in ended])) == 30

    assert read == [[site.pk]]
    queue_events = [event for _, event in _events(sent) if event["type"] == "queue"]
    assert queue_events == [{"type": "queue", "room": staying_room.pk, "position": 1, "wait": None}]


def _end_rooms(room_ids):
    return rooms_end(room_ids=room_ids, now=timezone.now())
