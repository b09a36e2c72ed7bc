"""Case 9: size limits. Fields over their limit get `too_long` and nothing is stored (also
visitors/tests/test_consumers.py); a frame over the transport limit is refused from its
header by daphne (it drops the connection) before it is read, so oversized frames do not grow the process."""

import asyncio
from pathlib import Path

import pytest
import websockets
from django.conf import settings

from conftest import SITE_ORIGIN, start_daphne
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        pytest.param({"type": "message", "body": "b" * 4001}, "body", id="message-body"),
        pytest.param({"type": "page", "url": "http://shop.test/" + "u" * 2048}, "url", id="page-url"),
        pytest.param({"type": "page", "url": "http://shop.test/", "title": "t" * 501}, "title", id="page-title"),
        pytest.param(
            {"type": "page", "url": "http://shop.test/", "referrer": "http://r/" + "r" * 2048},
            "referrer",
            id="referrer",
        ),
        pytest.param({"type": "message", "body": "ok", "client_id": "c" * 65}, "client_id", id="client-id"),
        pytest.param({"type": "hello", "token": "t" * 101}, "token", id="token"),
    ],
)
async def test_field_over_its_limit_is_refused_and_not_stored(sockets, peter, frame, field):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor(hello=frame["type"] != "hello")
    error = await linda.ask("error", **frame)
    assert error["code"] == "too_long"
    assert field in error["detail"]
    # Nothing of it reached the panel or the database; the socket works on.
    await panel.expect_none(lambda event: "b" * 100 in str(event) or "t" * 100 in str(event), within=0.3)
    if frame["type"] != "hello":
        history = await linda.ask("history", type="history", after=0)
        assert history["messages"] == []
        await linda.ask(of_type("ack", client_id="after"), type="message", body="fits", client_id="after")


def peak_resident_kib(pid: int) -> int:
    """The process's high-water mark of resident memory: a frame held for a moment shows too."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def fresh_daphne(django_db_setup, django_db_blocker, tmp_path_factory):
    """A daphne process of its own: its memory high-water mark is this test's alone."""
    with django_db_blocker.unblock():
        child, base = start_daphne("daphne-sizes", tmp_path_factory.mktemp("daphne-sizes"))
    yield child, base
    child.stop()


async def send_oversized(base: str, size: int) -> int | None:
    """One visitor socket sending one frame of `size` bytes: how the server closed it."""
    # No compression: the frame on the wire is as large as the text.
    async with websockets.connect(f"ws://{base}/ws/visitor/?site=shop", origin=SITE_ORIGIN, compression=None) as ws:
        try:
            await ws.send("x" * size)
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            # daphne (autobahn) fails the connection by dropping it, from the frame's header: no
            # close frame (1006). The consumer's own check, after reading it all, would send 1009.
            return closed.rcvd.code if closed.rcvd else 1006
    return None


async def test_oversized_frames_are_refused_without_the_server_growing(fresh_daphne, site):
    child, base = fresh_daphne
    sockets = 60

    async def flood(size: int) -> int:
        """Sockets at once, each sending one frame of `size`: how much the peak memory grew (KiB)."""
        before = peak_resident_kib(child.process.pid)
        codes = await asyncio.gather(*(send_oversized(base, size) for _ in range(sockets)))
        assert codes == [1006] * sockets, size
        return peak_resident_kib(child.process.pid) - before

    await flood(settings.WP_MAX_FRAME_BYTES + 1)  # warm-up
    just_over = await flood(settings.WP_MAX_FRAME_BYTES + 1)
    # Frames just under daphne's default limit (1 MiB): refused from the header only because
    # daphne runs with whitepanel.launch's --websocket-max-frame-size. 60 MB at once, 15 times
    # as much as the round before: what daphne keeps does not depend on what was sent.
    size = 1_000_000
    huge = await flood(size)
    print(f"daphne's peak memory grew by {just_over} KiB, then by {huge} KiB")
    assert huge < just_over + 2048, f"{sockets} frames of {size} bytes grew daphne by {huge} KiB"
