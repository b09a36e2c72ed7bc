"""The sweep: every expiry that is due, run by Celery beat every SWEEP_INTERVAL (R13).

Safe to run twice, late or concurrently: every step is a conditional change
that happens once, and nothing is done before its deadline."""

import logging
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import itemgetter

from django.db.models import QuerySet

from operators.models import Operator
from visitors.models import Visitor
from visitors.presence import Presence, operator_presence, visitor_presence
from visitors.services import page_views_flush

from . import events, offline, transcript_mail
from .availability import sites_hours_update
from .models import Room
from .services import rooms_expire_due
from .shifts import operator_timeout
from .visiting import visitors_leave

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    rooms_expired: int = 0
    visitors_left: int = 0
    operators_timed_out: int = 0
    rooms_offline: int = 0
    sites_opened_or_closed: int = 0


def _recover_presence(presence: Presence, online: QuerySet, *, now: float) -> None:
    # Redis came up empty (first start, or a restart lost its data): members the
    # database shows online get a leave deadline, which their sockets cancel as
    # their daphne process renews them.
    if presence.lost_state():
        ids = list(online.values_list("id", flat=True))
        presence.mark_absent(ids, now=now)
        if ids:
            logger.warning("%s presence was lost; %d must reconnect", presence.kind, len(ids))


# Visitors let go in one transaction: its row locks are held a few ms per visitor.
LEAVE_BATCH = 200

# Kinds of deadline; at the same instant, in this order.
_ROOM, _VISITOR, _OPERATOR = 0, 1, 2


def rooms_due(*, now: datetime) -> bool:
    """Whether a closed room's expiry is due: the frequent check between sweeps."""
    return Room.objects.filter(status=Room.Status.CLOSING, expires_at__lte=now).exists()


def sweep(*, now: datetime) -> SweepResult:
    """Everything due at `now`, in the order of the deadlines.

    After the worker was down, one room may be overdue several ways (its visitor left,
    then its closing time ran out): in deadline order, the first one decides, with its
    reason, as an on-time sweep would have."""
    with events.published_together():
        return _sweep(now=now)


def _sweep(*, now: datetime) -> SweepResult:
    result = SweepResult()
    ts = now.timestamp()
    # The page views waiting in Redis first: a visitor's row has their last page before
    # they leave (visitors/visits.py).
    page_views_flush()
    _recover_presence(visitor_presence, Visitor.objects.filter(online=True), now=ts)
    visitor_presence.reap_stale(now=ts)
    _recover_presence(operator_presence, Operator.objects.filter(online=True), now=ts)
    operator_presence.reap_stale(now=ts)

    closing = Room.objects.filter(status=Room.Status.CLOSING, expires_at__lte=now).values_list("pk", "expires_at")
    due = [(expires_at.timestamp(), _ROOM, room_id) for room_id, expires_at in closing]
    due += [(deadline, _VISITOR, member) for member, deadline in visitor_presence.due_deadlines(now=ts)]
    due += [(deadline, _OPERATOR, member) for member, deadline in operator_presence.due_deadlines(now=ts)]
    due.sort()
    # Sites that opened or closed by their business hours (issue 25), before the offline requests.
    result.sites_opened_or_closed = len(sites_hours_update(now=now))
    # Pool requests nobody can answer now become offline requests (R16) before their visitors
    # are let go below: those stay in the pool.
    offline_due = offline.sweep_due(now=now)
    result.rooms_offline = len(offline.rooms_mark_offline(room_ids=offline_due.offline, now=now))
    for kind, items in groupby(due, key=itemgetter(1)):
        ids = [member for _, _, member in items]
        if kind == _ROOM:
            result.rooms_expired += len(rooms_expire_due(now=now, room_ids=ids))
        elif kind == _VISITOR:
            for start in range(0, len(ids), LEAVE_BATCH):
                batch = ids[start : start + LEAVE_BATCH]
                result.visitors_left += len(visitors_leave(visitor_ids=batch, now=now))
                # Forgotten only once handled: a sweep that dies midway leaves them for the next.
                visitor_presence.forget(batch, now=ts)
        else:
            for operator_id in ids:
                result.operators_timed_out += operator_timeout(operator_id=operator_id, now=now)
                operator_presence.forget([operator_id], now=ts)
    # The mails due (R16): a task each, which claims what it sends.
    offline.mails_queue(offline_due)
    # The transcripts asked for whose rooms have ended, these included (issue 23).
    transcript_mail.transcripts_queue()
    return result
