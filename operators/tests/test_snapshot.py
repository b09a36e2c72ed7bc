"""The panel's first frame: large, failing, and the errors that answer its requests."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import selectors
from conftest import session_cookie_for
from tests.sockets import CommunicatorClient
from visitors.models import Visitor
from visitors.presence import operator_presence

pytestmark = pytest.mark.django_db(transaction=True)


def _many_online_visitors(site, count: int) -> None:
    now = timezone.now()
    Visitor.objects.bulk_create(
        Visitor(
            site=site,
            token_hash=f"{n:064x}",
            first_seen=now,
            since=now,
            last_seen=now,
            online=True,
            url=f"http://shop.test/products/{n}/" + "x" * 150,
            title=f"Product {n}",
        )
        for n in range(count)
    )


async def test_panel_opens_with_a_snapshot_larger_than_a_client_frame(daphne_pair, live_sockets, site, peter):
    # 600 visitors make a snapshot of well over 64 KiB, the limit on a message either way: it
    # comes in parts (tests/security/test_sizes.py), put together here as the panel does.
    await database_sync_to_async(_many_online_visitors)(site, 600)
    _, base = daphne_pair[0]
    panel = await live_sockets.operator(base, peter)
    assert len(panel.snapshot["visitors"]) == 600
    assert (await panel.ask("pong", type="ping"))["type"] == "pong"


async def test_panel_whose_snapshot_fails_is_closed_and_not_left_present(sockets, peter, monkeypatch):
    def broken_snapshot(*, operator):
        raise RuntimeError("snapshot failed")

    monkeypatch.setattr(selectors, "operator_snapshot", broken_snapshot)
    cookie = await database_sync_to_async(session_cookie_for)(peter.user)
    headers = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()), (b"host", b"testserver")]
    panel = CommunicatorClient("/ws/operator/", [*headers, (b"origin", b"http://testserver")])
    assert await panel.connect()
    with pytest.raises(AssertionError, match="socket closed"):
        await panel.expect("snapshot", timeout=3)
    assert panel.closed_code == 1011
    # Left present, the operator would never time out (R11).
    assert not await database_sync_to_async(operator_presence.is_connected)(peter.pk)


async def test_error_says_which_request_it_answers(sockets, peter):
    panel = await sockets.operator(peter)
    error = await panel.ask("error", type="accept", room=999_999)
    assert error["code"] == "not_found"
    assert error["for"] == "accept"
    assert error["room"] == 999_999
    linda = await sockets.visitor()
    error = await linda.ask("error", type="message", body="", client_id="c-7")
    assert (error["code"], error["for"], error["client_id"]) == ("invalid", "message", "c-7")
