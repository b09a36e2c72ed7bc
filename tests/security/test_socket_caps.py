"""Issue 21, case 4, and the frame budget: one client cannot hold the server's sockets or
its attention. One address opened 1,000 silent sockets in 1.3 s (a process at its file limit:
/healthz 500, new visitors `unavailable`); one visitor token held 891 sockets; floods of
`history`, `close` and `ping`, which no other limit counted, slowed other visitors' answers."""

import asyncio
import os
import urllib.request

import pytest
import websockets
from django.utils import timezone

from conftest import SITE_ORIGIN, Child
from infra.socket_caps import sockets_per_address
from tests.sockets import CommunicatorClient, of_type, wait_closed
from whitepanel import launch

pytestmark = pytest.mark.django_db(transaction=True)


async def _visitor_socket(ip: str, port: int) -> CommunicatorClient:
    client = CommunicatorClient("/ws/visitor/?site=shop", [(b"origin", SITE_ORIGIN.encode())])
    client.communicator.scope["client"] = (ip, port)
    return client


async def test_an_address_holds_no_more_sockets_than_its_cap(settings, site):
    settings.WP_MAX_SOCKETS_PER_IP = 5
    opened = []
    try:
        for n in range(5):
            client = await _visitor_socket("203.0.113.7", 40000 + n)
            opened.append(client)
            assert await client.connect()
        # The sixth, silent or not, is refused at the handshake (403); nothing was accepted.
        sixth = await _visitor_socket("203.0.113.7", 40010)
        assert not await sixth.connect()
        # Another address is not affected, nor an address of another /64 in IPv6...
        other = await _visitor_socket("198.51.100.2", 40011)
        opened.append(other)
        assert await other.connect()
        # ...while one /64 is one address, whatever its last 64 bits.
        for n in range(5):
            client = await _visitor_socket(f"2001:db8:1:2::{n + 1}", 40020 + n)
            opened.append(client)
            assert await client.connect()
        assert not await (await _visitor_socket("2001:db8:1:2:ffff::9", 40030)).connect()
        # A socket that closes makes room for the next one at once.
        await opened[0].close()
        await asyncio.sleep(0.1)
        again = await _visitor_socket("203.0.113.7", 40031)
        opened.append(again)
        assert await again.connect()
        assert sockets_per_address.held("203.0.113.7", now=timezone.now().timestamp()) == 5
    finally:
        for client in opened:
            try:
                await client.close()
            except Exception:  # noqa: S110 - already closed
                pass


async def test_a_visitor_holds_no_more_sockets_than_the_cap(settings, sockets, site):
    """The 21st tab of one token gets `too_many_sockets` and a 4029 close; its other tabs go on."""
    settings.WP_MAX_SOCKETS_PER_VISITOR = 3
    first = await sockets.visitor()
    token = first.welcome["token"]
    tabs = [first, await sockets.visitor(token=token), await sockets.visitor(token=token)]
    fourth = await sockets.visitor(hello=False)
    error = await fourth.ask("error", type="hello", token=token)
    assert error["code"] == "too_many_sockets"
    assert error["for"] == "hello"
    assert await wait_closed(fourth) == 4029
    # Nothing of it stays: the visitor's three tabs still work, and closing one frees a place.
    ack = await tabs[1].ask("ack", type="message", body="still here", client_id="c-1")
    assert ack["id"]
    await tabs[2].close()
    await asyncio.sleep(0.1)
    fifth = await sockets.visitor(token=token)
    assert fifth.welcome["visitor"] == first.welcome["visitor"]


async def test_a_flood_of_any_frame_type_is_refused_past_the_socket_budget(settings, sockets, site):
    """history, close and ping count like everything else: past `count` at once a socket's frames
    get `rate_limited` and are not acted on; another visitor's socket is not slowed or limited."""
    settings.WP_RATE_SOCKET_FRAMES = "10/600"
    flooder = await sockets.visitor()  # its hello took one
    linda = await sockets.visitor()
    for kind in ("ping", "close", "nonsense", "history"):
        for _ in range(3):
            await flooder.send(type=kind, after=0)
    answers = [await flooder.expect(lambda frame: True) for _ in range(12)]
    # The hello and 9 frames were within the budget; the history frames after them were not.
    assert [answer["type"] for answer in answers[:9]] == ["pong"] * 3 + ["room"] * 3 + ["error"] * 3
    assert [answer.get("code") for answer in answers[6:9]] == ["unknown_type"] * 3
    assert [(answer["type"], answer["code"]) for answer in answers[9:]] == [("error", "rate_limited")] * 3
    # Malformed frames count too.
    await flooder.send_raw("{not json")
    assert (await flooder.expect("error"))["code"] == "rate_limited"
    # The other visitor's socket has its own budget.
    assert (await linda.ask("pong", type="ping"))["type"] == "pong"
    await linda.ask(of_type("ack", client_id="l-1"), type="message", body="hello", client_id="l-1")


def _daphne_with(env: dict[str, str], log_dir) -> tuple[Child, str]:
    port = launch.free_port()
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        child = Child("daphne-caps", launch.daphne_args(port), log_dir)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    base = f"127.0.0.1:{port}"
    launch.wait_until_healthy(base, check=child.check_alive)
    return child, base


async def test_silent_sockets_from_one_address_cannot_exhaust_a_daphne(site, tmp_path):
    """A real daphne, 300 silent sockets opened at once from 127.0.0.1 with a cap of 100: 100
    held, 200 refused at the handshake, /healthz healthy, and a visitor from another address
    (127.0.0.2) is welcomed."""
    env = {"WP_MAX_SOCKETS_PER_IP": "100", "WP_HELLO_TIMEOUT": "30"}
    child, base = await asyncio.to_thread(_daphne_with, env, tmp_path)
    held: list = []

    async def open_one():
        try:
            ws = await websockets.connect(f"ws://{base}/ws/visitor/?site=shop", origin=SITE_ORIGIN)
        except websockets.InvalidStatus as refused:
            return refused.response.status_code
        held.append(ws)
        return 101

    try:
        statuses = await asyncio.gather(*(open_one() for _ in range(300)))
        assert statuses.count(101) == 100, sorted(set(statuses))
        assert statuses.count(403) == 200
        health = await asyncio.to_thread(urllib.request.urlopen, f"http://{base}/healthz", timeout=5)
        assert health.status == 200
        async with websockets.connect(
            f"ws://{base}/ws/visitor/?site=shop", origin=SITE_ORIGIN, local_addr=("127.0.0.2", 0)
        ) as ws:
            await ws.send('{"type":"hello"}')
            assert '"welcome"' in await asyncio.wait_for(ws.recv(), 10)
        # The address's sockets closing frees its places.
        await asyncio.gather(*(ws.close() for ws in held))
        held.clear()
        await asyncio.sleep(0.5)
        assert await open_one() == 101
    finally:
        await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
        child.stop()


async def test_a_panel_has_a_budget_of_its_own_larger_than_a_visitors(settings, sockets, site, peter):
    """A reconnecting panel asks for every room's history at once: its socket's budget is
    WP_RATE_PANEL_FRAMES, not a visitor's; past it, it is refused the same way."""
    settings.WP_RATE_SOCKET_FRAMES = "5/600"
    settings.WP_RATE_PANEL_FRAMES = "12/600"
    panel = await sockets.operator(peter)
    for _ in range(14):
        await panel.send(type="ping")
    answers = [await panel.expect(lambda frame: frame["type"] in ("pong", "error")) for _ in range(14)]
    assert [answer["type"] for answer in answers] == ["pong"] * 12 + ["error"] * 2
    assert answers[-1]["code"] == "rate_limited"
