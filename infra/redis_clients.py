"""Clients of the install's Redis (REDIS_URL), and the retry policy they share."""

import asyncio
import weakref

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from django.conf import settings

from .pipelined_redis import BACKOFF, RETRIES, PipelinedRedis


def reconnecting(retry_class: type = redis.asyncio.retry.Retry):
    """A retry policy for Redis clients. Clients made by `from_url` retry nothing by default,
    so after a Redis restart every pooled connection fails its next command once; retried,
    the command goes through on a fresh connection. Presence commands and PUBLISH may run
    twice harmlessly (sets, sorted sets, events applied by id)."""
    return retry_class(BACKOFF, RETRIES)


class RedisClients:
    """Clients of the install's Redis, made on first use: for async code (daphne's sockets) one
    pipelined connection per event loop (infra.pipelined_redis: daphne has one loop, each
    async test its own), and redis-py's client for sync code (Celery, views)."""

    def __init__(self):
        self._async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._sync_client: redis.Redis | None = None

    def aredis(self) -> PipelinedRedis | redis.asyncio.Redis:
        """The event loop's client: the pipelined one, or redis-py's (WP_REDIS_CLIENT), which
        answer the commands the sockets send (eval, get, set, publish) alike."""
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            if settings.WP_REDIS_CLIENT == "redis-py":
                client = redis.asyncio.Redis.from_url(settings.REDIS_URL, retry=reconnecting())
            else:
                client = PipelinedRedis(settings.REDIS_URL)
            self._async_clients[loop] = client
        return client

    def redis(self) -> redis.Redis:
        if self._sync_client is None:
            self._sync_client = redis.Redis.from_url(settings.REDIS_URL, retry=reconnecting(redis.retry.Retry))
        return self._sync_client
