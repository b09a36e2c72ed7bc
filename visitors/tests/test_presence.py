"""Presence in Redis (visitors/presence.py): who still has a socket open, and when a member
without one has left (R2, R3, R11), driven with explicit `now=` timestamps.

The timestamps are far ahead of the real clock, so the session's Celery sweeper (which
sweeps with the real time) never acts on the entries these tests make."""

import asyncio
import re
import time

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings

from visitors import presence
from visitors.models import PageView, Visitor
from visitors.presence import operator_presence, visitor_presence
from visitors.services import page_views_flush

LINDA, MARY = 9_000_001, 9_000_002


@pytest.fixture
def t0() -> float:
    return time.time() + 1_000_000


def timeout() -> float:
    return settings.WP_VISITOR_TIMEOUT


def lease() -> float:
    return settings.WP_PRESENCE_LEASE


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


# Sockets and leave deadlines ------------------------------------------------------


async def test_visitor_leaves_only_when_last_tab_closes(t0):
    await visitor_presence.connected(LINDA, "tab-1", now=t0)
    await visitor_presence.connected(LINDA, "tab-2", now=t0)

    await visitor_presence.disconnected(LINDA, "tab-1", now=t0 + 1)
    assert visitor_presence.is_connected(LINDA)
    assert visitor_presence.due(now=t0 + 1000) == []

    await visitor_presence.disconnected(LINDA, "tab-2", now=t0 + 5)
    assert not visitor_presence.is_connected(LINDA)
    # The deadline counts from the last close, not the first.
    assert visitor_presence.due(now=t0 + 5 + timeout() - 0.01) == []
    assert visitor_presence.due(now=t0 + 5 + timeout()) == [LINDA]


async def test_moving_to_next_page_before_deadline_cancels_leaving(t0):
    await visitor_presence.connected(LINDA, "page-1", now=t0)
    await visitor_presence.disconnected(LINDA, "page-1", now=t0)
    assert visitor_presence.due(now=t0 + timeout()) == [LINDA]

    await visitor_presence.connected(LINDA, "page-2", now=t0 + 0.5)

    assert visitor_presence.is_connected(LINDA)
    assert visitor_presence.due(now=t0 + 1000) == []


async def test_a_burst_of_sockets_opening_at_once_is_recorded_whole(t0):
    # A restarted daphne process: every page reconnects at the same moment, and their
    # commands share one pipelined connection (infra/pipelined_redis.py).
    members = range(LINDA, LINDA + 1500)
    await asyncio.gather(*(visitor_presence.connected(m, f"tab-{m}", now=t0) for m in members))

    assert all(visitor_presence.is_connected(m) for m in members)
    await asyncio.gather(*(visitor_presence.disconnected(m, f"tab-{m}", now=t0) for m in members))


async def test_one_visitor_leaving_does_not_touch_another(t0):
    await visitor_presence.connected(LINDA, "linda", now=t0)
    await visitor_presence.connected(MARY, "mary", now=t0)
    await visitor_presence.disconnected(LINDA, "linda", now=t0)

    assert visitor_presence.due(now=t0 + 1000) == [LINDA]
    assert visitor_presence.is_connected(MARY)


async def test_visitor_and_operator_presence_are_separate(t0):
    # The same id as a visitor and as an operator are two different people.
    await visitor_presence.connected(LINDA, "visitor-socket", now=t0)
    await operator_presence.connected(LINDA, "panel-socket", now=t0)
    await operator_presence.disconnected(LINDA, "panel-socket", now=t0)

    assert visitor_presence.is_connected(LINDA)
    assert visitor_presence.due(now=t0 + 1000) == []
    assert operator_presence.due(now=t0 + settings.WP_OPERATOR_TIMEOUT) == [LINDA]


# due / forget ---------------------------------------------------------------------


async def test_due_lists_without_removing_until_forgotten(t0):
    await visitor_presence.connected(LINDA, "tab", now=t0)
    await visitor_presence.disconnected(LINDA, "tab", now=t0)
    deadline = t0 + timeout()

    # A sweep that dies between due() and forget() leaves the member for the next sweep.
    assert visitor_presence.due(now=deadline) == [LINDA]
    assert visitor_presence.due(now=deadline) == [LINDA]

    visitor_presence.forget([LINDA], now=deadline)
    assert visitor_presence.due(now=deadline + 1000) == []


