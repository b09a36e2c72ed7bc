"""The channel layer (chat/layers.py) on the real Redis: many sockets subscribing at once all
get their events, and a group left and joined at once ends as asked."""

import asyncio

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings


@pytest.fixture
async def layer():
    layer = get_channel_layer()
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
    assert await settled(layer, "t-gone", 0)
    await layer.group_send("t-page", {"type": "wp.event", "text": "still here"})
    assert (await asyncio.wait_for(layer.receive(second), 5))["text"] == "still here"
