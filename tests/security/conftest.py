"""Fixtures of the security tests: visitor sockets from a chosen IP address, the login limiter's clock."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from conftest import SITE_ORIGIN
from infra import ratelimit
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


@pytest.fixture
def login_clock(monkeypatch):
    """The limiter's clock held in the middle of a window: its sliding window is approximated
    from two fixed ones, and attempts on both sides of a boundary weigh a little less than
    their number (3 failures just before it count as 2.99 just after), so a test counting
    exactly to a limit would fail when a boundary fell inside it (it did, once in CI).
    `advance(seconds)` moves it on: the login slowdown is timed by the same clock."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    clock = SimpleNamespace(held=hour + timedelta(seconds=150))  # mid-window for every window dividing 300 s
    clock.now = lambda: clock.held
    clock.advance = lambda seconds: setattr(clock, "held", clock.held + timedelta(seconds=seconds))
    monkeypatch.setattr(ratelimit, "timezone", clock)
    return clock
