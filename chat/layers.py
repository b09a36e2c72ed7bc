"""The channel layer: channels-redis's pub/sub layer, with fewer subscriptions and a resync signal.

**Subscriptions per process, not per socket.** channels-redis's pub/sub layer subscribes every
socket's own channel in Redis when it opens and unsubscribes it when it closes, and each of those
takes the process's one lock on its subscription connection: a navigation (one socket closing,
the next opening) made four such calls, and at 2,000 visitors on one process the handshakes
queued there (`hello` p95 1 s, docs/benchmarks.md). Here:

- a socket's channel lives in its process only. The process subscribes once to its own Redis
  channel; a message sent to one of its sockets' channels from elsewhere is published there
  with the socket's part of the name in front, and dispatched in the process.
- a group is subscribed once per process, when its first local socket joins, and kept for
  `group_linger` seconds after the last one left: the next page of the same visitor, opened a
  moment later on the same process, finds it subscribed. Events for a group nobody here is in
  are dropped on arrival, as before.

**Resync.** Pub/sub delivers at most once. While a daphne process's subscription connection is
down (Redis restarting, a network blip), every event published for its sockets is lost for
them, and nothing would ever tell those sockets. redis-py reconnects that connection and
subscribes again to every channel on its own (its `PubSub.on_connect` callback); this layer
hooks the same moment and hands every socket of the process a `wp.resync` message. The clients
then resync from the database, which holds everything that happened meanwhile: a visitor socket
sends `{"type":"resync"}` and the snippet asks `history` after its last id (one query, no
reconnect storm); a panel is closed with 4012 and reconnects for a fresh snapshot.

It relies on details of channels-redis 4.3 (pinned in requirements.txt): the loop layer's
`channels`, `groups`, `_shards` and `_get_shard`, and each shard's `_pubsub` and
`_receive_message`. chat/tests/test_layers.py and tests/faults/test_redis_restart.py prove it
on a real Redis.
"""

import asyncio
import logging
import uuid
from collections.abc import Iterator

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from django.conf import settings

from infra.pipelined_redis import PipelinedRedis
from infra.redis_clients import reconnecting

logger = logging.getLogger(__name__)

RESYNC = {"type": "wp.resync"}
GROUP_LINGER = 30.0  # seconds a group stays subscribed after its last socket in the process left
QUEUED_LIMIT = 500  # messages a socket takes at once (receive_queued): the others' turn comes then


def _pipelined(host: dict) -> PipelinedRedis | None:
    """A pipelined connection to a shard given by its address alone; None for a host given
    otherwise (sentinels, connection options), which keeps channels-redis's own client, as
    does WP_REDIS_CLIENT = "redis-py"."""
    if settings.WP_REDIS_CLIENT == "redis-py":
        return None
    if set(host) <= {"address", "retry"} and isinstance(host.get("address"), str):
        return PipelinedRedis(host["address"])
    return None


class _ResyncingShard(RedisSingleShardConnection):
    """One Redis connection of a process's layer that tells its sockets when it was re-established."""

    _watched = None  # the pub/sub connection our callback is registered on

    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._publisher = _pipelined(host)

    async def publish(self, channel, message):
        # channels-redis takes the shard's lock for a publish too, so every event of the
        # process waited in one line behind every other and behind each socket's subscribe
        # and unsubscribe: page events took 600 ms instead of 100 at 2,000 visitors on one
        # process (docs/benchmarks.md). A publish goes on the shard's pipelined connection
        # (infra/pipelined_redis.py), or channels-redis's pooled client, never the
        # subscription connection the lock guards (_ensure_redis() does not yield).
        if self._publisher is not None:
            await self._publisher.publish(channel, message)
        else:
            self._ensure_redis()
            await self._redis.publish(channel, message)

    async def flush(self):
        if self._publisher is not None:
            self._publisher.close()  # a publish after it connects anew
        await super().flush()

    async def subscribe(self, channel):
        await super().subscribe(channel)
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None and connection is not self._watched:
            # redis-py calls connect callbacks on every reconnect (not the first connect),
            # in the order registered: its own resubscription runs before ours.
            connection.register_connect_callback(self._reconnected)
            self._watched = connection

    def _receive_message(self, message):
        if message is not None and self.channel_layer.deliver_to_socket(message["channel"], message["data"]):
            return
        super()._receive_message(message)

    async def _reconnected(self, connection) -> None:
        layer = self.channel_layer
        channels = list(layer.channels.values())
        logger.warning("reconnected to Redis: %d socket(s) may have missed events and must resync", len(channels))
        message = layer.channel_layer.serialize(RESYNC)
        for queue in channels:
            queue.put_nowait(message)


