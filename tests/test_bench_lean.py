"""bench/lean.py, the generators' websocket client, against the `websockets` library's server: the
benchmark's visitors must behave as a browser's socket does, or they would measure something else."""

import asyncio
import contextlib

import pytest
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from bench import lean


@contextlib.asynccontextmanager
async def echo_server(**options):
    """A websocket server on a free port that echoes every text message; 'bye' makes it close (4000)."""
    origins: list = []

    async def echo(ws):
        origins.append(ws.request.headers.get("Origin"))
        async for message in ws:
            if message == "bye":
                await ws.close(4000, "bye")
                return
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None, **options) as server:
        server.origins = origins
        server.port = server.sockets[0].getsockname()[1]
        yield server


async def test_messages_of_every_size_go_both_ways_with_the_origin_of_the_page():
    async with echo_server() as server:
        ws = await lean.connect("127.0.0.1", server.port, "/ws/visitor/?site=shop", origin="http://shop.test")
        for size in (0, 5, 125, 126, 65535, 65536, 200_000):
            text = "é" * (size // 2) + "x" * (size % 2)
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == text
        assert server.origins == ["http://shop.test"]


async def test_server_pings_are_answered_so_an_idle_socket_stays_open():
    # The server drops a socket whose pong does not come within 0.3 s; it pings every 0.1 s.
    async with echo_server(ping_interval=0.1, ping_timeout=0.3) as server:
        ws = await lean.connect("127.0.0.1", server.port, "/", origin="http://shop.test")
        await asyncio.sleep(1.0)
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), 5) == "still here"


async def test_server_closing_ends_the_messages_and_sends_fail():
    async with echo_server() as server:
        ws = await lean.connect("127.0.0.1", server.port, "/", origin="http://shop.test")
        await ws.send("one")
        await ws.send("bye")
        assert [message async for message in ws] == ["one"]
        with pytest.raises(lean.Closed):
            await ws.recv()
        with pytest.raises(lean.Closed):
            await ws.send("anyone?")


async def test_leaving_closes_the_connection_at_once_as_a_browser_leaving_the_page():
    closed = asyncio.Event()

    async def handler(ws):
        with contextlib.suppress(Exception):
            await ws.recv()
        closed.set()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        ws = await lean.connect("127.0.0.1", server.sockets[0].getsockname()[1], "/", origin="http://shop.test")
        await ws.close()
        await asyncio.wait_for(closed.wait(), 5)


async def test_refused_handshake_raises():
    def refuse(connection, request):
        return Response(403, "Forbidden", Headers(), b"no")

    async with echo_server(process_request=refuse) as server:
        with pytest.raises(ConnectionRefusedError, match="403"):
            await lean.connect("127.0.0.1", server.port, "/", origin="http://evil.test")
