"""A lean websocket client for the load generator's visitors (RFC 6455, the part a visitor's page uses).

The generators play thousands of browsers on the same 2 cores as the server they measure: what
they spend is taken from it. The `websockets` library does everything right and much more (a
task per connection, keepalive, a close handshake it waits for, header objects): at 5,000
visitors the generators took 37 % of a core, and its own Python a third of that (a py-spy
profile, docs/benchmarks.md). This client sends the same bytes a browser's socket would: an
upgrade request, masked text frames, a pong for each ping (daphne pings every 20 s and drops a
socket that does not answer), and on leaving a close frame (1001, "going away") and the end of
the connection, as a browser leaving the page does. It never compresses (the server has
per-message compression off) and sends no fragmented frames (it reads them).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, CLOSE, PING, PONG = 0x0, 0x1, 0x8, 0x9, 0xA
GOING_AWAY = struct.pack("!H", 1001)


class Closed(Exception):
    """The socket closed: no more frames come from it."""


def frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: final, masked (RFC 6455 §5.3: every frame a client sends is)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    # XOR with the mask repeated over the payload, as one big integer: no loop per byte.
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + mask + masked


class LeanSocket(asyncio.Protocol):
    def __init__(self, request: bytes, accept: bytes):
        self._request = request
        self._accept = accept
        self._buffer = bytearray()
        self._fragments: list[bytes] = []  # of a text message sent in several frames
        self._upgraded = False
        self._transport: asyncio.Transport | None = None
        self._messages: asyncio.Queue = asyncio.Queue()
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed = False

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[: end + 4]
            status, *headers = head.split("\r\n")
            fields = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in headers)}
            if not status.startswith("HTTP/1.1 101") or fields.get("sec-websocket-accept", "").encode() != self._accept:
                self._fail(ConnectionRefusedError(f"websocket handshake refused: {status}"))
                self._transport.close()
                return
            self._upgraded = True
            self.opened.set_result(None)
        self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or Closed("connection closed"))

    # Frames from the server (never masked) --------------------------------------------

    def _frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            final, opcode, length = buffer[0] & 0x80, buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    return
                (length,), start = struct.unpack_from("!H", buffer, 2), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                (length,), start = struct.unpack_from("!Q", buffer, 2), 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            if opcode in (TEXT, CONTINUATION):
                self._fragments.append(payload)
                if final:
                    self._messages.put_nowait(b"".join(self._fragments).decode())
                    self._fragments.clear()
            elif opcode == PING:
                self._transport.write(frame(PONG, payload))
            elif opcode == CLOSE:
                if not self.closed:
                    self.closed = True
                    self._transport.write(frame(CLOSE, payload[:2]))
                self._transport.close()
                return

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(error)
        self._messages.put_nowait(None)

    # What bench/load.py uses (as from a `websockets` connection) ---------------------

    async def send(self, text: str) -> None:
        if self.closed:
            raise Closed("the socket is closed")
        self._transport.write(frame(TEXT, text.encode()))

    async def recv(self) -> str:
        message = await self._messages.get()
        if message is None:
            self._messages.put_nowait(None)  # every later recv() fails the same way
            raise Closed("the socket is closed")
        return message

    def __aiter__(self) -> LeanSocket:
        return self

    async def __anext__(self) -> str:
        try:
            return await self.recv()
        except Closed:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        """Leave as a browser leaves a page: a close frame, then the connection ends."""
        if not self.closed and self._transport is not None:
            self.closed = True
            self._transport.write(frame(CLOSE, GOING_AWAY))
            self._transport.close()


async def connect(host: str, port: int, path: str, *, origin: str) -> LeanSocket:
    """Open `ws://host:port/path` with this Origin, as a page's `new WebSocket(url)` does."""
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324 - RFC 6455 names SHA-1
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    transport, socket = await loop.create_connection(lambda: LeanSocket(request, accept), host, port)
    try:
        await socket.opened
    except BaseException:
        transport.close()
        raise
    return socket
