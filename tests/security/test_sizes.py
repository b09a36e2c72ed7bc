"""Case 9: size limits. Fields over their limit get `too_long` and nothing is stored (also
visitors/tests/test_consumers.py); a frame over the transport limit is refused from its
header by daphne (it drops the connection) before it is read, so oversized frames do not grow the
process; a message of several frames is refused as soon as they add up to more (issue 21, case 2),
and what the server sends is paged to the same limit (a panel's snapshot, a long transcript)."""

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.models import Message, Room
from conftest import SITE_ORIGIN, session_cookie_for, start_daphne
from tests.owners import make_visitor
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


async def send_fragmented(base: str, total: int, fragment: int = 16 * 1024) -> int | None:
    """One visitor socket (with its hello) sending one message of `total` bytes in fragments of
    `fragment`: the code the server closed it with, or None if it took the whole message."""
    async with websockets.connect(f"ws://{base}/ws/visitor/?site=shop", origin=SITE_ORIGIN, compression=None) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        json.loads(await asyncio.wait_for(ws.recv(), 10))

        async def fragments():
            for _ in range(total // fragment):
                yield "x" * fragment
                await asyncio.sleep(0)

        try:
            await ws.send(fragments())
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
    return None


async def test_a_message_in_fragments_is_refused_once_they_pass_64_kib(fresh_daphne, site):
    """Issue 21, case 2: 80 sockets, no login, each holding an unfinished 7.5 MiB message took
    daphne from 427 to 796 MB. Fragments add up to the limit (WP_MAX_FRAME_BYTES) and no further:
    the connection is dropped (1006, as for one frame over the limit) as the fragment that passes
    it arrives, and the server does not grow."""
    child, base = fresh_daphne
    sockets = 40
    await asyncio.gather(*(send_fragmented(base, 2 * settings.WP_MAX_FRAME_BYTES) for _ in range(2)))  # warm-up
    before = peak_resident_kib(child.process.pid)
    codes = await asyncio.gather(*(send_fragmented(base, 7_500_000) for _ in range(sockets)))
    grown = peak_resident_kib(child.process.pid) - before
    print(f"{sockets} sockets sending 7.5 MB in fragments grew daphne's peak by {grown} KiB")
    assert codes == [1006] * sockets
    # 40 x 7.5 MB is 300 MB; 40 x 64 KiB is 2.5 MB.
    assert grown < 16 * 1024, f"daphne grew by {grown} KiB"


def _crowd(site, count: int) -> None:
    """`count` visitors online, each on a page with a long address: a snapshot of megabytes."""
    for n in range(count):
        make_visitor(site, url=f"http://shop.test/{n}/" + "p" * 1900, title=f"Page {n}")


async def _frames(url: str, *, cookie: str, origin: str, until, send: list[str] = ()) -> list[str]:
    """The raw text frames a socket receives until `until(frames)` says it has them all."""
    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
    received: list[str] = []
    async with websockets.connect(url, origin=origin, additional_headers=headers, max_size=None) as ws:
        for text in send:
            await ws.send(text)
        while not until(received):
            received.append(await asyncio.wait_for(ws.recv(), 10))
    return received


async def test_a_snapshot_larger_than_a_frame_comes_in_parts_within_the_limit(fresh_daphne, site, peter):
    """daphne's message limit applies to what it sends too (it used to be 8 MiB for the
    snapshot's sake): 600 visitors on long addresses, 1.2 MB, reach the panel in frames of at
    most WP_MAX_FRAME_BYTES, every visitor once, the last part saying `"more": false`."""
    _, base = fresh_daphne
    await database_sync_to_async(_crowd)(site, 600)
    cookie = await database_sync_to_async(session_cookie_for)(peter.user)
    frames = await _frames(
        f"ws://{base}/ws/operator/",
        cookie=cookie,
        origin=f"http://{base}",
        until=lambda got: got and json.loads(got[-1])["more"] is False,
    )
    parsed = [json.loads(text) for text in frames]
    assert max(len(text.encode()) for text in frames) <= settings.WP_MAX_FRAME_BYTES
    assert len(frames) > 10
    assert [frame["type"] for frame in parsed] == ["snapshot"] + ["snapshot_more"] * (len(frames) - 1)
    assert all(frame["more"] for frame in parsed[:-1])
    visitors = [visitor["id"] for frame in parsed for visitor in frame["visitors"]]
    assert len(visitors) == len(set(visitors)) == 600
    assert parsed[0]["operator"]["id"] == peter.pk
    assert "limits" in parsed[0]


def _long_transcript(site, peter, count: int) -> Room:
    visitor = make_visitor(site)
    now = timezone.now()
    room = Room.objects.create(site=site, visitor=visitor, operator=peter, status=Room.Status.ACTIVE, created_at=now)
    Message.objects.bulk_create(
        Message(room=room, sender=Message.Sender.VISITOR, name="", body=f"{n} " + "é" * 3990, at=now + timedelta(n))
        for n in range(count)
    )
    return room


async def test_a_transcript_larger_than_a_frame_is_read_page_by_page(fresh_daphne, site, peter):
    """40 messages of 4,000 characters (ASCII-escaped: 24 KB each) are ~1 MB of history: each
    answer holds what fits a frame and says `more`; asking again after its last id gets the rest."""
    _, base = fresh_daphne
    room = await database_sync_to_async(_long_transcript)(site, peter, 40)
    cookie = await database_sync_to_async(session_cookie_for)(peter.user)
    url, origin = f"ws://{base}/ws/operator/", f"http://{base}"
    seen: list[int] = []
    answers = 0
    while True:
        asked = json.dumps({"type": "history", "room": room.pk, "after": seen[-1] if seen else 0})
        frames = await _frames(
            url, cookie=cookie, origin=origin, send=[asked], until=lambda got: got and '"history"' in got[-1]
        )
        answer = frames[-1]
        assert len(answer.encode()) <= settings.WP_MAX_FRAME_BYTES
        page = json.loads(answer)
        seen += [message["id"] for message in page["messages"]]
        answers += 1
        if not page["more"]:
            break
    assert answers >= 10
    assert len(seen) == len(set(seen)) == 40
    assert seen == sorted(seen)
