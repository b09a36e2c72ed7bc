"""Reads shaped for the contract (SPEC §3)."""

import statistics
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from infra.errors import NotFound
from operators.models import Operator
from visitors.models import Visitor
from visitors.presence import visitor_presence
from visitors.selectors import sites_visible_to
from visitors.visits import visits

from . import events, files
from .models import FOR_VISITORS, Message, Room

HISTORY_LIMIT = 500


def without_back_link(room: Room | None) -> Room | None:
    """The room, its operator's user no longer pointing back at the operator.

    `select_related("operator__user")` caches each side on the other (a one-to-one): a
    reference cycle, which only the garbage collector frees. One per message kept the
    collector's full passes frequent, holding every socket of the process 100-190 ms
    (the relay's p99, docs/benchmarks.md); without the cycle, refcounting frees them."""
    if room is not None and room.operator_id is not None:
        operator = room._state.fields_cache.get("operator")
        user = operator._state.fields_cache.get("user") if operator is not None else None
        if user is not None:
            user._state.fields_cache.pop("operator", None)
    return room


def live_room_id(*, visitor_id: int) -> int | None:
    return Room.objects.filter(visitor_id=visitor_id, status__in=Room.LIVE).values_list("pk", flat=True).first()


def last_room_id(*, visitor_id: int) -> int | None:
    """The visitor's newest room, live or not: whose messages a visitor's history shows."""
    return Room.objects.filter(visitor_id=visitor_id).order_by("-pk").values_list("pk", flat=True).first()


def live_room(*, visitor_id: int, room_id: int | None = None) -> Room | None:
    """The visitor's live room, with its operator; `room_id` when the caller has read it
    (`live_room_id`): most visitors have none, and cost no further query."""
    if room_id is None:
        room_id = live_room_id(visitor_id=visitor_id)
        if room_id is None:
            return None
    rooms = Room.objects.filter(pk=room_id, visitor_id=visitor_id, status__in=Room.LIVE)
    return without_back_link(rooms.select_related("operator__user", "visitor").first())


def operator_snapshot(*, operator: Operator) -> dict:
    """The first frame of a panel: everything it shows, in four queries."""
    site_ids = operator.site_ids
    operators = Operator.objects.filter(sites__in=site_ids, user__is_active=True).select_related("user").distinct()
    rooms = list(
        Room.objects.filter(site_id__in=site_ids, status__in=Room.LIVE).select_related("operator__user", "visitor")
    )
    room_of_visitor = {room.visitor_id: room for room in rooms}
    visitors = Visitor.objects.filter(site_id__in=site_ids, online=True).order_by("since")
    visitors = _current(list(visitors.values_list(*events.VISITOR_ROW)))  # thousands: tuples, not models
    lost = _lost_connections()
    return {
        "type": "snapshot",
        "operator": events.operator_payload(operator),
        "operators": [events.operator_payload(o) for o in operators],
        "visitors": [
            events.visitor_row_payload(row, room_of_visitor.get(row[0]), lost=lost.get(row[0])) for row in visitors
        ],
        "rooms": [
            events.room_payload(room)
            for room in rooms
            if room.status == Room.Status.PENDING or room.operator_id == operator.pk
        ],
        # Countdowns and waiting times are relative to the server's clock, not the browser's.
        "server_time": timezone.now().isoformat(),
        # What the server accepts and sends, so the panel holds no copy of these numbers.
        "limits": snapshot_limits(),
    }


def _lost_connections() -> dict[int, str]:
    """Visitors whose last socket closed over WP_RECONNECT_GRACE ago and who have not left yet:
    when it closed (the panel shows them as "connection lost", chat/departures.py)."""
    cutoff = timezone.now().timestamp() - settings.WP_RECONNECT_GRACE
    return {
        visitor_id: datetime.fromtimestamp(since, tz=UTC).isoformat()
        for visitor_id, since in visitor_presence.absent_since().items()
        if since <= cutoff
    }


def _current(rows: list[tuple]) -> list[tuple]:
    """Rows with the pages of visits in progress as Redis holds them (the rows may be up to a
    page view flush behind: visitors/visits.py), in one round trip for all."""
    current = visits.current([row[0] for row in rows])
    if not current:
        return rows
    fields = ("url", "title", "referrer")
    # VISITOR_ROW: id, site_id, url, title, referrer, online, since, pages, then the visit's
    # constants (browser ... visits) and the contact (given_name, email): the row's.
    return [
        row
        if (c := current.get(row[0])) is None
        else (*row[:2], *map(c.get, fields), row[5], c["since"], c["pages"], *row[8:])
        for row in rows
    ]


