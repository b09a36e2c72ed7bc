"""How many sockets one address holds open at once, across every daphne process (issue 21).

A socket costs the server a file descriptor and memory whether or not it ever says
anything: one address opened 1,000 silent sockets in 1.3 s and took a process to its file
limit (`/healthz` answered 500, new visitors got `unavailable`). Each address (an IPv6 /64
as one, infra.ratelimit.address_subject) may hold `WP_MAX_SOCKETS_PER_IP` visitor sockets;
the next is refused at the handshake.

Key, under the install's prefix P: `P:sockets:<address>`, a sorted set of the channel names
of the address's open sockets scored by their lease deadline. Each process renews its own
sockets' leases every `WP_PRESENCE_LEASE / 3` seconds (as visitors.presence does), so the
sockets of a process that died stop counting when their leases run out, with no sweep.

Redis failing lets sockets in (fail open, as the rate limits do): an outage must not cost
the chat; the file limit of the units (deploy/systemd) is the backstop.
"""

import asyncio
import logging
import weakref

from django.conf import settings
from redis import RedisError

from infra.redis_clients import RedisClients

logger = logging.getLogger(__name__)

# KEYS: the address's sockets. ARGV: now, lease deadline, cap, channel, key lifetime (ms).
_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS: none. ARGV: key prefix, lease deadline, key lifetime (ms), then address, channel, ...
_RENEW = """
for i = 4, #ARGV, 2 do
  local key = ARGV[1] .. ARGV[i]
  redis.call('ZADD', key, ARGV[2], ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[3])
end
return (#ARGV - 3) / 2
"""

RENEW_BATCH = 500


class SocketCap:
    def __init__(self) -> None:
        self._clients = RedisClients()
        # Per event loop (one per process; tests run several): the sockets it renews.
        self._sockets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._tasks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _key(self, address: str) -> str:
        return f"{settings.WP_REDIS_PREFIX}:sockets:{address}"

    @staticmethod
    def _lifetime_ms() -> int:
        # The key outlives its newest lease: an address gone quiet leaves nothing behind.
        return int(settings.WP_PRESENCE_LEASE * 2000)

    async def admit(self, address: str, channel: str, *, now: float) -> bool:
        """Counts this socket against its address; False (and not counted) when the address
        already holds WP_MAX_SOCKETS_PER_IP."""
        cap = settings.WP_MAX_SOCKETS_PER_IP
        if cap <= 0:
            return True
        try:
            admitted = await self._clients.aredis().eval(
                _ADMIT,
                1,
                self._key(address),
                now,
                now + settings.WP_PRESENCE_LEASE,
                cap,
                channel,
                self._lifetime_ms(),
            )
        except RedisError as error:
            logger.warning("sockets per address not counted, Redis failed: %s", error)
            return True
        if not admitted:
            return False
        loop = asyncio.get_running_loop()
        sockets = self._sockets.setdefault(loop, set())
        sockets.add((address, channel))
        task = self._tasks.get(loop)
        if task is None or task.done():
            self._tasks[loop] = loop.create_task(self._renew_forever(sockets))
        return True

    async def release(self, address: str, channel: str) -> None:
        sockets = self._sockets.get(asyncio.get_running_loop())
        if sockets is None or (address, channel) not in sockets:
            return  # never admitted (refused, or no cap)
        sockets.discard((address, channel))
        try:
            await self._clients.aredis().execute("ZREM", self._key(address), channel)
        except RedisError as error:
            # Its lease runs out on its own, now that nothing renews it.
            logger.warning("could not release a socket of %s: %s", address, error)

    async def _renew_forever(self, sockets: set[tuple[str, str]]) -> None:
        from django.utils import timezone

        while sockets:
            await asyncio.sleep(settings.WP_PRESENCE_LEASE / 3)
            try:
                await self.renew(list(sockets), now=timezone.now().timestamp())
            except RedisError:
                logger.warning("could not renew the sockets per address", exc_info=True)

    async def renew(self, sockets: list[tuple[str, str]], *, now: float) -> None:
        client = self._clients.aredis()
        prefix = f"{settings.WP_REDIS_PREFIX}:sockets:"
        for start in range(0, len(sockets), RENEW_BATCH):
            args = [value for socket in sockets[start : start + RENEW_BATCH] for value in socket]
            await client.eval(_RENEW, 0, prefix, now + settings.WP_PRESENCE_LEASE, self._lifetime_ms(), *args)

    def held(self, address: str, *, now: float) -> int:
        """Sockets the address holds now (for tests and the admin's curiosity)."""
        return self._clients.redis().zcount(self._key(address), f"({now}", "+inf")


sockets_per_address = SocketCap()
