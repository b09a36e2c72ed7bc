"""Reads shaped for the contract (SPEC §3)."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from infra.errors import NotFound
from operators.models import Operator
from visitors.models import Visitor
from visitors.selectors import sites_visible_to
from visitors.visits import visits

from . import events
from .models import Message, Room

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
    return {
        "type": "snapshot",
        "operator": events.operator_payload(operator),
        "operators": [events.operator_payload(o) for o in operators],
        "visitors": [events.visitor_row_payload(row, room_of_visitor.get(row[0])) for row in visitors],
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


def _current(rows: list[tuple]) -> list[tuple]:
    """Rows with the pages of visits in progress as Redis holds them (the rows may be up to a
    page view flush behind: visitors/visits.py), in one round trip for all."""
    current = visits.current([row[0] for row in rows])
    if not current:
        return rows
    fields = ("url", "title", "referrer")
    # VISITOR_ROW: id, site_id, url, title, referrer, online, since, pages, given_name, email
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
    }


def room_history(*, room_id: int, after: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    messages = Message.objects.filter(room_id=room_id, id__gt=after).order_by("id")[:limit]
    return [events.message_payload(m) for m in messages]


def visitor_history(*, visitor_id: int, after: int, limit: int = HISTORY_LIMIT) -> list[dict]:
    """Messages of the visitor's current room after a message id: the live room, which is always
    their newest (a new room opens only once the last one expired), else the last one they had."""
    room_id = last_room_id(visitor_id=visitor_id)
    return room_history(room_id=room_id, after=after, limit=limit) if room_id else []


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
    messages = Message.objects.filter(room_id__in=theirs, id__gt=after).order_by("id")[:HISTORY_LIMIT]
    return [events.message_payload(m) for m in messages]


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
    return Message.objects.filter(room_id=room_id, id__gt=after).order_by("id")