async def test_forget_keeps_visitor_who_came_back_and_left_again(t0):
    others = [101, 102, 103]
    for member in [LINDA, *others]:
        await visitor_presence.connected(member, "tab", now=t0)
        await visitor_presence.disconnected(member, "tab", now=t0)
    sweep_time = t0 + timeout()
    assert sorted(visitor_presence.due(now=sweep_time)) == sorted([LINDA, *others])

    # While the sweep handles them, Linda opens a page and closes it again: a later deadline.
    await visitor_presence.connected(LINDA, "tab-2", now=sweep_time + 0.1)
    await visitor_presence.disconnected(LINDA, "tab-2", now=sweep_time + 0.5)
    visitor_presence.forget([LINDA, *others], now=sweep_time)

    new_deadline = sweep_time + 0.5 + timeout()
    assert visitor_presence.due(now=new_deadline - 0.01) == []
    assert visitor_presence.due(now=new_deadline + 1000) == [LINDA]


# Leases -------------------------------------------------------------------------


async def test_socket_of_dead_process_counts_as_closed_at_its_lease_deadline(t0):
    # Recorded, then never renewed nor closed: its daphne process died.
    await visitor_presence.connected(LINDA, "dead-process!socket", now=t0)

    assert visitor_presence.reap_stale(now=t0 + lease() - 0.01) == 0
    assert visitor_presence.is_connected(LINDA)

    assert visitor_presence.reap_stale(now=t0 + lease()) == 1
    assert not visitor_presence.is_connected(LINDA)
    # Never early: the visitor leaves a full timeout after the lease ran out.
    assert visitor_presence.due(now=t0 + lease() + timeout() - 0.01) == []
    assert visitor_presence.due(now=t0 + lease() + timeout() + 0.01) == [LINDA]


async def test_stale_socket_does_not_make_visitor_with_another_tab_leave(t0):
    await visitor_presence.connected(LINDA, "dead-process!socket", now=t0)
    await visitor_presence.connected(LINDA, "live-process!socket", now=t0 + 10)

    assert visitor_presence.reap_stale(now=t0 + lease() + 1) == 1

    assert visitor_presence.is_connected(LINDA)
    assert visitor_presence.due(now=t0 + 1000) == []


async def test_renewal_keeps_socket_alive(t0):
    await visitor_presence.connected(LINDA, "tab", now=t0)
    renewed_at = t0 + lease() - 1
    await visitor_presence.renew([(str(LINDA), "tab")], now=renewed_at)

    assert visitor_presence.reap_stale(now=t0 + lease() + 0.5) == 0
    assert visitor_presence.is_connected(LINDA)

    # Renewals stop (the process died): the socket goes stale a lease after the last one.
    assert visitor_presence.reap_stale(now=renewed_at + lease()) == 1
    assert not visitor_presence.is_connected(LINDA)
    assert visitor_presence.due(now=renewed_at + lease() + timeout() - 0.01) == []
    assert visitor_presence.due(now=renewed_at + lease() + timeout() + 0.01) == [LINDA]


async def test_renewal_of_more_sockets_than_one_command_takes_keeps_them_all(t0):
    first = 9_100_000
    sockets = [(str(first + n), f"tab-{n}") for n in range(2 * presence.RENEW_BATCH + 1)]
    for visitor_id, channel in sockets:
        await visitor_presence.connected(int(visitor_id), channel, now=t0)
    renewed_at = t0 + lease() - 1

    await visitor_presence.renew(sockets, now=renewed_at)

    assert visitor_presence.reap_stale(now=t0 + lease() + 0.5) == 0
    assert visitor_presence.reap_stale(now=renewed_at + lease()) == len(sockets)


