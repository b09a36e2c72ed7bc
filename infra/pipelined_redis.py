"""The sockets' Redis client: one connection per event loop, every command pipelined on it.

A navigation sends Redis five small commands from daphne's event loop (the rate limit,
presence in and out, the site's version, the page event's PUBLISH). redis-py's asyncio
client takes a connection from its pool for each and waits for the answer on it: under
load, as many connections as commands in flight, a write and a read (and their system
calls) per command, and the pool's and the retry's machinery around each: about 200 µs
of the process's CPU a command on this project's machine (docs/benchmarks.md). Here the
commands of a whole turn of the event loop go out in one write on one connection, and
their answers come back in order, parsed by hiredis, in as few reads: 15-30 µs a command
with a few in flight.

It speaks only what the sockets need (`get`, `set`, `eval`, `publish`, `execute`); Celery,
the sweep and the views keep redis-py's synchronous client. Errors are redis-py's
(`ResponseError`, `ConnectionError`), so callers handle both clients alike. A lost
connection fails the commands waiting on it; each is sent again on a new connection, up
to RETRIES times (as `infra.redis_clients.reconnecting` does for redis-py: the sockets'
commands may run twice harmlessly), and then fails.
"""

import asyncio
import collections
import ssl

import hiredis
import redis
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url

# The retry policy of every Redis client of the sockets (redis-py's too: infra.redis_clients.reconnecting).
RETRIES = 3
BACKOFF = ExponentialBackoff(cap=0.5, base=0.05)
CONNECT_TIMEOUT = 5.0


def _encode(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value).encode()
    raise redis.DataError(f"cannot send {type(value).__name__} to Redis")


def pack(args: tuple) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _encode(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    def __init__(self):
        self.reader = hiredis.Reader(protocolError=redis.InvalidResponse, replyError=redis.ResponseError)
        self.waiting: collections.deque[asyncio.Future] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self._pending: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future = self.waiting.popleft()
                if future.done():  # its caller was cancelled: the answer is dropped
                    continue
                if isinstance(reply, redis.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except redis.InvalidResponse as error:
            self.transport.close()
            self.connection_lost(error)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = redis.ConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def call(self, args: tuple) -> asyncio.Future:
        if self.lost is not None:
            raise self.lost
        future = asyncio.get_running_loop().create_future()
        if not self._pending:
            # Everything asked for in this turn of the event loop goes out in one write.
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(pack(args))
        self.waiting.append(future)
        return future

    def _flush(self) -> None:
        data, self._pending = b"".join(self._pending), []
        if self.lost is None:
            self.transport.write(data)


class PipelinedRedis:
    """A Redis at `url` (redis://, rediss:// or unix://, with its user, password and db)
    for the coroutines of one event loop."""

    def __init__(self, url: str):
        self.options = parse_url(url)
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future | None = None

    async def execute(self, *args):
        for attempt in range(RETRIES + 1):
            try:
                connection = await self._connected()
                return await connection.call(args)
            except redis.ConnectionError:
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(BACKOFF.compute(attempt))
        raise AssertionError("unreachable")

    async def get(self, key: str):
        return await self.execute("GET", key)

    async def set(self, key: str, value, *, nx: bool = False):
        reply = await self.execute("SET", key, value, *(["NX"] if nx else []))
        return reply == b"OK"

    async def eval(self, script: str, numkeys: int, *keys_and_args):
        return await self.execute("EVAL", script, numkeys, *keys_and_args)

    async def publish(self, channel, message) -> int:
        return await self.execute("PUBLISH", channel, message)

    async def _connected(self) -> _Connection:
        connection = self._connection
        if connection is not None and connection.lost is None:
            return connection
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._connect())
        # Shielded: one caller cancelled does not cancel the connection the others wait for.
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if "path" in options:
                    _, connection = await loop.create_unix_connection(_Connection, options["path"])
                else:
                    secure = options.get("connection_class") is redis.SSLConnection
                    tls = ssl.create_default_context() if secure else None
                    _, connection = await loop.create_connection(
                        _Connection, options.get("host", "localhost"), options.get("port", 6379), ssl=tls
                    )
                try:
                    if options.get("password"):
                        user = [options["username"]] if options.get("username") else []
                        await connection.call(("AUTH", *user, options["password"]))
                    if options.get("db"):
                        await connection.call(("SELECT", options["db"]))
                except BaseException:
                    connection.transport.close()  # refused (a wrong password, say): not kept open
                    raise
        except (OSError, TimeoutError) as error:
            raise redis.ConnectionError(f"could not connect to Redis: {error}") from error
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None
