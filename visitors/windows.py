"""Which of a visitor's tabs have the chat window open, kept in Redis (issue 22).

A room's `visitor_in_room` is true while any tab of the visitor has the window open: the
operator must not read "left the chat window" while the visitor reads their messages in
another tab, nor "in the window" after the tab that held it was closed. Each socket that
opens the window is recorded here; the window counts as left when the last one closes it,
or closes without coming back within WP_RECONNECT_GRACE (a page change closes one socket
and opens the next: chat/departures.py).

Key, under the install's prefix P: `P:visitor:window:<id>`, the set of channel names of
the visitor's sockets with the window open. A channel whose socket is no longer among the
visitor's open sockets (visitors/presence.py: a process that died never said it closed) is
dropped whenever the set is counted.
"""

from django.conf import settings

from infra.redis_clients import RedisClients

from .presence import visitor_presence

# KEYS: window, conns. ARGV: channel to drop ("" for none).
# The sockets still holding the window open, stale ones dropped on the way.
_COUNT = """
if ARGV[1] ~= '' then
  redis.call('SREM', KEYS[1], ARGV[1])
end
local open = 0
for _, channel in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('SISMEMBER', KEYS[2], channel) == 1 then
    open = open + 1
  else
    redis.call('SREM', KEYS[1], channel)
  end
end
return open
"""

# Kept this long after the last change: a key whose sockets all vanished unseen goes away.
_TTL = 24 * 3600


class ChatWindows:
    def __init__(self):
        self._clients = RedisClients()

    def _key(self, visitor_id: int) -> str:
        return f"{settings.WP_REDIS_PREFIX}:visitor:window:{visitor_id}"

    async def opened(self, visitor_id: int, channel: str) -> None:
        """This socket's tab has the window open."""
        client = self._clients.aredis()
        key = self._key(visitor_id)
        await client.eval("redis.call('SADD', KEYS[1], ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2])", 1, key,
                          channel, _TTL)  # fmt: skip

    async def closed(self, visitor_id: int, channel: str) -> int:
        """This socket's tab closed the window (or the socket closed): how many others still have it open."""
        return await self._clients.aredis().eval(
            _COUNT, 2, self._key(visitor_id), visitor_presence.conns_key(visitor_id), channel
        )

    def any_open(self, visitor_id: int) -> bool:
        """Whether any tab of the visitor has the window open now (sync: a service asks)."""
        return (
            self._clients.redis().eval(_COUNT, 2, self._key(visitor_id), visitor_presence.conns_key(visitor_id), "") > 0
        )

    def forget(self, visitor_id: int) -> None:
        """Nothing of the visitor stays here (the visitor erased)."""
        self._clients.redis().delete(self._key(visitor_id))


chat_windows = ChatWindows()
