"""A visit in progress lives in Redis (visitors/visits.py): its pages cost the database nothing
one by one, reach it in batches, and the panel, the snapshot and the API show them at once."""

import threading
from datetime import timedelta

import pytest
import redis
import redis.asyncio
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from chat.expiry import sweep
from chat.models import Room
from tests.sockets import ask_to_chat, of_type
from visitors.models import PageView, Visitor
from visitors.presence import visitor_presence
from visitors.services import page_views_drain, page_views_flush
from visitors.visits import visits

pytestmark = pytest.mark.django_db(transaction=True)

SHOES = {"url": "http://shop.test/shoes", "title": "Shoes", "referrer": "https://search.test/"}
CART = {"url": "http://shop.test/cart", "title": "Cart", "referrer": "http://shop.test/shoes"}


@pytest.fixture
def statements(monkeypatch):
    """Every SQL statement run from now on, in any thread (the sockets' database threads too)."""
    run = []
    lock = threading.Lock()
    execute, executemany = CursorWrapper.execute, CursorWrapper.executemany

    def counted(method):
        def wrapper(self, sql, *args, **kwargs):
            with lock:
                run.append(sql)
            return method(self, sql, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(CursorWrapper, "execute", counted(execute))
    monkeypatch.setattr(CursorWrapper, "executemany", counted(executemany))
    return run


def visitor_event(visitor_id: int, **fields):
    return of_type("visitor", visitor__id=visitor_id, **{f"visitor__{k}": v for k, v in fields.items()})


async def navigate(client, page: dict) -> None:
    await client.send(type="page", **page)
    await client.ask("pong", type="ping")  # frames are handled in order


@database_sync_to_async
def row(visitor_id: int) -> Visitor:
    return Visitor.objects.get(pk=visitor_id)


@database_sync_to_async
def views(visitor_id: int) -> list[str]:
    return list(PageView.objects.filter(visitor_id=visitor_id).order_by("at").values_list("url", flat=True))


flush = database_sync_to_async(page_views_flush)


@pytest.fixture
def flushes_paused():
    """No flush but the test's own (a sweeper of an earlier test runs Celery beat): the test
    holds the flush lock and drains with page_views_drain."""
    lock = visits.flush_lock(wait=True)
    yield database_sync_to_async(page_views_drain)
    lock.release()


async def test_pages_of_a_visit_in_progress_touch_no_database_and_reach_it_in_one_flush(
    sockets, site, peter, statements, flushes_paused
):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    await navigate(linda, SHOES)  # the visit's first page: the database records it
    await panel.expect(visitor_event(visitor_id, url=SHOES["url"], pages=1))
    since = (await row(visitor_id)).since

    statements.clear()
    for n in range(2, 6):
        await navigate(linda, {**CART, "url": f"http://shop.test/cart/{n}"})
        event = await panel.expect(visitor_event(visitor_id, url=f"http://shop.test/cart/{n}"))
        assert (event["visitor"]["pages"], event["visitor"]["since"]) == (n, since.isoformat())
    assert statements == []  # four pages, no statement: not a write, not a read

    # The snapshot shows the visit as it is, before any flush.
    fresh = await sockets.operator(peter)
    shown = {v["id"]: v for v in fresh.snapshot["visitors"]}[visitor_id]
    assert (shown["url"], shown["pages"], shown["title"]) == ("http://shop.test/cart/5", 5, "Cart")
    assert (await row(visitor_id)).url == SHOES["url"]  # the row is a flush behind

    statements.clear()
    assert await flushes_paused() == 4
    writes = [sql for sql in statements if sql.split()[0].upper() in ("INSERT", "UPDATE")]
    assert len(writes) == 2  # one INSERT for the four views, one UPDATE for the visitor's row
    stored = await row(visitor_id)
    assert (stored.url, stored.title, stored.pages, stored.online) == ("http://shop.test/cart/5", "Cart", 5, True)
    assert await views(visitor_id) == [SHOES["url"]] + [f"http://shop.test/cart/{n}" for n in range(2, 6)]
    assert await flushes_paused() == 0  # stored once


async def test_known_visitor_on_a_new_page_is_welcomed_without_the_database(sockets, site, peter, statements):
    panel = await sockets.operator(peter)
    first = await sockets.visitor(hello=False)
    welcome = await first.ask("welcome", type="hello", token=None, page=SHOES)
    visitor_id = welcome["visitor"]
    await first.close()

    statements.clear()
    second = await sockets.visitor(hello=False)
    again = await second.ask("welcome", type="hello", token=welcome["token"], page=CART, history=0)
    assert (again["visitor"], again["room"], again["messages"]) == (visitor_id, None, [])
    event = await panel.expect(visitor_event(visitor_id, url=CART["url"]))
    assert event["visitor"]["pages"] == 2
    assert statements == []


async def test_page_event_of_a_visitor_in_a_chat_carries_the_room_and_drops_it_once_ended(sockets, site, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    await navigate(linda, SHOES)
    room = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
    await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])

    await navigate(linda, CART)
    event = await panel.expect(visitor_event(visitor_id, url=CART["url"]))
    assert (event["visitor"]["room"]["id"], event["visitor"]["room"]["status"]) == (room["id"], "active")

    # Ended behind Redis's back (the visit keeps its id): the next page finds out.
    await database_sync_to_async(Room.objects.filter(pk=room["id"]).update)(status=Room.Status.EXPIRED)
    await navigate(linda, SHOES)
    event = await panel.expect(visitor_event(visitor_id, url=SHOES["url"]))
    assert event["visitor"]["room"] is None
    await navigate(linda, CART)
    assert (await panel.expect(visitor_event(visitor_id, url=CART["url"])))["visitor"]["room"] is None


