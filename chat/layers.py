"""The channel layer: channels-redis's pub/sub layer, plus a resync signal when Redis comes back.

Pub/sub delivers at most once. While a daphne process's subscription connection is
down (Redis restarting, a network blip), every event published for its sockets is
lost for them, and nothing would ever tell those sockets. redis-py reconnects that
connection and subscribes again to every channel on its own (its `PubSub.on_connect`
callback); this layer hooks the same moment and hands every socket of the process a
`wp.resync` message. The clients then resync from the database, which holds
everything that happened meanwhile: a visitor socket sends `{"type":"resync"}` and the
snippet asks `history` after its last id (one query, no reconnect storm); a panel is
closed with 4012 and reconnects for a fresh snapshot.

It relies on two details of channels-redis 4.3 (pinned in requirements.txt): each
loop's layer keeps its shards in `_shards` and their pub/sub client in `_pubsub`.
tests/faults/test_redis_restart.py proves the whole path on a real Redis restart.
"""

import logging

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection
from channels_redis.utils import decode_hosts

from visitors.presence import reconnecting

logger = logging.getLogger(__name__)

RESYNC = {"type": "wp.resync"}


class _ResyncingShard(RedisSingleShardConnection):
    """One Redis connection of a process's layer that tells its sockets when it was re-established."""

    _watched = None  # the pub/sub connection our callback is registered on

    async def publish(self, channel, message):
        # channels-redis takes the shard's lock for a publish too, so every event of the
        # process waited in one line behind every other and behind each socket's subscribe
        # and unsubscribe: page events took 600 ms instead of 100 at 2,000 visitors on one
        # process (docs/benchmarks.md). A publish goes through the client's connection pool, not the
        # subscription connection the lock guards, and _ensure_redis() does not yield.
        self._ensure_redis()
        await self._redis.publish(channel, message)

    async def subscribe(self, channel):
        await super().subscribe(channel)
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None and connection is not self._watched:
            # redis-py calls connect callbacks on every reconnect (not the first connect),
            # in the order registered: its own resubscription runs before ours.
            connection.register_connect_callback(self._reconnected)
            self._watched = connection

    async def _reconnected(self, connection) -> None:
        layer = self.channel_layer
        channels = list(layer.channels.values())
        logger.warning("reconnected to Redis: %d socket(s) may have missed events and must resync", len(channels))
        message = layer.channel_layer.serialize(RESYNC)
        for queue in channels:
            queue.put_nowait(message)


class ResyncingPubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args, hosts=None, **kwargs):
        # Publishes retry on a fresh connection after Redis restarted (visitors.presence.reconnecting).
        hosts = [{"retry": reconnecting(), **host} for host in decode_hosts(hosts)]
        super().__init__(*args, hosts=hosts, **kwargs)

    def _get_layer(self):
        layer = super()._get_layer()
        if not getattr(layer, "_resyncing", False):
            # Replaced before first use: a loop's layer is created here, on demand.
            layer._shards = [_ResyncingShard(shard.host, layer) for shard in layer._shards]
            layer._resyncing = True
        return layer
