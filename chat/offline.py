"""Offline requests (R16): a question nobody can answer now is kept until someone can, its site's
owners hear of it, and the answer reaches the visitor by email once they have left.

- The sweep marks a pool request *offline* (`rooms_mark_offline`) when it holds a question (a
  visitor message, or the conversation it came back with, R14) and either no operator of its
  site is online or the site is outside its business hours (issue 25), or nobody has accepted it
  within WP_POOL_TIMEOUT of entering the pool. Its
  payload then has `offline_at`, and the visitor's snippet offers to leave a name and email
  (the `details` frame, `chat.visiting.visitor_details_save`).
- It stays in the pool when its visitor leaves the site (`chat.visiting.visitors_leave`), until
  an operator takes it, which they do as any request (`room_accept`); the room then outlives
  the visit too, until its operator closes it.
- The site's owners are mailed about it once (`owners_notice_claim`): as soon as its visitor has
  left an email, or WP_POOL_TIMEOUT after it went offline without one. One mail per site holds
  every request due at that moment.
- What its operator writes reaches the visitor's page if one is open (`reply_written`), and
  their email once they have left the site (`replies_claim`), one mail for what was written
  meanwhile.

The sweep finds what is due in one read (`sweep_due`) and queues one Celery task per mail
(chat/tasks.py); Django's mail framework sends it (console by default, SMTP with
WP_EMAIL_HOST). Each mail is claimed in the database first, by a conditional write under a
row lock: two sweeps racing, a task queued twice, all find it claimed and send nothing more.
A send that fails gives its claim back, and the mail is due again: the sweeps retry it, after
a pause that doubles with each failure in a row (`mail_failed`), not with Celery's countdown
(a worker holding a task with an ETA dies when Redis restarts, docs/architecture.md). A worker
killed between a claim and its send loses that mail rather than risk sending it twice.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.template.loader import render_to_string

from infra.redis_clients import RedisClients
from visitors.models import Site
from visitors.presence import visitor_presence

from . import events, reports
from .models import Message, Room

logger = logging.getLogger(__name__)

# Questions quoted in the owners' mail, per request, newest kept.
QUESTIONS_QUOTED = 5


def _pool_deadline(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.WP_POOL_TIMEOUT)


# The sweep ------------------------------------------------------------------------


def _offline_due(now: datetime) -> Q:
    # A pool request with a question, not offline yet, that nobody can answer now (no operator of
    # its site online) or nobody took within WP_POOL_TIMEOUT.
    asked = Exists(Message.objects.filter(room_id=OuterRef("pk"), sender=Message.Sender.VISITOR))
    return (
        Q(status=Room.Status.PENDING, offline_at=None)
        & (Q(site__operators_online=False) | Q(site__hours_open=False) | Q(pooled_at__lte=_pool_deadline(now)))
        & (Q(asked) | ~Q(return_reason=""))
    )


def _notice_due(now: datetime) -> Q:
    # An offline request still in the pool, its owners not told yet, whose visitor has left an
    # address, or has had WP_POOL_TIMEOUT to do so.
    return Q(status=Room.Status.PENDING, offline_at__isnull=False, owners_notified_at=None) & (
        ~Q(visitor__email="") | Q(offline_at__lte=_pool_deadline(now))
    )


def _replies_due() -> Q:
    # An offline request's live room with replies not mailed yet, whose visitor has left the site
    # and left an address.
    later = Message.objects.filter(
        room_id=OuterRef("pk"), sender=Message.Sender.OPERATOR, pk__gt=OuterRef("replies_mailed_through")
    )
    return (
        Q(status__in=Room.LIVE, offline_at__isnull=False, visitor__online=False)
        & ~Q(visitor__email="")
        & Q(Exists(later))
    )


@dataclass
class SweepDue:
    offline: list[int]  # pool requests to mark offline
    notice_sites: list[int]  # sites with an owners' mail due
    reply_rooms: list[int]  # rooms with replies to mail


_OFFLINE, _NOTICE, _REPLIES = 1, 2, 3


def sweep_due(*, now: datetime) -> SweepDue:
    """What the sweep has to do about offline requests (R16), in one read of the live rooms."""
    due = SweepDue(offline=[], notice_sites=[], reply_rooms=[])
    kind = Case(
        When(_offline_due(now), then=Value(_OFFLINE)),
        When(_notice_due(now), then=Value(_NOTICE)),
        When(_replies_due(), then=Value(_REPLIES)),
    )
    rows = Room.objects.filter(status__in=Room.LIVE).annotate(due=kind).filter(due__isnull=False)
    for room_id, site_id, what in rows.values_list("pk", "site_id", "due"):
        if what == _OFFLINE:
            due.offline.append(room_id)
        elif what == _NOTICE:
            if site_id not in due.notice_sites:
                due.notice_sites.append(site_id)
        else:
            due.reply_rooms.append(room_id)
    return due


def mails_queue(due: SweepDue) -> None:
    """One task for each mail due (claimed when it runs), unless mail failed a moment ago."""
    if not (due.notice_sites or due.reply_rooms) or mail_paused():
        return
    from .tasks import owners_notify, replies_mail

    for site_id in due.notice_sites:
        owners_notify.delay(site_id)
    for room_id in due.reply_rooms:
        replies_mail.delay(room_id)


def rooms_mark_offline(*, room_ids: list[int], now: datetime) -> list[Room]:
    """These pool requests (`pool_due`) become offline requests, if they still should: their
    visitors and the site's operators hear of it."""
    if not room_ids:
        return []
    due = (
        Room.objects.filter(_offline_due(now), pk__in=room_ids)
        # One being accepted is left to its operator: the next sweep sees what became of it.
        .select_for_update(of=("self",), skip_locked=True)
        .select_related("visitor")
        .order_by("pk")
    )
    with transaction.atomic():
        rooms = list(due)
        if not rooms:
            return []
        Room.objects.filter(pk__in=[room.pk for room in rooms], offline_at=None).update(offline_at=now)
        reports.rollups_stale(rooms, now=now)
        for room in rooms:
            room.offline_at = now
            events.room_changed(room, visitor=room.visitor, pooled=True)
        return rooms


