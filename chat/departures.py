"""What a visitor's socket closing means, decided WP_RECONNECT_GRACE later (issue 22).

A socket closing is not yet news: moving to the next page closes one and opens the next
within a second. So the socket's process notes what the close might mean and looks again
after the grace:

- the visitor's *last* socket closed: if none has opened since, every operator of the site
  sees the visitor as "connection lost — may have left" at once (`visitor_lost`), instead of
  fully active for the whole VISITOR_TIMEOUT before R3 makes them leave;
- the socket's tab had the chat window open: if no tab of the visitor has it open now, the
  room's `visitor_in_room` turns false, as when the visitor closes the window.

Each process keeps its own list and looks at what is due in one Redis round trip. A process
that dies forgets its list: the visitor then shows as connected until R3 (the snapshot reads
the truth from presence: chat.selectors.operator_snapshot).
"""

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

from infra.errors import ChatError
from visitors.presence import visitor_presence

from . import events, services
from .db import database

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    lost: dict[int, tuple[int, datetime, float]] = field(default_factory=dict)  # visitor → site, since, due
    windows: dict[int, float] = field(default_factory=dict)  # visitor → due
    task: asyncio.Task | None = None


class Departures:
    def __init__(self):
        self._loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def socket_closed(self, *, visitor_id: int, site_id: int, at: float, last: bool, window: bool) -> None:
        """A socket of the visitor closed at `at` (as told to presence): `last`, no other is
        open; `window`, no other tab of theirs has the chat window open."""
        if not (last or window):
            return
        loop = asyncio.get_running_loop()
        pending = self._loops.get(loop)
        if pending is None:
            pending = self._loops[loop] = _Pending()
        due = time.monotonic() + settings.WP_RECONNECT_GRACE
        if last:
            # The time presence keeps (its leave deadline less the timeout), to the digit: a
            # snapshot reads it from there (chat.selectors).
            timeout = visitor_presence.timeout
            pending.lost[visitor_id] = (site_id, datetime.fromtimestamp((at + timeout) - timeout, tz=UTC), due)
        if window:
            pending.windows[visitor_id] = due
        if pending.task is None or pending.task.done():
            pending.task = loop.create_task(self._watch(pending))

    async def _watch(self, pending: _Pending) -> None:
        while pending.lost or pending.windows:
            await asyncio.sleep(min(1.0, settings.WP_RECONNECT_GRACE / 2))
            try:
                await self._decide(pending, time.monotonic())
            except Exception:
                logger.warning("could not tell operators of visitors' closed sockets", exc_info=True)

    async def _decide(self, pending: _Pending, now: float) -> None:
        lost = [
            (visitor_id, site_id, since) for visitor_id, (site_id, since, due) in pending.lost.items() if due <= now
        ]
        windows = [visitor_id for visitor_id, due in pending.windows.items() if due <= now]
        for visitor_id, _site_id, _since in lost:
            del pending.lost[visitor_id]
        for visitor_id in windows:
            del pending.windows[visitor_id]
        if lost:
            back = await visitor_presence.connected_now([visitor_id for visitor_id, _, _ in lost])
            gone = [(visitor_id, site_id, since) for visitor_id, site_id, since in lost if visitor_id not in back]
            if gone:
                await events.publish_deferred(events.visitors_lost(gone))
        for visitor_id in windows:
            try:
                # The service looks at the tabs again under the visitor's lock: one opening the
                # window meanwhile wins.
                await database(services.room_leave_window)(visitor_id=visitor_id)
            except ChatError:
                pass


departures = Departures()
