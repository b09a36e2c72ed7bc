"""R9 with the sweeps far apart, as in production (5 s): a room its operator closes still
expires at its deadline, found by beat's frequent check (WP_EXPIRY_CHECK_INTERVAL), not
up to a sweep interval late."""

import time

import pytest

from tests.faults.conftest import Proc
from tests.faults.test_worker_down import chatting, close_room
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)

CLOCK_SLACK = 0.05
CHECK_INTERVAL = 0.2
# The check's interval, then a task and the event: well under a second.
ON_TIME = CHECK_INTERVAL + 0.5


def beat_with_rare_sweeps(faults) -> Proc:
    """A beat of its own whose periodic sweep never comes again in this test."""
    faults.beat.stop()  # `faults` starts it again for the next test, and stops this one
    env = {**faults.env, "WP_SWEEP_INTERVAL": "600", "WP_EXPIRY_CHECK_INTERVAL": str(CHECK_INTERVAL)}
    args = ["-m", "celery", "-A", "whitepanel", "beat", "--loglevel", "INFO",
            "-s", str(faults.directory / "beat-rare-schedule")]  # fmt: skip
    return faults.start_extra(Proc("beat-rare", args, faults.directory, env))


async def test_closed_room_expires_at_its_deadline_between_sweeps(faults, live_sockets, peter):
    beat_with_rare_sweeps(faults)
    base = faults.bases[0]
    panel = await live_sockets.operator(base, peter)
    linda = await live_sockets.visitor(base)
    room_id = await chatting(panel, linda)
    expiry = faults.setting("WP_ROOM_EXPIRY")

    started = time.monotonic()
    await close_room(panel, room_id)
    expired = of_type("room", room__id=room_id, room__status="expired", room__reason="operator_closed")
    await linda.expect(expired, timeout=expiry + 10)

    waited = time.monotonic() - started
    assert expiry - CLOCK_SLACK <= waited <= expiry + ON_TIME, f"expired {waited:.3f}s after closing"
