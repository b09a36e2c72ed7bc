"""Who is connected right now: kept in Redis, never written to the database per ping.

A visitor (or an operator's panel) is present while at least one of its sockets
is open. Every socket is recorded when it opens and removed when it closes; the
member becomes *absent* when its last socket closes, with a deadline
(`now + timeout`) after which the sweep treats it as gone (R3, R11). A socket
opening again before the deadline simply cancels it, so moving from page to page
never makes a visitor leave (R2).

Keys, for kind K ("visitor" or "operator") under the install's prefix P:

- `P:K:conns:<id>`  set of channel names of the member's open sockets
- `P:K:leases`      sorted set of "<id>|<channel>" scored by lease deadline
- `P:K:absent`      sorted set of member ids scored by their leave deadline

A daphne process that dies cannot report its sockets closing, so each process
renews the leases of its own sockets every `WP_PRESENCE_LEASE / 3` seconds
(one pipelined round trip for all of them); the sweep reaps leases that ran out
and treats those sockets as closed at the lease deadline. Renewal re-records
the sockets too, so presence rebuilds itself if Redis loses its data.

All times are passed in by the caller (`timezone.now()`), so tests move the clock.
"""

import asyncio
import logging
import weakref
from dataclasses import dataclass, field

import redis
from django.conf import settings

from infra.pipelined_redis import PipelinedRedis
from infra.redis_clients import RedisClients

logger = logging.getLogger(__name__)


# KEYS: leases, absent. ARGV: conns key prefix, lease deadline, then id, channel, id, channel...
# Records sockets as open until the lease deadline, and cancels their members' leave
# deadlines: a socket opening, or a process renewing its thousands in a few commands
# (not one command each, which the event loop spent time building every renewal).
_RENEW = """
for i = 3, #ARGV, 2 do
  redis.call('SADD', ARGV[1] .. ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i] .. '|' .. ARGV[i + 1])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
return (#ARGV - 2) / 2
"""

# Sockets renewed per command: Redis runs each script to its end before anything else.
RENEW_BATCH = 500

# KEYS: conns, leases, absent. ARGV: id, channel, lease deadline, cap (0: none).
# One socket opening, as _RENEW, unless the member already has `cap` others open.
_CONNECT = """
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('SCARD', KEYS[1]) >= cap and redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 0 then
  return 0
end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1] .. '|' .. ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

# KEYS: conns, leases, absent. ARGV: id, channel, leave deadline.
_DISCONNECT = """
redis.call('SREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1] .. '|' .. ARGV[2])
local left = redis.call('SCARD', KEYS[1])
if left == 0 then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[1])
end
return left
"""

# KEYS: leases, absent. ARGV: now, timeout, conns key prefix, limit.
# A socket whose lease ran out closed at some time before its deadline: counting
# from the deadline can make the member leave late, never early (R13).
_REAP = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
for i = 1, #stale, 2 do
  local member = stale[i]
  local sep = string.find(member, '|', 1, true)
  local id = string.sub(member, 1, sep - 1)
  local conns = ARGV[3] .. id
  redis.call('ZREM', KEYS[1], member)
  redis.call('SREM', conns, string.sub(member, sep + 1))
  if redis.call('SCARD', conns) == 0 then
    redis.call('ZADD', KEYS[2], 'NX', tonumber(stale[i + 1]) + tonumber(ARGV[2]), id)
  end
end
return #stale / 2
"""

# KEYS: absent. ARGV: now, then ids. Forget members the sweep has dealt with, except
# one that came back and left again since (then its new deadline still stands).
_FORGET = """
local forgotten = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) <= tonumber(ARGV[1]) then
    forgotten = forgotten + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return forgotten
"""


@dataclass
class _Renewer:
    """The sockets of one process (one event loop) whose leases it keeps alive."""

    sockets: set[tuple[str, str]] = field(default_factory=set)
    task: asyncio.Task | None = None