class _ProcessLoopLayer(RedisPubSubLoopLayer):
    """One event loop's layer: sockets' channels kept in the process, groups subscribed once."""

    def __init__(self, *args, group_linger: float = GROUP_LINGER, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_ResyncingShard(shard.host, self) for shard in self._shards]
        self.group_linger = group_linger
        self._process = uuid.uuid4().hex
        self._routes: dict[str, asyncio.Task] = {}  # this process's Redis channels for its sockets
        self._subscriptions: dict[str, asyncio.Task] = {}  # group channel -> its SUBSCRIBE
        self._lingering: dict[str, asyncio.TimerHandle] = {}  # group channel -> its unsubscription
        self._member_of: dict[str, set[str]] = {}  # socket channel -> group channels
        self._background: set[asyncio.Task] = set()

    # A socket's channel is "<route>!<local>": <route>! is the Redis channel of its process.

    def _route(self, channel: str) -> tuple[str, str] | None:
        route, bang, local = channel.partition("!")
        return (route + bang, local) if bang else None

    async def new_channel(self, prefix="specific."):
        route = f"{self.prefix}{prefix}{self._process}!"
        channel = f"{route}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        try:
            await self._subscribed(self._routes, route)
        except BaseException:
            del self.channels[channel]
            raise
        return channel

    def deliver_to_socket(self, name: bytes | str, data: bytes) -> bool:
        """Hand a message that arrived on one of this process's routes to its socket."""
        if isinstance(name, bytes):
            name = name.decode()
        if name not in self._routes:
            return False
        local, _, message = data.partition(b"\0")
        queue = self.channels.get(name + local.decode())
        if queue is not None:  # else the socket closed meanwhile: dropped, as pub/sub does
            queue.put_nowait(message)
        return True

    async def send(self, channel, message):
        route = self._route(channel)
        if route is None:  # a general channel: channels-redis's way
            return await super().send(channel, message)
        data = self.channel_layer.serialize(message)
        if route[0] in self._routes:
            if (queue := self.channels.get(channel)) is not None:
                queue.put_nowait(data)
            return
        await self._get_shard(route[0]).publish(route[0], route[1].encode() + b"\0" + data)

    async def receive(self, channel):
        route = self._route(channel)
        if route is None or route[0] not in self._routes:
            return await super().receive(channel)
        queue = self.channels.get(channel)
        if queue is None:
            raise RuntimeError(f"{channel} is closed: receive() only on a channel new_channel() gave")
        try:
            message = await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # Channels cancels the receive when the socket ends: it is forgotten here.
            self._forget(channel)
            raise
        return self.channel_layer.deserialize(message)

    def receive_queued(self, channel: str, limit: int = QUEUED_LIMIT) -> Iterator[dict]:
        """The messages already waiting for a socket of this process, one by one, without waiting
        for more: a consumer takes them in one turn of the event loop, not a few turns each."""
        queue = self.channels.get(channel)
        for _ in range(limit):
            if queue is None or queue.empty():
                return
            yield self.channel_layer.deserialize(queue.get_nowait())

    def _forget(self, channel: str) -> None:
        self.channels.pop(channel, None)
        for group_channel in self._member_of.pop(channel, ()):
            self._leave(group_channel, channel)

    async def group_add(self, group, channel):
        if channel not in self.channels:
            raise RuntimeError(
                "You can only call group_add() on channels that exist in-process.\n"
                "Consumers are encouraged to use the common pattern:\n"
                f"   self.channel_layer.group_add({group!r}, self.channel_name)"
            )
        group_channel = self._get_group_channel_name(group)
        self.groups.setdefault(group_channel, set()).add(channel)
        self._member_of.setdefault(channel, set()).add(group_channel)
        if (unsubscription := self._lingering.pop(group_channel, None)) is not None:
            unsubscription.cancel()
        await self._subscribed(self._subscriptions, group_channel)

    async def _subscribed(self, subscriptions: dict[str, asyncio.Task], name: str) -> None:
        """Wait until `name` is subscribed, sending SUBSCRIBE if nobody in the process has."""
        task = subscriptions.get(name)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = subscriptions[name] = asyncio.ensure_future(self._get_shard(name).subscribe(name))
        await asyncio.shield(task)

    async def group_discard(self, group, channel):
        group_channel = self._get_group_channel_name(group)
        if channel not in self.groups.get(group_channel, ()):
            return
        self._member_of.get(channel, set()).discard(group_channel)
        self._leave(group_channel, channel)

    def _leave(self, group_channel: str, channel: str) -> None:
        members = self.groups.get(group_channel)
        if members is None:
            return
        members.discard(channel)
        if members:
            return
        del self.groups[group_channel]
        loop = asyncio.get_running_loop()
        self._lingering[group_channel] = loop.call_later(self.group_linger, self._unsubscribe, group_channel)

    def _unsubscribe(self, group_channel: str) -> None:
        self._lingering.pop(group_channel, None)
        if group_channel in self.groups or self._subscriptions.pop(group_channel, None) is None:
            return
        task = asyncio.ensure_future(self._get_shard(group_channel).unsubscribe(group_channel))
        self._background.add(task)
        task.add_done_callback(self._unsubscribed)

    def _unsubscribed(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Still subscribed: its events arrive and are dropped, as for a lingering group.
            logger.warning("could not unsubscribe a group: %r", task.exception())

    async def flush(self):
        for unsubscription in self._lingering.values():
            unsubscription.cancel()
        for task in self._background:
            task.cancel()
        self._routes, self._subscriptions, self._lingering, self._member_of = {}, {}, {}, {}
        self._background = set()
        await super().flush()


class ResyncingPubSubChannelLayer(RedisPubSubChannelLayer):
    def __init__(self, *args, hosts=None, **kwargs):
        # Publishes retry on a fresh connection after Redis restarted (infra.redis_clients.reconnecting).
        hosts = [{"retry": reconnecting(), **host} for host in decode_hosts(hosts)]
        super().__init__(*args, hosts=hosts, **kwargs)

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _ProcessLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer
