"""Expiry (R3, R9, R11) is on time and happens once (R13).

On the real Celery sweeper: the time from the action that starts a deadline to the
expiry event a socket receives is never shorter than the timeout and at most
SWEEP_INTERVAL + 2 s longer. With a moved clock: `chat.expiry.sweep(now=...)` acts at
the deadline and not before, once however often or concurrently it runs, and copes
with daphne processes that died and with Redis losing its data.

Moved-clock tests use timestamps far ahead of the real clock, so the session's
sweeper (sweeping with the real time) never acts on their Redis entries, and a
database transaction of their own (`db`) that the sweeper cannot see."""

import asyncio
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import expiry
from chat.expiry import SweepResult, sweep
from chat.models import Room
from chat.services import room_close, room_start
from operators.models import Operator
from tests.sockets import of_type
from visitors.models import Visitor, hash_token
from visitors.presence import operator_presence, visitor_presence

CLOCK_SLACK = 0.05  # the test's monotonic clock against the server's wall clock


def moment(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def far_future() -> float:
    # Whole seconds: a deadline then survives the round trip through a datetime exactly.
    return float(int(time.time()) + 1_000_000)


def late_by() -> float:
    """How late after its deadline an expiry may come (R13)."""
    return settings.WP_SWEEP_INTERVAL + 2


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


# Moved clock ------------------------------------------------------------------


@pytest.fixture
def redis_has_its_data():
    """Presence is intact (no recovery after a Redis restart in these sweeps)."""
    visitor_presence.lost_state()
    operator_presence.lost_state()


def make_visitor(site, *, online: bool = True) -> Visitor:
    now = timezone.now()
    return Visitor.objects.create(
        site=site,
        token_hash=hash_token(secrets.token_urlsafe(16)),
        first_seen=now,
        since=now,
        last_seen=now,
        online=online,
        url="http://shop.test/",
    )


def chatting_with(operator: Operator, visitor: Visitor) -> Room:
    return room_start(visitor_id=visitor.pk, operator=operator)


def reload(instance):
    instance.refresh_from_db()
    return instance


@pytest.mark.usefixtures("redis_has_its_data")
def test_closed_room_expires_at_its_deadline_not_before(site, peter):
    room = chatting_with(peter, make_visitor(site))
    room = room_close(room_id=room.pk, operator=peter)

    early = sweep(now=room.expires_at - timedelta(milliseconds=1))

    assert early.rooms_expired == 0
    assert reload(room).status == Room.Status.CLOSING

    on_time = sweep(now=room.expires_at)

    assert on_time.rooms_expired == 1
    room = reload(room)
    assert room.status == Room.Status.EXPIRED
    assert room.reason == Room.Reason.OPERATOR_CLOSED
    assert room.ended_at == room.expires_at


@pytest.mark.usefixtures("redis_has_its_data")
def test_sweeping_again_does_not_expire_room_twice(site, peter):
    room = room_close(room_id=chatting_with(peter, make_visitor(site)).pk, operator=peter)
    first = room.expires_at + timedelta(seconds=1)

    assert sweep(now=first).rooms_expired == 1
    assert sweep(now=first).rooms_expired == 0
    assert sweep(now=first + timedelta(minutes=5)).rooms_expired == 0

    room = reload(room)
    assert (room.status, room.reason, room.ended_at) == (Room.Status.EXPIRED, Room.Reason.OPERATOR_CLOSED, first)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("redis_has_its_data")
def test_two_sweeps_at_once_expire_each_room_exactly_once(site, peter):
    # Committed rows, so both sweeping threads see them; deadlines far ahead of the real
    # clock, so only these two sweeps are due to expire them. Visitors are offline: the
    # rooms are closing rooms of visitors who already left.
    deadline = moment(far_future())
    now = timezone.now()
    due = [
        Room.objects.create(
            site=site,
            visitor=make_visitor(site, online=False),
            operator=peter,
            status=Room.Status.CLOSING,
            expires_at=deadline,
            created_at=now,
        )
        for _ in range(6)
    ]
    not_due = Room.objects.create(
        site=site,
        visitor=make_visitor(site, online=False),
        operator=peter,
        status=Room.Status.CLOSING,
        expires_at=deadline + timedelta(seconds=10),
        created_at=now,
    )
    start = threading.Barrier(2)
    results: list[SweepResult] = []
    errors: list[BaseException] = []

    def sweeper_thread() -> None:
        try:
            start.wait(timeout=5)
            results.append(sweep(now=deadline + timedelta(seconds=1)))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2
    assert sum(result.rooms_expired for result in results) == len(due)
    for room in due:
        room = reload(room)
        assert (room.status, room.reason) == (Room.Status.EXPIRED, Room.Reason.OPERATOR_CLOSED)
    assert reload(not_due).status == Room.Status.CLOSING


@pytest.mark.usefixtures("redis_has_its_data")
def test_sweep_removes_visitor_only_once_presence_deadline_passed(site, peter):
    linda = make_visitor(site)
    room = chatting_with(peter, linda)
    t0 = far_future()
    asyncio.run(visitor_presence.connected(linda.pk, "tab", now=t0))
    asyncio.run(visitor_presence.disconnected(linda.pk, "tab", now=t0 + 1))
    deadline = t0 + 1 + settings.WP_VISITOR_TIMEOUT

    early = sweep(now=moment(deadline - 0.01))

    assert early.visitors_left == 0
    assert reload(linda).online
    assert reload(room).status == Room.Status.ACTIVE

    on_time = sweep(now=moment(deadline))

    assert on_time.visitors_left == 1
    assert not reload(linda).online
    room = reload(room)
    # Peter never closed it: the visitor leaving expires it (R3).
    assert (room.status, room.reason) == (Room.Status.EXPIRED, Room.Reason.VISITOR_LEFT)
    assert sweep(now=moment(deadline + 5)).visitors_left == 0


@pytest.mark.usefixtures("redis_has_its_data")
def test_sweep_keeps_visitor_who_reconnected_before_it(site, peter):
    linda, mary = make_visitor(site), make_visitor(site)
    linda_room, mary_room = chatting_with(peter, linda), chatting_with(peter, mary)
    t0 = far_future()
    for visitor in (linda, mary):
        asyncio.run(visitor_presence.connected(visitor.pk, "page-1", now=t0))
        asyncio.run(visitor_presence.disconnected(visitor.pk, "page-1", now=t0))
    # Linda opens the next page in time; Mary does not.
    asyncio.run(visitor_presence.connected(linda.pk, "page-2", now=t0 + 1))

    result = sweep(now=moment(t0 + settings.WP_VISITOR_TIMEOUT + 1))

    assert result.visitors_left == 1
    assert reload(linda).online
    assert reload(linda_room).status == Room.Status.ACTIVE
    assert not reload(mary).online
    assert reload(mary_room).reason == Room.Reason.VISITOR_LEFT


def leaving_together(site, peter, n: int, t0: float) -> list[tuple[Visitor, Room]]:
    """n visitors chatting with Peter whose last tab closed at t0."""
    chats = []
    for _ in range(n):
        visitor = make_visitor(site)
        chats.append((visitor, chatting_with(peter, visitor)))
        asyncio.run(visitor_presence.connected(visitor.pk, "page-1", now=t0))
        asyncio.run(visitor_presence.disconnected(visitor.pk, "page-1", now=t0))
    return chats


@pytest.mark.usefixtures("redis_has_its_data")
def test_sweep_lets_many_visitors_go_at_once_in_a_few_queries(site, peter):
    """A campaign ends: visitors leaving together leave in the same sweep, in one transaction,
    not one each (a thousand took 7 s that way, later than R13 allows)."""
    t0 = far_future()
    chats = leaving_together(site, peter, 12, t0)
    back, back_room = chats[0]
    asyncio.run(visitor_presence.connected(back.pk, "page-2", now=t0 + 1))

    with CaptureQueriesContext(connection) as queries:
        result = sweep(now=moment(t0 + settings.WP_VISITOR_TIMEOUT + 1))

    assert result.visitors_left == 11
    assert reload(back).online
    assert reload(back_room).status == Room.Status.ACTIVE
    for visitor, room in chats[1:]:
        assert not reload(visitor).online
        assert reload(room).reason == Room.Reason.VISITOR_LEFT
    # The sweep's own reads (its business hours' and its transcripts' included, issues 23 and 25),
    # then one transaction for all of them: as many as for one visitor. At this far-off moment the
    # rooms are days old: their days' rollups are dropped too, the site's stamp first (two).
    assert len(queries) <= 15, "\n".join(query["sql"][:60] for query in queries)


@pytest.mark.usefixtures("redis_has_its_data")
def test_visitors_leaving_together_beyond_a_batch_all_leave(site, peter, monkeypatch):
    monkeypatch.setattr(expiry, "LEAVE_BATCH", 2)
    t0 = far_future()
    chats = leaving_together(site, peter, 5, t0)

    assert sweep(now=moment(t0 + settings.WP_VISITOR_TIMEOUT + 1)).visitors_left == 5
    assert not any(reload(visitor).online for visitor, _ in chats)
    assert all(reload(room).reason == Room.Reason.VISITOR_LEFT for _, room in chats)
    assert sweep(now=moment(t0 + settings.WP_VISITOR_TIMEOUT + 2)).visitors_left == 0


@pytest.mark.usefixtures("redis_has_its_data")
def test_visitor_whose_daphne_died_leaves_after_lease_and_timeout_never_before(site, peter):
    linda = make_visitor(site)
    room = chatting_with(peter, linda)
    t0 = far_future()
    # The socket is recorded, then its process dies: no close, no renewal (asyncio.run
    # ends the loop, and the renewer with it).
    asyncio.run(visitor_presence.connected(linda.pk, "dead-daphne!socket", now=t0))
    gone_at = t0 + settings.WP_PRESENCE_LEASE + settings.WP_VISITOR_TIMEOUT

    assert sweep(now=moment(t0 + settings.WP_PRESENCE_LEASE - 0.01)).visitors_left == 0
    assert sweep(now=moment(gone_at - 0.01)).visitors_left == 0
    assert reload(linda).online
    assert reload(room).status == Room.Status.ACTIVE

    assert sweep(now=moment(gone_at + 1)).visitors_left == 1
    assert not reload(linda).online
    assert reload(room).reason == Room.Reason.VISITOR_LEFT


@pytest.mark.usefixtures("redis_has_its_data")
def test_operator_whose_daphne_died_times_out_after_lease_and_timeout_never_before(site, peter):
    linda = make_visitor(site)
    room = chatting_with(peter, linda)
    Operator.objects.filter(pk=peter.pk).update(online=True)
    t0 = far_future()
    asyncio.run(operator_presence.connected(peter.pk, "dead-daphne!panel", now=t0))
    # Linda's tab lives on another, healthy process.
    asyncio.run(visitor_presence.connected(linda.pk, "live-daphne!socket", now=t0 + 100))
    timed_out_at = t0 + settings.WP_PRESENCE_LEASE + settings.WP_OPERATOR_TIMEOUT

    assert sweep(now=moment(timed_out_at - 0.01)).operators_timed_out == 0
    assert reload(peter).online
    assert reload(room).status == Room.Status.ACTIVE

    result = sweep(now=moment(timed_out_at + 1))

    assert (result.operators_timed_out, result.visitors_left) == (1, 0)
    assert not reload(peter).online
    assert reload(room).reason == Room.Reason.OPERATOR_TIMEOUT
    assert reload(linda).online


# On the real sweeper ----------------------------------------------------------------


async def arrival(client, match, *, within: float) -> float:
    await client.expect(match, timeout=within)
    return time.monotonic()


def assert_on_time(started: float, arrived: float, timeout: float) -> None:
    waited = arrived - started
    assert waited >= timeout - CLOCK_SLACK, f"expired early: after {waited:.3f}s, timeout {timeout}s"
    assert waited <= timeout + late_by(), f"expired late: after {waited:.3f}s, timeout {timeout}s"


@database_sync_to_async
def stored_room(room_id: int) -> Room:
    return Room.objects.get(pk=room_id)


async def start_chat(panel, visitor) -> dict:
    visitor_id = visitor.welcome["visitor"]
    frame = await panel.ask(
        of_type("room", room__visitor=visitor_id, room__status="active"), type="start", visitor=visitor_id
    )
    await visitor.expect(of_type("room", room__id=frame["room"]["id"], room__status="active"))
    return frame["room"]


@pytest.mark.django_db(transaction=True)
async def test_room_closed_by_operator_expires_on_time(sockets, peter, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await start_chat(panel, linda)
    expired = of_type("room", room__id=room["id"], room__status="expired", room__reason="operator_closed")

    wall_start, started = timezone.now(), time.monotonic()
    await panel.ask(of_type("room", room__id=room["id"], room__status="closing"), type="close", room=room["id"])
    within = settings.WP_ROOM_EXPIRY + late_by() + 2
    at_panel, at_visitor = await asyncio.gather(
        arrival(panel, expired, within=within), arrival(linda, expired, within=within)
    )

    assert_on_time(started, at_panel, settings.WP_ROOM_EXPIRY)
    assert_on_time(started, at_visitor, settings.WP_ROOM_EXPIRY)
    stored = await stored_room(room["id"])
    assert stored.ended_at >= stored.expires_at >= wall_start + timedelta(seconds=settings.WP_ROOM_EXPIRY)


@pytest.mark.django_db(transaction=True)
async def test_visitor_leaves_and_room_expires_on_time_after_last_tab_closed(sockets, peter, sweeper):
    panel = await sockets.operator(peter)
    first_tab = await sockets.visitor()
    linda_id = first_tab.welcome["visitor"]
    second_tab = await sockets.visitor(token=first_tab.welcome["token"])
    room = await start_chat(panel, first_tab)
    await first_tab.close()

    wall_start, started = timezone.now(), time.monotonic()
    await second_tab.close()
    within = settings.WP_VISITOR_TIMEOUT + late_by() + 2
    # The room's expiry is published just before the visitor_gone of the same sweep.
    expired_at = await arrival(
        panel, of_type("room", room__id=room["id"], room__status="expired", room__reason="visitor_left"), within=within
    )
    gone_at = await arrival(panel, of_type("visitor_gone", visitor=linda_id), within=within)

    assert_on_time(started, expired_at, settings.WP_VISITOR_TIMEOUT)
    assert_on_time(started, gone_at, settings.WP_VISITOR_TIMEOUT)
    stored = await stored_room(room["id"])
    assert stored.ended_at >= wall_start + timedelta(seconds=settings.WP_VISITOR_TIMEOUT)


@pytest.mark.django_db(transaction=True)
async def test_operator_whose_panel_closed_times_out_on_time(sockets, peter, jane, sweeper):
    jane_panel = await sockets.operator(jane)
    peter_panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await start_chat(peter_panel, linda)

    wall_start, started = timezone.now(), time.monotonic()
    await peter_panel.close()
    within = settings.WP_OPERATOR_TIMEOUT + late_by() + 2
    offline_at, expired_at = await asyncio.gather(
        arrival(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False), within=within),
        arrival(
            linda,
            of_type("room", room__id=room["id"], room__status="expired", room__reason="operator_timeout"),
            within=within,
        ),
    )

    assert_on_time(started, offline_at, settings.WP_OPERATOR_TIMEOUT)
    assert_on_time(started, expired_at, settings.WP_OPERATOR_TIMEOUT)
    stored = await stored_room(room["id"])
    assert stored.ended_at >= wall_start + timedelta(seconds=settings.WP_OPERATOR_TIMEOUT)


@database_sync_to_async
def is_online(visitor_id: int) -> bool:
    return Visitor.objects.get(pk=visitor_id).online


@pytest.mark.django_db(transaction=True)
async def test_after_redis_lost_presence_only_visitors_without_socket_leave(sockets, peter, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    mary = await sockets.visitor()
    mary_id = mary.welcome["visitor"]
    await mary.close()

    # Redis restarts empty: sockets, leases, Mary's deadline and the epoch are gone.
    # Linda's tab is still open (its renewer runs in this event loop); Mary has none.
    client = redis_client()
    prefix = settings.WP_REDIS_PREFIX
    lost = [*client.scan_iter(match=f"{prefix}:visitor:*"), *client.scan_iter(match=f"{prefix}:operator:*")]
    assert f"{prefix}:visitor:conns:{linda_id}".encode() in lost
    started = time.monotonic()
    client.delete(*lost)

    gone_at = await arrival(
        panel,
        of_type("visitor_gone", visitor=mary_id),
        within=settings.WP_VISITOR_TIMEOUT + late_by() + 2,
    )
    assert_on_time(started, gone_at, settings.WP_VISITOR_TIMEOUT)

    # Linda and Peter, whose sockets renew, stay past every deadline the recovery gave.
    def lost_a_live_socket(frame: dict) -> bool:
        return of_type("visitor_gone", visitor=linda_id)(frame) or of_type(
            "operator", operator__id=peter.pk, operator__online=False
        )(frame)

    window_end = started + settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 1.5
    await panel.expect_none(lost_a_live_socket, within=max(0.5, window_end - time.monotonic()))
    assert await is_online(linda_id)
    await linda.ask("pong", type="ping")