class Presence:
    def __init__(self, kind: str, timeout_setting: str):
        self.kind = kind
        self.timeout_setting = timeout_setting
        self._clients = RedisClients()
        self._renewers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # Keys ------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        return f"{settings.WP_REDIS_PREFIX}:{self.kind}"

    def _conns_key(self, member_id) -> str:
        return f"{self._prefix}:conns:{member_id}"

    def conns_key(self, member_id) -> str:
        """The set of a member's open sockets (visitors/windows.py checks its own against it)."""
        return self._conns_key(member_id)

    @property
    def _leases_key(self) -> str:
        return f"{self._prefix}:leases"

    @property
    def _absent_key(self) -> str:
        return f"{self._prefix}:absent"

    @property
    def timeout(self) -> float:
        return getattr(settings, self.timeout_setting)

    # Clients ---------------------------------------------------------------

    def _aredis(self) -> PipelinedRedis:
        return self._clients.aredis()

    def _redis(self) -> redis.Redis:
        return self._clients.redis()

    # Sockets (called by consumers, async) -----------------------------------

    async def connected(self, member_id: int, channel: str, *, now: float, cap: int = 0) -> bool:
        """Records the socket open; False (and nothing recorded) when the member already has
        `cap` sockets open (0: no cap)."""
        recorded = await self._aredis().eval(
            _CONNECT,
            3,
            self._conns_key(member_id),
            self._leases_key,
            self._absent_key,
            member_id,
            channel,
            now + settings.WP_PRESENCE_LEASE,
            cap,
        )
        if recorded:
            self._start_renewing(member_id, channel)
        return bool(recorded)

    async def disconnected(self, member_id: int, channel: str, *, now: float) -> int:
        """Records the socket closed; returns how many of the member's sockets are still open."""
        self._stop_renewing(member_id, channel)
        return await self._aredis().eval(
            _DISCONNECT,
            3,
            self._conns_key(member_id),
            self._leases_key,
            self._absent_key,
            member_id,
            channel,
            now + self.timeout,
        )

    def _start_renewing(self, member_id: int, channel: str) -> None:
        loop = asyncio.get_running_loop()
        renewer = self._renewers.get(loop)
        if renewer is None:
            renewer = self._renewers[loop] = _Renewer()
        renewer.sockets.add((str(member_id), channel))
        if renewer.task is None or renewer.task.done():
            renewer.task = loop.create_task(self._renew_forever(renewer))

    def _stop_renewing(self, member_id: int, channel: str) -> None:
        renewer = self._renewers.get(asyncio.get_running_loop())
        if renewer is not None:
            renewer.sockets.discard((str(member_id), channel))

    async def _renew_forever(self, renewer: _Renewer) -> None:
        from django.utils import timezone

        while renewer.sockets:
            await asyncio.sleep(settings.WP_PRESENCE_LEASE / 3)
            try:
                await self.renew(list(renewer.sockets), now=timezone.now().timestamp())
            except redis.RedisError:
                logger.warning("could not renew %s presence leases", self.kind, exc_info=True)

    async def renew(self, sockets: list[tuple[str, str]], *, now: float) -> None:
        client = self._aredis()
        for start in range(0, len(sockets), RENEW_BATCH):
            args = [value for socket in sockets[start : start + RENEW_BATCH] for value in socket]
            await client.eval(
                _RENEW,
                2,
                self._leases_key,
                self._absent_key,
                f"{self._prefix}:conns:",
                now + settings.WP_PRESENCE_LEASE,
                *args,
            )

    # Sweep (called by Celery, sync) ------------------------------------------

    def is_connected(self, member_id: int) -> bool:
        return self._redis().scard(self._conns_key(member_id)) > 0

    async def connected_now(self, member_ids: list[int]) -> set[int]:
        """Those of these members with a socket open, in one round trip (async)."""
        if not member_ids:
            return set()
        script = "local open = {} for i, key in ipairs(KEYS) do open[i] = redis.call('EXISTS', key) end return open"
        flags = await self._aredis().eval(script, len(member_ids), *map(self._conns_key, member_ids))
        return {member_id for member_id, flag in zip(member_ids, flags, strict=True) if flag}

    def absent_since(self) -> dict[int, float]:
        """Members whose last socket closed and who have not left yet (the sweep has not taken
        them): when their last socket closed."""
        deadlines = self._redis().zrange(self._absent_key, 0, -1, withscores=True)
        return {int(member_id): deadline - self.timeout for member_id, deadline in deadlines}

    def connected_among(self, member_ids: list[int]) -> set[int]:
        """Those of these members with a socket open, in one round trip."""
        if not member_ids:
            return set()
        pipe = self._redis().pipeline(transaction=False)
        for member_id in member_ids:
            pipe.exists(self._conns_key(member_id))
        return {member_id for member_id, open_ in zip(member_ids, pipe.execute(), strict=True) if open_}

    def reap_stale(self, *, now: float, limit: int = 10_000) -> int:
        return self._redis().eval(
            _REAP, 2, self._leases_key, self._absent_key, now, self.timeout, f"{self._prefix}:conns:", limit
        )

    def due(self, *, now: float, limit: int = 1_000) -> list[int]:
        """Members whose leave deadline has passed (not removed: see forget())."""
        return [member_id for member_id, _ in self.due_deadlines(now=now, limit=limit)]

    def due_deadlines(self, *, now: float, limit: int = 1_000) -> list[tuple[int, float]]:
        """Members whose leave deadline has passed, with that deadline, earliest first."""
        due = self._redis().zrangebyscore(self._absent_key, "-inf", now, start=0, num=limit, withscores=True)
        return [(int(member_id), deadline) for member_id, deadline in due]

    def forget(self, member_ids: list[int], *, now: float) -> None:
        """Members the sweep has dealt with, in one command: a thousand visitors leaving
        together were a thousand round trips (docs/benchmarks.md)."""
        if member_ids:
            self._redis().eval(_FORGET, 1, self._absent_key, now, *member_ids)

    def mark_absent(self, member_ids: list[int], *, now: float) -> None:
        """Give members the database thinks online, but Redis has no socket of, a deadline."""
        connected = self.connected_among(member_ids)
        absent = {str(m): now + self.timeout for m in member_ids if m not in connected}
        if absent:
            self._redis().zadd(self._absent_key, absent, nx=True)

    def erase(self, member_id: int) -> None:
        """Nothing of the member stays here (a visitor erased): their sockets, leases and leave
        deadline. A socket of theirs still open records its closing when it closes, and the
        sweep forgets that deadline as any other."""
        client = self._redis()
        leases = [member for member, _ in client.zscan_iter(self._leases_key, match=f"{member_id}|*", count=1000)]
        pipe = client.pipeline(transaction=False)
        pipe.delete(self._conns_key(member_id))
        pipe.zrem(self._absent_key, member_id)
        if leases:
            pipe.zrem(self._leases_key, *leases)
        pipe.execute()

    def lost_state(self) -> bool:
        """True once after Redis started without our data (first run, or a restart)."""
        return bool(self._redis().set(f"{self._prefix}:epoch", "1", nx=True))


visitor_presence = Presence("visitor", "WP_VISITOR_TIMEOUT")
operator_presence = Presence("operator", "WP_OPERATOR_TIMEOUT")
