"""The channel layer (chat/layers.py) on the real Redis: many sockets subscribing at once all
get their events, a group left and joined at once ends as asked, a group is kept subscribed a
moment for the next page, and sockets of other processes are reached through Redis."""

import asyncio

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings

from chat.layers import ResyncingPubSubChannelLayer

LINGER = 0.3


@pytest.fixture
async def layer():
    layer = get_channel_layer()
    layer._get_layer().group_linger = LINGER
    yield layer
    await layer.flush()


async def subscribers(layer, group: str) -> int:
    """How many connections Redis has subscribed to the group's channel."""
    name = layer._get_group_channel_name(group)
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    try:
        [(_, count)] = await client.pubsub_numsub(name)
        return count
    finally:
        await client.aclose()


async def settled(layer, group: str, expected: int) -> bool:
    # A subscription is a write on the subscription connection: Redis may take a moment.
    for _ in range(50):
        if await subscribers(layer, group) == expected:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_many_sockets_joining_groups_at_once_all_get_their_events(layer):
    channels = await asyncio.gather(*(layer.new_channel() for _ in range(200)))
    await asyncio.gather(*(layer.group_add(f"t-{n % 50}", channel) for n, channel in enumerate(channels)))
    assert all([await settled(layer, f"t-{group}", 1) for group in range(50)])

    await asyncio.gather(*(layer.group_send(f"t-{g}", {"type": "wp.event", "text": str(g)}) for g in range(50)))

    received = await asyncio.wait_for(asyncio.gather(*(layer.receive(channel) for channel in channels)), 10)
    assert [message["text"] for message in received] == [str(n % 50) for n in range(200)]


async def test_leaving_and_joining_a_group_at_once_ends_as_asked(layer):
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("t-page", first)

    # A visitor moves to the next page: the old page's socket leaves, the new one joins.
    await asyncio.gather(layer.group_discard("t-page", first), layer.group_add("t-page", second))
    # And a socket that joins and leaves before anything was sent.
    await asyncio.gather(layer.group_add("t-gone", first), layer.group_discard("t-gone", first))

    assert await settled(layer, "t-page", 1)
    await asyncio.sleep(LINGER)
    assert await settled(layer, "t-gone", 0)
    await layer.group_send("t-page", {"type": "wp.event", "text": "still here"})
    assert (await asyncio.wait_for(layer.receive(second), 5))["text"] == "still here"


async def test_the_next_page_finds_its_group_subscribed_and_a_group_left_is_unsubscribed_after_the_linger(layer):
    old_page = await layer.new_channel()
    await layer.group_add("t-visitor", old_page)
    await layer.group_discard("t-visitor", old_page)
    # Nobody in the process is in the group now, yet it stays subscribed for the next page.
    assert await settled(layer, "t-visitor", 1)
    new_page = await layer.new_channel()
    await layer.group_add("t-visitor", new_page)
    await asyncio.sleep(LINGER * 2)
    assert await subscribers(layer, "t-visitor") == 1
    await layer.group_send("t-visitor", {"type": "wp.event", "text": "for the new page"})
    assert (await asyncio.wait_for(layer.receive(new_page), 5))["text"] == "for the new page"

    # The socket ends (Channels cancels its receive) without leaving its group itself.
    receiving = asyncio.ensure_future(layer.receive(new_page))
    await asyncio.sleep(0.05)
    receiving.cancel()
    await asyncio.sleep(LINGER)
    assert await settled(layer, "t-visitor", 0)


async def test_a_socket_of_another_process_is_reached_through_redis(layer):
    other_process = ResyncingPubSubChannelLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
    try:
        theirs, ours = await other_process.new_channel(), await layer.new_channel()
        await layer.send(theirs, {"type": "wp.event", "text": "from us"})
        await other_process.send(ours, {"type": "wp.event", "text": "from them"})
        await layer.send(ours, {"type": "wp.event", "text": "from ourselves"})
        assert (await asyncio.wait_for(other_process.receive(theirs), 5))["text"] == "from us"
        received = [await asyncio.wait_for(layer.receive(ours), 5) for _ in range(2)]
        assert {message["text"] for message in received} == {"from ourselves", "from them"}
    finally:
        await other_process.flush()


async def test_a_socket_takes_the_events_waiting_for_it_at_once_in_order(layer):
    panel = await layer.new_channel()
    await layer.group_add("t-site", panel)
    for n in range(5):
        await layer.group_send("t-site", {"type": "wp.event", "text": str(n)})
    first = await asyncio.wait_for(layer.receive(panel), 5)
    await asyncio.sleep(0.2)  # the other four arrive meanwhile
    rest = list(layer.receive_queued(panel))
    assert [first["text"], *(message["text"] for message in rest)] == ["0", "1", "2", "3", "4"]
    assert list(layer.receive_queued(panel)) == []
