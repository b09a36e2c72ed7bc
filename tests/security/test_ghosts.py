"""Issue 21, case 3: a socket's presence lasts as long as its consumer, not until its
disconnect() runs. A consumer that died without it (an exception escaping it, or daphne
cancelling a handler still busy at application_close_timeout) kept renewing its lease: a
ghost visitor online for ever, their pool request pending for ever."""

import asyncio
import contextlib

import pytest

from chat.visitor_socket import VisitorConsumer
from conftest import SITE_ORIGIN
from tests.sockets import CommunicatorClient
from visitors.presence import visitor_presence

pytestmark = pytest.mark.django_db(transaction=True)


def renewed() -> set[str]:
    renewer = visitor_presence._renewers.get(asyncio.get_running_loop())
    return {member for member, _ in renewer.sockets} if renewer else set()


async def present_visitor() -> tuple[CommunicatorClient, int]:
    client = CommunicatorClient("/ws/visitor/?site=shop", [(b"origin", SITE_ORIGIN.encode())])
    assert await client.connect()
    visitor_id = (await client.ask("welcome", type="hello", token=None))["visitor"]
    assert str(visitor_id) in renewed()
    assert await asyncio.to_thread(visitor_presence.connected_among, [visitor_id]) == {visitor_id}
    return client, visitor_id


async def gone(client: CommunicatorClient, visitor_id: int) -> bool:
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(client.communicator.future), 5)
    connected = await asyncio.to_thread(visitor_presence.connected_among, [visitor_id])
    return str(visitor_id) not in renewed() and not connected


async def test_a_visitor_socket_cancelled_by_the_server_stops_keeping_them_online(site):
    client, visitor_id = await present_visitor()
    client.communicator.future.cancel()  # as daphne does to a handler busy at application_close_timeout
    assert await gone(client, visitor_id)


async def test_a_visitor_socket_killed_by_an_exception_stops_keeping_them_online(site, monkeypatch):
    client, visitor_id = await present_visitor()

    async def closed_protocol(self, payload):
        raise RuntimeError("Attempt to send on a closed protocol")  # what daphne raised in CI

    monkeypatch.setattr(VisitorConsumer, "send_json", closed_protocol)
    await client.send(type="ping")  # its pong cannot be sent: the exception ends the consumer
    assert await gone(client, visitor_id)