async def test_rooms_the_sweep_expires_leave_the_visits_in_redis_at_once(sockets, site, peter):
    """The sweep's expiries reach the visits' room ids together, after its commits: a visitor
    still browsing has no live room kept before their next page."""
    panel = await sockets.operator(peter)
    visitors = [await sockets.visitor() for _ in range(3)]
    rooms = []
    for linda in visitors:
        await navigate(linda, SHOES)
        room = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
        await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])
        # Answered: nothing of hers waits, so the expiry frees her (R14 would make a new request).
        answer = f"o-{room['id']}"
        await panel.ask(of_type("ack", client_id=answer), type="message", room=room["id"], body="Hi!", client_id=answer)
        await panel.ask(of_type("room", room__id=room["id"], room__status="closing"), type="close", room=room["id"])
        rooms.append(room["id"])
    state = [f"{settings.WP_REDIS_PREFIX}:visitor:state:{v.welcome['visitor']}" for v in visitors]
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert [int(client.hget(key, "live")) for key in state] == rooms

    later = timezone.now() + timedelta(seconds=settings.WP_ROOM_EXPIRY + 1)
    assert (await database_sync_to_async(sweep)(now=later)).rooms_expired == 3
    assert [int(client.hget(key, "live")) for key in state] == [0, 0, 0]
    assert [int(client.hget(key, "last")) for key in state] == rooms


async def test_visitor_back_after_leaving_starts_a_new_visit(sockets, site, peter):
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    for page in (SHOES, CART, SHOES):
        await navigate(linda, page)
    await linda.close()
    # Gone for longer than the timeout: the sweep lets them go, their last pages stored first.
    later = timezone.now() + timedelta(seconds=settings.WP_VISITOR_TIMEOUT + 1)
    await database_sync_to_async(sweep)(now=later)
    gone = await row(visitor_id)
    assert (gone.online, gone.url, gone.pages) == (False, SHOES["url"], 3)

    panel = await sockets.operator(peter)
    back = await sockets.visitor(hello=False)
    await back.ask("welcome", type="hello", token=linda.welcome["token"], page=CART)
    event = await panel.expect(visitor_event(visitor_id, url=CART["url"]))
    assert event["visitor"]["pages"] == 1
    assert event["visitor"]["since"] == (await row(visitor_id)).since.isoformat()
    assert (await row(visitor_id)).since > gone.since


async def test_visit_lost_by_redis_is_recorded_by_the_database_again(sockets, site, peter, flushes_paused):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    await navigate(linda, SHOES)
    await navigate(linda, CART)
    # As after a Redis restart without its data: the visit and the page view waiting are lost.
    visits.forget(visitor_id)
    visits.stored(visits.waiting())

    await navigate(linda, SHOES)
    event = await panel.expect(visitor_event(visitor_id, url=SHOES["url"], pages=2))
    assert event["visitor"]["online"] is True
    await navigate(linda, CART)  # back in Redis
    await panel.expect(visitor_event(visitor_id, url=CART["url"], pages=3))
    await flushes_paused()
    assert await views(visitor_id) == [SHOES["url"], SHOES["url"], CART["url"]]


async def test_rotated_token_is_refused_by_the_visit_in_redis_too(sockets, site):
    first = await sockets.visitor(hello=False)
    welcome = await first.ask("welcome", type="hello", token=None, page=SHOES)
    await first.ask("token", type="rotate")
    await first.close()

    again = await sockets.visitor(hello=False)
    stranger = await again.ask("welcome", type="hello", token=welcome["token"], page=CART)
    assert stranger["visitor"] != welcome["visitor"]


async def test_erased_visitor_is_not_served_from_redis_and_their_waiting_views_do_not_stop_a_flush(sockets, site):
    first = await sockets.visitor(hello=False)
    welcome = await first.ask("welcome", type="hello", token=None, page=SHOES)
    await navigate(first, CART)  # waits in the stream
    mary = await sockets.visitor()
    await navigate(mary, SHOES)
    await navigate(mary, CART)
    await first.close()
    await database_sync_to_async(Visitor.objects.filter(pk=welcome["visitor"]).delete)()

    again = await sockets.visitor(hello=False)
    stranger = await again.ask("welcome", type="hello", token=welcome["token"], page=CART)
    assert stranger["visitor"] != welcome["visitor"]
    await flush(wait=True)
    assert await views(mary.welcome["visitor"]) == [SHOES["url"], CART["url"]]


async def test_flush_waits_for_the_one_running_and_stores_nothing_twice(sockets, site):
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    for n in range(30):
        await navigate(linda, {**SHOES, "url": f"http://shop.test/{n}"})
    results = []

    def flushes_at_once() -> None:
        threads = [threading.Thread(target=lambda: results.append(page_views_flush(wait=True))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    await database_sync_to_async(flushes_at_once)()
    # The first page went to the database directly; a sweeper's flush may have stored some.
    assert sum(results) <= 29
    assert await views(visitor_id) == [f"http://shop.test/{n}" for n in range(30)]
    assert visitor_presence.is_connected(visitor_id)


async def test_a_visit_works_the_same_on_redis_pys_client(sockets, site, peter, settings):
    """WP_REDIS_CLIENT = "redis-py": redis-py's asyncio client in place of the pipelined one
    (the benchmark compares the two)."""
    settings.WP_REDIS_CLIENT = "redis-py"
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    assert isinstance(visits._clients.aredis(), redis.asyncio.Redis)
    await navigate(linda, SHOES)
    await navigate(linda, CART)
    event = await panel.expect(visitor_event(visitor_id, url=CART["url"]))
    assert event["visitor"]["pages"] == 2
