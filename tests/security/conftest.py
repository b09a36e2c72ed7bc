"""Fixtures of the security tests: visitor sockets from a chosen IP address."""

import pytest

from conftest import SITE_ORIGIN
from tests.sockets import CommunicatorClient


@pytest.fixture
async def visitor_from():
    """`await visitor_from(ip)`: a visitor socket whose client address is `ip` (daphne puts the
    peer's, or with --proxy-headers nginx's X-Forwarded-For, in the scope the same way)."""
    opened: list[CommunicatorClient] = []

    async def connect(ip: str, *, site_key: str = "shop", hello: bool = True) -> CommunicatorClient:
        client = CommunicatorClient(f"/ws/visitor/?site={site_key}", [(b"origin", SITE_ORIGIN.encode())])
        client.communicator.scope["client"] = (ip, 50000 + len(opened))
        opened.append(client)
        assert await client.connect(), f"visitor socket refused ({client.closed_code})"
        if hello:
            client.welcome = await client.ask("welcome", type="hello", token=None)
        return client

    yield connect
    for client in opened:
        try:
            await client.close()
        except Exception:  # noqa: S110 - already closed by the test or the server
            pass
