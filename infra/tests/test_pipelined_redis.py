"""The sockets' Redis client (infra/pipelined_redis.py) on the real Redis: answers reach
their own callers, refusals are redis-py's errors, and a lost connection is replaced."""

import asyncio

import pytest
import redis
from django.conf import settings

from infra.pipelined_redis import PipelinedRedis


def key(name: str) -> str:
    return f"{settings.WP_REDIS_PREFIX}:pipelined-test:{name}"


async def test_commands_sent_together_each_get_their_own_answer():
    client = PipelinedRedis(settings.REDIS_URL)
    await asyncio.gather(*(client.set(key(f"k{n}"), f"value {n}") for n in range(300)))

    answers = await asyncio.gather(*(client.get(key(f"k{n}")) for n in range(300)))

    assert answers == [f"value {n}".encode() for n in range(300)]
    client.close()


async def test_a_command_redis_refuses_raises_its_error_and_the_next_one_goes_through():
    client = PipelinedRedis(settings.REDIS_URL)
    await client.set(key("text"), "not a number")

    with pytest.raises(redis.ResponseError):
        await client.execute("INCR", key("text"))
    assert await client.eval("return redis.call('GET', KEYS[1])", 1, key("text")) == b"not a number"
    client.close()


async def test_a_connection_the_server_closed_is_replaced_by_the_next_command():
    client = PipelinedRedis(settings.REDIS_URL)
    await client.set(key("before"), "1", nx=True)
    own_id = await client.execute("CLIENT", "ID")

    # Killed from another connection, as a Redis restart would close it.
    redis.Redis.from_url(settings.REDIS_URL).client_kill_filter(_id=own_id)
    await asyncio.sleep(0.05)

    assert await client.get(key("before")) == b"1"
    assert await client.execute("CLIENT", "ID") != own_id
    client.close()


async def test_no_redis_to_connect_to_is_a_connection_error():
    client = PipelinedRedis("redis://127.0.0.1:1/0")

    with pytest.raises(redis.ConnectionError):
        await client.get(key("anything"))