# The owners' mail --------------------------------------------------------------


def owners_notice_claim(*, site_id: int, now: datetime) -> list[int]:
    """The site's offline requests due for the owners' mail, claimed for one sender: each is in
    one mail only, however many tasks race for it."""
    with transaction.atomic():
        ids = list(
            Room.objects.filter(_notice_due(now), site_id=site_id)
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if ids:
            Room.objects.filter(pk__in=ids, owners_notified_at=None).update(owners_notified_at=now)
        return ids


def owners_notice_release(*, room_ids: Iterable[int]) -> None:
    """A mail that could not be sent gives its claim back: the next sweep claims it again."""
    Room.objects.filter(pk__in=list(room_ids)).update(owners_notified_at=None)


@dataclass
class _Request:
    room: Room
    questions: list[str]


def _questions(rooms: list[Room]) -> dict[int, list[str]]:
    """Each request's questions: the last few messages of its visitor, up to and including the
    request (a request back in the pool by itself, R14, has its question in the room before)."""
    asked: dict[int, list[tuple[int, str]]] = {room.visitor_id: [] for room in rooms}
    messages = (
        Message.objects.filter(room__visitor_id__in=list(asked), sender=Message.Sender.VISITOR)
        .order_by("id")
        .values_list("room__visitor_id", "room_id", "body")
    )
    for visitor_id, room_id, body in messages:
        asked[visitor_id].append((room_id, body))
    return {
        room.pk: [body for room_id, body in asked[room.visitor_id] if room_id <= room.pk][-QUESTIONS_QUOTED:]
        for room in rooms
    }


def owners_notice_send(*, site_id: int, room_ids: list[int]) -> int:
    """Mail the site's owners about these offline requests (claimed): how many were mailed (0 for a
    site without an owner with an address). May raise the mail server's errors."""
    site = Site.objects.filter(pk=site_id).first()
    rooms = list(Room.objects.filter(pk__in=room_ids).select_related("visitor").order_by("pk"))
    if site is None or not rooms:
        return 0
    owners = sorted(
        set(
            get_user_model()
            .objects.filter(owned_sites=site, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not owners:
        logger.warning("site %s has offline requests but no owner with an email address to tell", site.key)
        return 0
    questions = _questions(rooms)
    context = {
        "site": site,
        "requests": [_Request(room=room, questions=questions[room.pk]) for room in rooms],
        "panel": f"{settings.WP_PUBLIC_URL}/panel/",
    }
    subject = " ".join(render_to_string("chat/offline_notice_subject.txt", context).split())
    body = render_to_string("chat/offline_notice_email.txt", context)
    EmailMessage(subject, body, to=owners).send()
    return len(rooms)


# The visitor's mail ------------------------------------------------------------


def reply_written(*, room_id: int, visitor_id: int, message_id: int) -> None:
    """An operator wrote in an offline request's room (in the message's transaction). With a page
    of the visitor's open now it is shown there: it, and any reply before it (their page read
    those when it opened), are not to be mailed. Otherwise it is, once they have left the site."""
    if visitor_presence.is_connected(visitor_id):
        Room.objects.filter(pk=room_id, replies_mailed_through__lt=message_id).update(replies_mailed_through=message_id)


def replies_claim(*, room_id: int) -> list[int]:
    """The operator messages of an offline request's room to mail its visitor, claimed for one
    sender: those after the last one mailed (or shown on their page), if the visitor has left
    the site and left an address. A visitor back on the site has read them on the page they
    opened: none, and they count as shown. One away for a moment (R2) is not mailed yet."""
    with transaction.atomic():
        room = (
            Room.objects.select_for_update(of=("self",))
            .select_related("visitor")
            .filter(pk=room_id, offline_at__isnull=False)
            .first()
        )
        if room is None:
            return []
        ids = list(
            Message.objects.filter(room_id=room.pk, sender=Message.Sender.OPERATOR, pk__gt=room.replies_mailed_through)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        visitor = room.visitor
        if not ids or (not visitor.online and not visitor.email):
            return []
        if visitor.online:
            if visitor_presence.is_connected(visitor.pk):
                Room.objects.filter(pk=room.pk).update(replies_mailed_through=ids[-1])
            return []
        Room.objects.filter(pk=room.pk).update(replies_mailed_through=ids[-1])
        return ids


def replies_release(*, room_id: int, message_ids: list[int]) -> None:
    """A mail that could not be sent gives its claim back, unless later replies were mailed since."""
    Room.objects.filter(pk=room_id, replies_mailed_through=message_ids[-1]).update(
        replies_mailed_through=message_ids[0] - 1
    )


def replies_send(*, room_id: int, message_ids: list[int]) -> int:
    """Mail the visitor these replies (claimed): how many. May raise the mail server's errors."""
    room = Room.objects.select_related("visitor", "site").get(pk=room_id)
    visitor = room.visitor
    if not visitor.email:
        return 0
    replies = list(Message.objects.filter(pk__in=message_ids).select_related("attachment").order_by("pk"))
    context = {
        "site": room.site,
        "visitor": visitor,
        "replies": replies,
        "names": sorted({reply.name for reply in replies}),
        "questions": _questions([room])[room.pk],
        # Where they were: writing there continues the same conversation (R7).
        "page": visitor.url or next(iter(sorted(room.site.origins)), ""),
    }
    subject = " ".join(render_to_string("chat/reply_subject.txt", context).split())
    body = render_to_string("chat/reply_email.txt", context)
    EmailMessage(subject, body, to=[visitor.email]).send()
    return len(replies)


# Mail failing ---------------------------------------------------------------------

_clients = RedisClients()
# The pause after the first failure in a row, doubled after each next one, and the longest.
PAUSE_FIRST, PAUSE_LONGEST = 10.0, 600.0


def _mail_key(name: str) -> str:
    return f"{settings.WP_REDIS_PREFIX}:mail:{name}"


def mail_failed() -> float:
    """A mail could not be sent (its claim was given back): the sweeps queue no mail for a pause,
    twice as long as the last one if that ended in a failure too. The pause, in seconds."""
    client = _clients.redis()
    failures = client.incr(_mail_key("failures"))
    client.expire(_mail_key("failures"), int(PAUSE_LONGEST * 2))
    pause = min(PAUSE_LONGEST, PAUSE_FIRST * 2 ** (failures - 1))
    client.set(_mail_key("paused"), "1", px=int(pause * 1000))
    return pause


def mail_sent() -> None:
    _clients.redis().delete(_mail_key("failures"))


def mail_paused() -> bool:
    try:
        return bool(_clients.redis().exists(_mail_key("paused")))
    except redis.RedisError:
        return False