def snapshot_limits() -> dict:
    return {
        "message_length": settings.WP_MAX_MESSAGE_LENGTH,
        "client_id_length": settings.WP_MAX_CLIENT_ID_LENGTH,
        "history_page": HISTORY_LIMIT,
        "frame_bytes": settings.WP_MAX_FRAME_BYTES,
        "note_length": settings.WP_MAX_VISITOR_NOTE_LENGTH,
        # Files in messages (issue 23): the largest, and the extensions taken ([]: none).
        "upload_bytes": settings.WP_UPLOAD_MAX_BYTES,
        "upload_types": files.allowed_extensions(),
    }


def visitor_room_history(*, visitor_id: int, room_id: int, after: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The visitor's conversation up to and including their room `room_id`, after a message id,
    as they see it (R15: one continuous conversation, their earlier rooms too, so a page after a
    handover still shows what was said before it): without the system lines that are for
    operators only (models.VISITOR_EVENTS). Every path that gives a visitor their history
    (`history`, a hello's) reads it here."""
    messages = visitor_conversation(visitor_id=visitor_id, room_id=room_id).filter(id__gt=after).order_by("id")
    return [events.message_payload(m) for m in messages[:limit]]


def visitor_conversation(*, visitor_id: int, room_id: int) -> QuerySet[Message]:
    """The messages the visitor sees of their conversation up to and including their room
    `room_id` (R15), unordered: their history's, and their transcript's by email (issue 23)."""
    rooms = Room.objects.filter(visitor_id=visitor_id, pk__lte=room_id).values("pk")
    return Message.objects.filter(FOR_VISITORS, room_id__in=rooms).select_related("attachment")


def visitor_history(*, visitor_id: int, after: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    """Messages of the visitor's current room after a message id: the live room, which is always
    their newest (a new room opens only once the last one expired), else the last one they had."""
    room_id = last_room_id(visitor_id=visitor_id)
    return visitor_room_history(visitor_id=visitor_id, room_id=room_id, after=after, limit=limit) if room_id else []


def operator_room_history(*, room_id: int, operator: Operator, after: int) -> list[dict]:
    """The visitor's conversation up to and including this room (R15): the messages of their
    earlier rooms too, oldest first, each with its own `room`, so whoever takes the visitor next
    reads what was said before. An operator reads any room of the sites they serve, as over the
    API (a colleague's too: reading is per site, acting only on one's own rooms); another site's
    room does not exist."""
    visitor_id = (
        Room.objects.filter(pk=room_id, site_id__in=operator.site_ids).values_list("visitor_id", flat=True).first()
    )
    if visitor_id is None:
        raise NotFound("no such room")
    theirs = Room.objects.filter(visitor_id=visitor_id, pk__lte=room_id).values("pk")
    messages = (Message.objects.filter(room_id__in=theirs, id__gt=after).select_related("attachment").order_by("id"))[
        :HISTORY_LIMIT
    ]
    return [events.message_payload(m) for m in messages]


# The queue (R16): where a waiting visitor stands in their site's pool, and how long
# waits have been there lately.

# The estimate is the median wait of the site's last accepts, within a day: recent enough to
# follow the day's staffing, and one slow request among twenty does not move it.
QUEUE_WAIT_SAMPLE = 20
QUEUE_WAIT_WINDOW = timedelta(days=1)


def pool_wait(*, site_id: int) -> int | None:
    """The usual wait for an operator at this site, in seconds: the median time from request to
    accept of its last QUEUE_WAIT_SAMPLE requests accepted within QUEUE_WAIT_WINDOW (one short
    read by the site's accept index). None with none to go by.

    Chats an operator started (R12) never waited (accepted when created): they do not count."""
    since = timezone.now() - QUEUE_WAIT_WINDOW
    accepted = (
        Room.objects.filter(site_id=site_id, accepted_at__gte=since)
        .exclude(accepted_at=F("created_at"))
        .order_by("-accepted_at")
        .values_list("created_at", "accepted_at")[:QUEUE_WAIT_SAMPLE]
    )
    waits = [(accepted_at - created_at).total_seconds() for created_at, accepted_at in accepted]
    return max(0, round(statistics.median(waits))) if waits else None


def queue_payload(*, room_id: int, position: int, wait: int | None) -> dict:
    return {"room": room_id, "position": position, "wait": wait}


def site_queues(*, site_ids: Iterable[int]) -> list[tuple[int, dict]]:
    """Every waiting visitor of these sites with their place in the queue: (visitor id, queue
    payload), first in line first. One read of the pools, one of the waits per site that has
    anyone waiting: the same whether one visitor waits or twenty."""
    waiting = (
        Room.objects.filter(site_id__in=list(site_ids), status=Room.Status.PENDING)
        .order_by("site_id", "created_at", "pk")
        .values_list("pk", "site_id", "visitor_id")
    )
    queues, positions, waits = [], {}, {}
    for room_id, site_id, visitor_id in waiting:
        if site_id not in waits:
            waits[site_id] = pool_wait(site_id=site_id)
        positions[site_id] = position = positions.get(site_id, 0) + 1
        queues.append((visitor_id, queue_payload(room_id=room_id, position=position, wait=waits[site_id])))
    return queues


def room_queue(*, room: Room | None) -> dict | None:
    """A waiting visitor's place in the queue (their room pending), else None: for a new tab or
    a reconnect, which no `queue` event has reached yet. Position: 1 + the site's requests made
    before theirs (by time, then id)."""
    if room is None or room.status != Room.Status.PENDING:
        return None
    ahead = Room.objects.filter(site_id=room.site_id, status=Room.Status.PENDING).filter(
        Q(created_at__lt=room.created_at) | Q(created_at=room.created_at, pk__lt=room.pk)
    )
    return queue_payload(room_id=room.pk, position=ahead.count() + 1, wait=pool_wait(site_id=room.site_id))


def room_transcript(*, room: Room, earlier: int = HISTORY_LIMIT) -> list[Message]:
    """A room's transcript as admin shows it, the way the panel does (R15): the visitor's
    conversation up to and including the room, oldest first, system lines and all. Of their
    earlier rooms, the last `earlier` messages; of this room, every one."""
    before = Room.objects.filter(visitor_id=room.visitor_id, pk__lt=room.pk).values("pk")
    messages = Message.objects.select_related("attachment")
    older = list(messages.filter(room_id__in=before).order_by("-id")[:earlier])
    return [*older[::-1], *messages.filter(room_id=room.pk).order_by("id")]


# The REST API's reads ---------------------------------------------------------


def rooms_visible_to(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Room]:
    """Rooms of the sites the user may see (visitors.selectors.sites_visible_to)."""
    return Room.objects.filter(site__in=sites_visible_to(user=user)).select_related("operator__user", "visitor")


def live_rooms_by_visitor(*, visitor_ids: list[int]) -> dict[int, Room]:
    rooms = Room.objects.filter(visitor_id__in=visitor_ids, status__in=Room.LIVE).select_related(
        "operator__user", "visitor"
    )
    return {room.visitor_id: room for room in rooms}


def room_messages(*, room_id: int, after: int = 0) -> QuerySet[Message]:
    """A room's messages after a message id, oldest first (the API pages through them)."""
    return Message.objects.filter(room_id=room_id, id__gt=after).select_related("attachment").order_by("id")


def typing_target_of_visitor(*, visitor_id: int) -> tuple[int, int] | None:
    """(room, operator) a visitor's typing is shown to: their live room's operator, if it has one."""
    rooms = Room.objects.filter(
        visitor_id=visitor_id, status__in=(Room.Status.ACTIVE, Room.Status.CLOSING), operator__isnull=False
    )
    return rooms.values_list("pk", "operator_id").first()


def typing_target_of_operator(*, room_id: int, operator: Operator) -> int:
    """The visitor an operator's typing in this room is shown to: their own live rooms only."""
    visitor_id = (
        Room.objects.filter(pk=room_id, operator=operator, status__in=(Room.Status.ACTIVE, Room.Status.CLOSING))
        .values_list("visitor_id", flat=True)
        .first()
    )
    if visitor_id is None:
        raise NotFound("no live room of yours")
    return visitor_id


def rooms_matching(*, text: str) -> Q:
    """Rooms whose conversation says `text` (any message of theirs, system lines and notes too),
    or whose visitor's name or email holds it: the panel's search of past conversations and the
    API's `q` (issue 23). Case-insensitive, a substring; a scan of the sites' messages, fine for
    the thousands of conversations a shop keeps, not an index (a site with millions would want
    PostgreSQL's full-text search here)."""
    said = Message.objects.filter(room_id=OuterRef("pk"), body__icontains=text)
    return Q(Exists(said)) | Q(visitor__given_name__icontains=text) | Q(visitor__email__icontains=text)