async def test_renewal_rebuilds_sockets_after_redis_lost_them(t0):
    await visitor_presence.connected(LINDA, "tab-1", now=t0)
    await visitor_presence.connected(LINDA, "tab-2", now=t0)
    client = redis_client()
    client.delete(*client.keys(f"{settings.WP_REDIS_PREFIX}:visitor:*"))
    assert not visitor_presence.is_connected(LINDA)

    await visitor_presence.renew([(str(LINDA), "tab-1"), (str(LINDA), "tab-2")], now=t0 + 1)

    assert visitor_presence.is_connected(LINDA)
    # Both sockets are back: closing one of them does not start a deadline.
    await visitor_presence.disconnected(LINDA, "tab-1", now=t0 + 2)
    assert visitor_presence.due(now=t0 + 1000) == []
    # And both have a lease again.
    assert visitor_presence.reap_stale(now=t0 + 1 + lease()) == 1


async def test_renewal_cancels_deadline_that_redis_recovery_gave(t0):
    # After a Redis restart the sweep gives every visitor the database shows online a
    # deadline; a visitor whose tab is still open is saved by the next renewal.
    visitor_presence.mark_absent([LINDA, MARY], now=t0)
    assert visitor_presence.due(now=t0 + timeout()) == [LINDA, MARY]

    await visitor_presence.renew([(str(LINDA), "open-tab")], now=t0 + 1)

    assert visitor_presence.due(now=t0 + timeout()) == [MARY]


async def test_recovery_does_not_give_connected_visitor_a_deadline(t0):
    await visitor_presence.connected(LINDA, "tab", now=t0)

    visitor_presence.mark_absent([LINDA, MARY], now=t0)

    assert visitor_presence.due(now=t0 + 1000) == [MARY]


# No database write per ping -----------------------------------------------------------


@database_sync_to_async
def visitor_row(visitor_id: int) -> dict:
    return Visitor.objects.filter(pk=visitor_id).values().get()


@database_sync_to_async
def page_views(visitor_id: int) -> int:
    return PageView.objects.filter(visitor_id=visitor_id).count()


PRESENCE_KEY = re.compile(r"(visitor|operator):(conns:\d+|leases|absent|epoch)")
# The hello and page report before the pings counted against rate limits (infra/ratelimit.py); pings do not.
RATE_KEY = re.compile(r"rate:(hello|page):(visitor|ip):[^:]+:[\d.]+:\d+")
# One value per install, written when a site changes (visitors/sites.py).
SITES_KEY = "sites:version"
# The visit in progress and the page views waiting for the database (visitors/visits.py).
VISIT_KEY = re.compile(r"visitor:state:\d+|pageviews(:flush)?")
# The address's open sockets (infra/socket_caps.py): one per socket, not per frame.
SOCKETS_KEY = re.compile(r"sockets:.+")


@pytest.mark.django_db(transaction=True)
async def test_idle_visitor_pinging_writes_nothing_to_the_database(sockets, site):
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    await linda.send(type="page", url="http://shop.test/shoes", title="Shoes", referrer="")
    await linda.ask("pong", type="ping")
    await database_sync_to_async(page_views_flush)(wait=True)
    before = await visitor_row(visitor_id)
    views_before = await page_views(visitor_id)
    visit_key = f"{settings.WP_REDIS_PREFIX}:visitor:state:{visitor_id}"
    visit_before = redis_client().hgetall(visit_key)

    for _ in range(5):
        await linda.ask("pong", type="ping")

    assert await visitor_row(visitor_id) == before  # last_seen included
    assert await page_views(visitor_id) == views_before
    assert redis_client().hgetall(visit_key) == visit_before  # the visit's page, in Redis
    assert await database_sync_to_async(page_views_flush)(wait=True) == 0
    assert visitor_presence.is_connected(visitor_id)
    prefix = f"{settings.WP_REDIS_PREFIX}:"
    keys = [key.removeprefix(prefix) for key in redis_client().scan_iter(match=f"{prefix}*")]
    assert f"visitor:conns:{visitor_id}" in keys
    known = (PRESENCE_KEY, RATE_KEY, VISIT_KEY, SOCKETS_KEY)
    assert [k for k in keys if not any(p.fullmatch(k) for p in known) and k != SITES_KEY] == []
