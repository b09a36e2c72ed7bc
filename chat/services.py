"""Room and message actions. Each runs in one transaction, publishes after commit, and raises
a ChatError subclass for what the caller may not do."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import BooleanField, Case, Count, Exists, OuterRef, QuerySet, Subquery, Value, When
from django.utils import timezone

from infra.errors import DetailsRequired, Invalid, NotAllowed, NotFound, RoomExpired, RoomTaken
from infra.prepared import PreparedInsert, PreparedQuery
from operators.models import Operator
from visitors.models import Site, Visitor
from visitors.presence import operator_presence
from visitors.windows import chat_windows

from . import events, files, offline, reports
from .models import Message, Room
from .selectors import live_room, without_back_link


def _lock_visitor(visitor_id: int) -> Visitor:
    # The visitor's row serialises everything that creates or changes their room.
    return Visitor.objects.select_for_update().get(pk=visitor_id)


# A message needs only the room's ids and status: its payload and its groups are made of them.
_ROOM_FIELDS = ("id", "site_id", "visitor_id", "operator_id", "status")


def _visitors_messages(visitor_id: int, client_id: str) -> QuerySet[Message]:
    # The visitor's rooms first, then their messages by the (room, sender, client_id) index.
    theirs = Room.objects.filter(visitor_id=visitor_id).values("pk")
    return Message.objects.filter(room_id__in=theirs, sender=Message.Sender.VISITOR, client_id=client_id)


def _live_rooms(visitor_id: int) -> QuerySet[Room]:
    return Room.objects.filter(visitor_id=visitor_id, status__in=Room.LIVE).select_for_update()


# The two statements of nearly every message, compiled once (infra/prepared.py): the room's
# locking read (with the resend check as a subquery) here, the message's INSERT below. SQLite
# has no row locks: its transactions take the database's write lock at BEGIN (IMMEDIATE,
# settings), which serialises them instead.
_live_room_row = PreparedQuery(Room, lambda visitor_id: _live_rooms(visitor_id).values_list(*_ROOM_FIELDS)[:1], int)
_live_room_row_resent = PreparedQuery(
    Room,
    lambda visitor_id, client_id: (
        _live_rooms(visitor_id)
        .annotate(resent=Subquery(_visitors_messages(visitor_id, client_id).values("pk")[:1]))
        .values_list(*_ROOM_FIELDS, "resent")[:1]
    ),
    int,
    str,
)
# An operator's room is read with whether it is an offline request (R16): its replies may be
# mailed; and with its creation time and first reply (the owners' reports, chat/reports.py). In the
# model's order: Django writes a values_list's columns so when it has an annotation (`resent`).
_OWN_ROOM_FIELDS = ("created_at", "first_reply_at", "offline_at")
_own_room_row = PreparedQuery(
    Room,
    lambda room_id: (
        Room.objects.filter(pk=room_id).select_for_update().values_list(*_ROOM_FIELDS, *_OWN_ROOM_FIELDS)[:1]
    ),
    int,
)
_own_room_row_resent = PreparedQuery(
    Room,
    lambda room_id, client_id: (
        Room.objects.filter(pk=room_id)
        .select_for_update()
        .annotate(
            resent=Subquery(
                Message.objects.filter(
                    room_id=OuterRef("pk"), sender=Message.Sender.OPERATOR, client_id=client_id
                ).values("pk")[:1]
            )
        )
        .values_list(*_ROOM_FIELDS, *_OWN_ROOM_FIELDS, "resent")[:1]
    ),
    int,
    str,
)
_message_insert = PreparedInsert(Message, ["room", "sender", "event", "operator", "name", "body", "client_id", "at"])
# A message carrying a file (issue 23).
_message_with_file_insert = PreparedInsert(
    Message, ["room", "sender", "event", "operator", "name", "body", "client_id", "at", "attachment"]
)


def _converted(values: tuple, using: str) -> list:
    """The times of _OWN_ROOM_FIELDS as the ORM reads them (a prepared statement's row comes
    raw from the driver: SQLite's, say, gives naive datetimes)."""
    connection = connections[using]
    out = []
    for name, value in zip(_OWN_ROOM_FIELDS, values, strict=False):
        column = Room._meta.get_field(name).get_col(Room._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
            value = converter(value, column, connection)
        out.append(value)
    return out


def _locked_room(row: tuple | None, *, resend_checked: bool, offline_read: bool = False) -> Room | None:
    """The room of a locking read's row, with the fields a message needs (the others are
    deferred), `resent`: the id of the message a resend repeats, or None, and `offline`: whether
    it is an offline request (when the read has it, with _OWN_ROOM_FIELDS)."""
    if row is None:
        return None
    using = router.db_for_write(Room)
    if offline_read:
        values = [*row[: len(_ROOM_FIELDS)], *_converted(row[len(_ROOM_FIELDS) :], using)]
        room = Room.from_db(using, (*_ROOM_FIELDS, *_OWN_ROOM_FIELDS), values)
    else:
        room = Room.from_db(using, _ROOM_FIELDS, row[: len(_ROOM_FIELDS)])
    room.resent = row[-1] if resend_checked else None
    room.offline = offline_read and room.offline_at is not None
    return room


def _lock_live_room(visitor_id: int, *, resent_of: str = "") -> Room | None:
    """The visitor's live room, locked to write a message in it; None if there is none (or
    it expired while this waited for the lock: the condition is checked again then).

    Messages are written under their room's row lock, so within a room their ids (one
    sequence for all rooms) follow commit order: `history` after the last id a client
    saw never skips a message that committed after a later one.

    With `resent_of` (a client_id), the room's `resent` is the id of the visitor's message
    already stored with it, in any of their rooms, or None: a resend costs no query of its own."""
    if resent_of:
        return _locked_room(_live_room_row_resent.first(visitor_id, resent_of), resend_checked=True)
    return _locked_room(_live_room_row.first(visitor_id), resend_checked=False)


def _lock_own_room(*, room_id: int, operator: Operator, resent_of: str = "") -> Room:
    """The operator's room, locked to write a message in it (see _lock_live_room), with the
    fields a message needs; `resent` as there, of the operator's messages in this room."""
    if resent_of:
        room = _locked_room(_own_room_row_resent.first(room_id, resent_of), resend_checked=True, offline_read=True)
    else:
        room = _locked_room(_own_room_row.first(room_id), resend_checked=False, offline_read=True)
    _check_own(room, operator)
    return room


def _check_own(room: Room | None, operator: Operator) -> None:
    if room is None or room.site_id not in operator.site_ids:
        # Rooms of sites the operator does not serve do not exist for them.
        raise NotFound("no such room")
    if room.operator_id != operator.pk:
        raise NotAllowed("this room is not yours")


# Routing and capacity (issue 23) ---------------------------------------------------


def _live_chats(operator_ids: Iterable[int], site_id: int) -> dict[int, int]:
    rows = (
        Room.objects.filter(operator_id__in=list(operator_ids), site_id=site_id, status__in=Room.LIVE)
        .values_list("operator_id")
        .annotate(count=Count("pk"))
    )
    return dict(rows)


def _check_capacity(operator: Operator, site: Site) -> None:
    """A site may cap the chats an operator has open on it at once (0: no cap)."""
    cap = site.max_chats_per_operator
    if cap and _live_chats([operator.pk], site.pk).get(operator.pk, 0) >= cap:
        raise NotAllowed(f"you have {cap} chats open on this site, the most it allows; close one first")


def _assignee(site: Site, *, exclude: int | None = None) -> Operator | None:
    """Who a new request of a site that assigns them goes to: an operator of the site who is
    online (a panel open), available, and under the site's cap, with the fewest chats open;
    among equals the one whose last assigned chat is oldest (round robin). None: the pool."""
    if site.routing != Site.Routing.ASSIGN:
        return None
    candidates = list(
        Operator.objects.select_related("user")
        .filter(sites=site.pk, user__is_active=True, online=True, status=Operator.Status.AVAILABLE)
        .exclude(pk=exclude)
    )
    connected = operator_presence.connected_among([operator.pk for operator in candidates])
    candidates = [operator for operator in candidates if operator.pk in connected]
    chats = _live_chats([operator.pk for operator in candidates], site.pk)
    if site.max_chats_per_operator:
        candidates = [o for o in candidates if chats.get(o.pk, 0) < site.max_chats_per_operator]
    if not candidates:
        return None
    oldest = datetime.min.replace(tzinfo=UTC)
    return min(candidates, key=lambda o: (chats.get(o.pk, 0), o.last_assigned_at or oldest, o.pk))


def _new_request(
    *, visitor: Visitor, now: datetime, site: Site | None = None, exclude_operator: int | None = None, **fields
) -> Room:
    """A new request of the visitor: in the pool, or given to an operator at once when the
    site assigns requests (issue 23). Its events are published."""
    site = site or Site.objects.get(pk=visitor.site_id)
    # Outside the site's business hours (issue 25) a request waits in the pool, marked so: the
    # sweep makes it an offline request (chat/offline.py) and no panel alerts for it.
    operator = _assignee(site, exclude=exclude_operator) if site.hours_open else None
    if operator is None:
        room = _new_room(visitor=visitor, now=now, after_hours=not site.hours_open, **fields)
        events.room_changed(room, visitor=visitor, pooled=True)
        return room
    room = _new_room(
        visitor=visitor, now=now, status=Room.Status.ACTIVE, operator=operator, accepted_at=now, routed=True, **fields
    )
    Operator.objects.filter(pk=operator.pk).update(last_assigned_at=now)
    events.room_changed(room, visitor=visitor, pooled=False)
    _system_say(room=room, event=Event.JOINED, operator=operator, at=now)
    return room


def _new_room(*, visitor: Visitor, now: datetime, **fields) -> Room:
    if fields.get("status", Room.Status.PENDING) == Room.Status.PENDING:
        fields["pooled_at"] = now  # WP_POOL_TIMEOUT counts from here (R16)
    try:
        with transaction.atomic():
            room = Room.objects.create(site_id=visitor.site_id, visitor=visitor, created_at=now, **fields)
    except IntegrityError:
        # The database allows one live room a visitor: someone else made it first.
        raise RoomTaken("this visitor already has a chat room") from None
    events.room_webhook("room.created", room)
    if room.operator_id:  # routed to an operator, or started by one
        events.room_webhook("room.accepted", room)
    return room


# The transcript's system lines (R15) -------------------------------------------

Event = Message.Event

# Each line's English text, stored with it: what admin, the API, exports and clients that do
# not word the `event` code themselves show. `{name}`: whom the line is about; `{to}`: where a
# transfer went.
_LINE_TEXT = {
    Event.JOINED: "{name} joined the chat",
    Event.TRANSFERRED: "{name} transferred the chat to {to}",
    Event.CLOSED: "{name} closed the chat",
    Event.REOPENED: "{name} reopened the chat",
    Event.REOPENED_BY_VISITOR: "The visitor wrote again: the chat is open again",
    Event.WINDOW_OPENED: "The visitor opened the chat window",
    Event.WINDOW_CLOSED: "The visitor closed the chat window",
    Event.RETURNED: "The visitor's question is back in the pool, unanswered",
    Event.EXPIRED: "The chat has ended",
    Event.LOGGED_OUT: "{name} logged out",
    Event.TIMED_OUT: "{name} lost the connection",
    Event.ENDED_BY_ADMIN: "The chat was ended by the site's team",
    Event.LEFT_SITE: "The visitor left the site",
    Event.BANNED: "{name} blocked the visitor",
}

# How a room ended, as its last line says (one code per Room.Reason).
_ENDING = {
    Room.Reason.OPERATOR_CLOSED: Event.EXPIRED,
    Room.Reason.OPERATOR_LOGOUT: Event.LOGGED_OUT,
    Room.Reason.OPERATOR_TIMEOUT: Event.TIMED_OUT,
    Room.Reason.ENDED_BY_ADMIN: Event.ENDED_BY_ADMIN,
    Room.Reason.VISITOR_LEFT: Event.LEFT_SITE,
    Room.Reason.BANNED: Event.BANNED,
}


def _system_line(
    *, room: Room, event: str, at: datetime, operator: Operator | None = None, name: str = "", to: str = ""
) -> Message:
    """A system line of the room's transcript, not stored yet. About the operator when one is
    given, else about the visitor."""
    if operator is not None:
        name = operator.name
    elif not name:
        name = Visitor(pk=room.visitor_id).name
    body = _LINE_TEXT[event].format(name=name, to=to)
    return Message(room=room, sender=Message.Sender.SYSTEM, event=event, operator=operator, name=name, body=body, at=at)


def _system_say(*, room: Room, event: str, at: datetime | None = None, **about) -> Message:
    """Store a system line in the room's transcript (in the caller's transaction) and publish it
    to those who see it (events.message_sent): operators all, the visitor some (VISITOR_EVENTS).

    Each caller has changed the room's row first (or made it), so the line is written under the
    room's row lock like any message: ids within a room follow commit order (R8)."""
    line = _system_line(room=room, event=event, at=at or timezone.now(), **about)
    _message_insert.save(line)
    events.message_sent(line, room)
    return line


# Visitor actions -------------------------------------------------------------


def _details_missing(visitor: Visitor, site: Site) -> bool:
    """The visitor's site asks for a name and email before a first message (its pre-chat form,
    issue 23) and they have not left them yet."""
    return site.prechat == Site.Prechat.REQUIRED and not (visitor.email and visitor.given_name)


def room_open(*, visitor_id: int) -> Room | None:
    """The visitor opens the chat window: back to their live room (R7). With none, nothing yet
    (None): a request is the visitor's first message (R4, `message_send_by_visitor`), not a
    window opened and left unwritten."""
    now = timezone.now()
    with transaction.atomic():
        visitor = _lock_visitor(visitor_id)
        room = live_room(visitor_id=visitor_id)
        if room is not None and not (room.visitor_in_room and room.window_opened):
            room.visitor_in_room = room.window_opened = True
            room.save(update_fields=["visitor_in_room", "window_opened"])
            events.room_changed(room, visitor=visitor, pooled=room.status == Room.Status.PENDING)
            _system_say(room=room, event=Event.WINDOW_OPENED, at=now)
        return room


def room_leave_window(*, visitor_id: int) -> Room | None:
    """The visitor closed the chat window, or the tab that had it open: the room stays, its
    operator sees them gone from it (R5), unless another tab of theirs has it open still
    (visitors/windows.py; looked at under the visitor's lock, so a tab opening it wins)."""
    with transaction.atomic():
        visitor = _lock_visitor(visitor_id)
        room = live_room(visitor_id=visitor_id)
        if room is not None and room.visitor_in_room and not chat_windows.any_open(visitor_id):
            room.visitor_in_room = False
            room.save(update_fields=["visitor_in_room"])
            events.room_changed(room, visitor=visitor, pooled=room.status == Room.Status.PENDING)
            _system_say(room=room, event=Event.WINDOW_CLOSED)
        return room


def message_send_by_visitor(
    *, visitor_id: int, body: str, client_id: str = "", upload: files.Upload | None = None
) -> Message:
    """Stored before it is relayed (R8); with no live room it is a new request (R4, R9).
    `upload`: a file it carries (chat/files.py), its body the caption; a resend of a message
    stored before returns that one and leaves the upload unused."""
    now = timezone.now()
    with transaction.atomic():
        # The usual case, in one locking read and one insert: a live room, a new message.
        room = _lock_live_room(visitor_id, resent_of=client_id)
        if room is not None and room.resent is not None:
            resent = Message.objects.select_related("room").get(pk=room.resent)  # maybe of an older room
            return _relay_again(resent, resent.room)
        if room is not None:
            if room.status == Room.Status.CLOSING:
                room = _reopened_by_visitor(room)
            return _message_create(
                room=room, sender=Message.Sender.VISITOR, body=body, client_id=client_id, at=now, upload=upload
            )
        # No live room: this message may start one. The visitor's row serialises that.
        visitor = _lock_visitor(visitor_id)
        if client_id:
            # A resend after a lost ack is stored once, even if its room has expired since:
            # it must not open a new request.
            resent = _visitors_messages(visitor_id, client_id).select_related("room").first()
            if resent is not None:
                return _relay_again(resent, resent.room)
        room = _lock_live_room(visitor_id)  # made while this waited for the visitor?
        if room is not None:
            if room.status == Room.Status.CLOSING:
                room = _reopened_by_visitor(room)
            return _message_create(
                room=room, sender=Message.Sender.VISITOR, body=body, client_id=client_id, at=now, upload=upload
            )
        site = Site.objects.get(pk=visitor.site_id)  # read once: the form's rule, then routing
        if _details_missing(visitor, site):
            raise DetailsRequired("leave your name and email first: this site asks for them before a first message")
        room = _new_request(visitor=visitor, now=now, site=site, visitor_in_room=True)
        return _message_create(
            room=room, sender=Message.Sender.VISITOR, body=body, client_id=client_id, at=now, upload=upload
        )


def _reopened_by_visitor(room: Room) -> Room:
    """R14: a visitor's question in a room its operator closed reopens it (active, the expiry
    cancelled): it must not be left to run out with the countdown. The operator and the
    visitor get the room; the message after it alerts the operator as any other does."""
    Room.objects.filter(pk=room.pk).update(status=Room.Status.ACTIVE, expires_at=None)
    room = Room.objects.select_related("operator__user", "visitor").get(pk=room.pk)
    events.room_changed(room, visitor=room.visitor, pooled=False)
    # Before the message: the transcript says why a closed room did not expire.
    _system_say(room=room, event=Event.REOPENED_BY_VISITOR)
    return room


def _message_create(
    *,
    room: Room,
    sender: str,
    body: str,
    client_id: str,
    at: datetime,
    operator=None,
    upload: files.Upload | None = None,
) -> Message:
    name = Visitor(pk=room.visitor_id).name if sender == Message.Sender.VISITOR else operator.name
    message = Message(room=room, sender=sender, operator=operator, name=name, body=body, client_id=client_id, at=at)
    if upload is None:
        _message_insert.save(message)
    else:
        message.attachment = files.attach(upload, room=room)
        _message_with_file_insert.save(message)
    events.message_sent(message, room)
    events.message_webhook(message, room)
    return message


def _relay_again(message: Message, room: Room) -> Message:
    # A resend means the first ack was lost, maybe with the process that stored the
    # message before it published it: publish it again (clients keep messages by id).
    events.message_sent(message, room)
    return message


# Operator actions ------------------------------------------------------------


def _visible_room(*, room_id: int, operator: Operator, lock: bool = False) -> Room:
    rooms = Room.objects.select_related("operator__user", "visitor")
    if lock:
        rooms = rooms.select_for_update(of=("self",))
    room = without_back_link(rooms.filter(pk=room_id, site_id__in=operator.site_ids).first())
    if room is None:
        # Rooms of sites the operator does not serve do not exist for them.
        raise NotFound("no such room")
    return room


def _own_room(*, room_id: int, operator: Operator, lock: bool = False) -> Room:
    room = _visible_room(room_id=room_id, operator=operator, lock=lock)
    if room.operator_id != operator.pk:
        raise NotAllowed("this room is not yours")
    return room


def room_accept(*, room_id: int, operator: Operator) -> Room:
    """Take a request from the pool. Of operators accepting at once, the database lets one win (R4)."""
    now = timezone.now()
    with transaction.atomic():
        site = Site.objects.filter(rooms__pk=room_id, pk__in=operator.site_ids).first()
        if site is not None:
            _check_capacity(operator, site)
        won = Room.objects.filter(pk=room_id, status=Room.Status.PENDING, site_id__in=operator.site_ids).update(
            status=Room.Status.ACTIVE, operator=operator, accepted_at=now
        )
        room = _visible_room(room_id=room_id, operator=operator)
        if not won:
            if room.status == Room.Status.ACTIVE and room.operator_id == operator.pk:
                return room
            raise RoomTaken("another operator has taken this request")
        reports.rollups_stale([room], now=now)  # an offline request of days ago
        events.room_changed(room, visitor=room.visitor, pooled=True)
        events.room_webhook("room.accepted", room)
        _system_say(room=room, event=Event.JOINED, operator=operator, at=now)
        return room


def room_start(*, visitor_id: int, operator: Operator) -> Room:
    """Start a conversation with an online visitor who has no operator (R12)."""
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(pk=visitor_id, site_id__in=operator.site_ids).first()
        if visitor is None:
            raise NotFound("no such visitor")
        if not visitor.online:
            raise NotAllowed("this visitor has left the site")
        room = live_room(visitor_id=visitor_id)
        if room is not None and room.status == Room.Status.PENDING:
            return room_accept(room_id=room.pk, operator=operator)
        if room is not None:
            if room.operator_id == operator.pk:
                return room
            raise RoomTaken(f"this visitor is chatting with {room.operator.name if room.operator else 'someone'}")
        _check_capacity(operator, Site.objects.get(pk=visitor.site_id))
        room = _new_room(
            visitor=visitor,
            now=now,
            status=Room.Status.ACTIVE,
            operator=operator,
            accepted_at=now,
            # The visitor has not opened the window of this chat yet: the panel says so, not
            # "left the chat window".
            visitor_in_room=False,
            window_opened=False,
        )
        events.room_changed(room, visitor=visitor, pooled=False)
        _system_say(room=room, event=Event.JOINED, operator=operator, at=now)
        return room


def room_close(*, room_id: int, operator: Operator) -> Room:
    """Close a room: it expires ROOM_EXPIRY later unless reopened (R9)."""
    with transaction.atomic():
        room = _own_room(room_id=room_id, operator=operator, lock=True)
        if room.status == Room.Status.EXPIRED:
            raise RoomExpired("this room has expired")
        if room.status == Room.Status.ACTIVE:
            room.status = Room.Status.CLOSING
            room.expires_at = timezone.now() + timedelta(seconds=settings.WP_ROOM_EXPIRY)
            room.save(update_fields=["status", "expires_at"])
            events.room_changed(room, visitor=room.visitor, pooled=False)
            _system_say(room=room, event=Event.CLOSED, operator=operator)
        return room


def room_reopen(*, room_id: int, operator: Operator) -> Room:
    with transaction.atomic():
        room = _own_room(room_id=room_id, operator=operator, lock=True)
        if room.status == Room.Status.EXPIRED:
            raise RoomExpired("this room has expired")
        if room.status == Room.Status.CLOSING:
            room.status = Room.Status.ACTIVE
            room.expires_at = None
            room.save(update_fields=["status", "expires_at"])
            events.room_changed(room, visitor=room.visitor, pooled=False)
            _system_say(room=room, event=Event.REOPENED, operator=operator)
        return room


def room_transfer(*, room_id: int, operator: Operator, to_operator_id: int | None) -> Room:
    """Hand one's live room to another operator of its site who is online now, or back to the
    pool (`to_operator_id` None) for whoever takes it next. The visitor sees the new name; their
    next request goes to the new operator (R7 follows the room's operator). A closing room is
    handed over active again: its question is the new operator's to answer."""
    with transaction.atomic():
        room = _own_room(room_id=room_id, operator=operator, lock=True)
        if room.status == Room.Status.EXPIRED:
            raise RoomExpired("this room has expired")
        now = timezone.now()
        target = None
        if to_operator_id is None:
            room.status, room.operator, room.accepted_at, room.transferred_at = Room.Status.PENDING, None, None, None
            room.pooled_at = now
        else:
            target = (
                Operator.objects.select_related("user")
                .filter(pk=to_operator_id, sites=room.site_id, user__is_active=True)
                .first()
            )
            if target is None:
                raise NotFound("no such operator of this site")
            if target.pk == operator.pk:
                raise NotAllowed("this room is yours already")
            if not operator_presence.is_connected(target.pk):
                raise NotAllowed("that operator is not online")
            site = Site.objects.get(pk=room.site_id)
            if site.max_chats_per_operator and _live_chats([target.pk], site.pk).get(target.pk, 0) >= (
                site.max_chats_per_operator
            ):
                raise NotAllowed(f"{target.name} has as many chats open as this site allows")
            # Not theirs until they write in it: going offline before that returns it (R14).
            # `accepted_at` stays when the visitor was taken from the pool (their wait, R16).
            room.status, room.operator, room.transferred_at = Room.Status.ACTIVE, target, now
        room.expires_at = None
        room.save(update_fields=["status", "operator", "accepted_at", "transferred_at", "expires_at", "pooled_at"])
        reports.rollups_stale([room], now=now)
        pooled = room.status == Room.Status.PENDING
        # The operator handing it over hears of it too (in the pool, with the site's operators).
        events.room_changed(room, visitor=room.visitor, pooled=pooled, also_operator=None if pooled else operator.pk)
        # Two lines, each about one operator (one name a line: clients word them from the code):
        # who handed it on, then who took it (now, or when someone accepts it from the pool).
        _system_say(
            room=room, event=Event.TRANSFERRED, operator=operator, at=now, to=target.name if target else "the team"
        )
        if target is not None:
            _system_say(room=room, event=Event.JOINED, operator=target, at=now)
        return room


def message_send_by_operator(
    *, room_id: int, operator: Operator, body: str, client_id: str = "", upload: files.Upload | None = None
) -> Message:
    """`upload`: a file it carries (chat/files.py), as message_send_by_visitor's."""
    with transaction.atomic():
        # Locked: see _lock_live_room.
        room = _lock_own_room(room_id=room_id, operator=operator, resent_of=client_id)
        # Before the expiry check: a resend after a lost ack is acknowledged even
        # when the room has expired since.
        if room.resent is not None:
            return _relay_again(Message.objects.get(pk=room.resent), room)
        if room.status == Room.Status.EXPIRED:
            raise RoomExpired("this room has expired")
        message = _message_create(
            room=room,
            sender=Message.Sender.OPERATOR,
            operator=operator,
            body=body,
            client_id=client_id,
            at=timezone.now(),
            upload=upload,
        )
        if room.first_reply_at is None:
            # The reports' first response: one UPDATE a room, at its first operator message.
            room.first_reply_at = message.at
            Room.objects.filter(pk=room.pk).update(first_reply_at=message.at)
            reports.rollups_stale([room], now=message.at)
        if room.offline:
            offline.reply_written(room_id=room.pk, visitor_id=room.visitor_id, message_id=message.pk)
        return message


# Ratings (issue 23) ------------------------------------------------------------


def room_rate(*, visitor_id: int, room_id: int, rating: int, comment: str = "") -> Room:
    """The visitor rates a chat of theirs that an operator took part in, 1-5 with an optional
    comment, once (SPEC §3 `rate`)."""
    if not 1 <= rating <= 5:
        raise Invalid("a rating is a whole number from 1 to 5")
    with transaction.atomic():
        room = (
            Room.objects.select_for_update(of=("self",))
            .select_related("operator__user")
            .filter(pk=room_id, visitor_id=visitor_id)
            .first()
        )
        if room is None:
            raise NotFound("no such chat of yours")
        if room.operator_id is None and room.accepted_at is None:
            raise NotAllowed("nobody has answered in this chat yet")
        if room.rating is not None:
            raise NotAllowed("this chat has been rated already")
        room.rating, room.rating_comment, room.rated_at = rating, comment, timezone.now()
        room.save(update_fields=["rating", "rating_comment", "rated_at"])
        reports.rollups_stale([room], now=room.rated_at)
        events.room_rated(without_back_link(room))
        events.room_webhook("rating.created", room)
        return room


# Notes (issue 23) --------------------------------------------------------------


def note_add(*, room_id: int, operator: Operator, body: str, client_id: str = "") -> Message:
    """An operators' note on a room of their sites (its operator's or a colleague's, live or
    ended): the room's operator and whoever opens the conversation later read it; the visitor
    never does (models.visitor_sees). The same client_id again is stored once."""
    with transaction.atomic():
        # Under the room's row lock, as every message: ids within a room follow commit order (R8).
        room = _visible_room(room_id=room_id, operator=operator, lock=True)
        if client_id:
            resent = Message.objects.filter(room=room, sender=Message.Sender.NOTE, client_id=client_id).first()
            if resent is not None:
                events.message_sent(resent, room, also_operator=operator.pk)
                return resent
        note = Message(
            room=room,
            sender=Message.Sender.NOTE,
            operator=operator,
            name=operator.name,
            body=body,
            client_id=client_id,
            at=timezone.now(),
        )
        _message_insert.save(note)
        events.message_sent(note, room, also_operator=operator.pk)
        return note


# Seen (issue 23) ---------------------------------------------------------------


def room_seen_by_visitor(*, visitor_id: int, message_id: int) -> int | None:
    """The visitor saw their conversation up to this message (the window open, or its toast on
    a visible page): its room's operator sees which of their messages reached them. The mark
    only moves forward; the room's id, or None when it did not move (nothing published)."""
    row = Message.objects.filter(pk=message_id, room__visitor_id=visitor_id).values_list("room_id").first()
    if row is None:
        raise NotFound("no such message")
    room_id = row[0]
    with transaction.atomic():
        moved = Room.objects.filter(pk=room_id, visitor_seen_id__lt=message_id).update(visitor_seen_id=message_id)
        if not moved:
            return None
        operator_id = Room.objects.filter(pk=room_id).values_list("operator_id", flat=True).first()
        if operator_id is not None:
            events.seen(
                room_id=room_id, by="visitor", message_id=message_id, to_group=events.operator_group(operator_id)
            )
    return room_id


def room_seen_by_operator(*, room_id: int, operator: Operator, message_id: int) -> int | None:
    """The operator has the room in view up to this message: the visitor reads "Seen" under
    theirs. Their own rooms only; the mark only moves forward."""
    room = _visible_room(room_id=room_id, operator=operator)
    if room.operator_id != operator.pk:
        raise NotAllowed("this room is not yours")
    if not Message.objects.filter(pk=message_id, room_id=room_id).exists():
        raise NotFound("no such message in this room")
    with transaction.atomic():
        moved = Room.objects.filter(pk=room_id, operator_seen_id__lt=message_id).update(operator_seen_id=message_id)
        if not moved:
            return None
        events.seen(
            room_id=room_id, by="operator", message_id=message_id, to_group=events.visitor_group(room.visitor_id)
        )
    return room_id


# Expiry ----------------------------------------------------------------------


def rooms_expire(
    rooms: QuerySet[Room], *, reason: str, now: datetime, skip_locked: bool = False, by: Operator | None = None
) -> list[Room]:
    """Expire the live rooms of a queryset, each exactly once however many sweeps race.
    `by`: the operator who ended them, when it is not the rooms' own (a ban: chat/bans.py).

    A row another transaction holds is waited for (a message being written, a close),
    then taken only if still live. With skip_locked it is skipped instead, for callers
    that come back to it (the sweep's closing rooms); a visitor or operator who is
    released once must not leave a room behind."""
    rooms = rooms.filter(status__in=Room.LIVE).select_for_update(of=("self",), skip_locked=skip_locked)
    if reason not in (Room.Reason.VISITOR_LEFT, Room.Reason.BANNED):
        # Only a room whose visitor is still here can leave a question stranded (R14): the
        # sweep's thousands of rooms of visitors who left pay for no subquery.
        rooms = rooms.annotate(last_sender=_last_sender)
    if reason in _GONE_OFFLINE:
        rooms = rooms.annotate(taken=_taken_since_transfer)
    # However many requests end here (an owner ending hundreds in admin), each site's queue is
    # read and sent once.
    with events.queues_together(), transaction.atomic():
        due = list(
            rooms.select_related("operator__user", "visitor").order_by("pk")  # one locking order for every caller
        )
        if not due:
            return []
        Room.objects.filter(pk__in=[room.pk for room in due]).update(
            status=Room.Status.EXPIRED, reason=reason, ended_at=now
        )
        reports.rollups_stale(due, now=now)
        lines = []
        for room in due:
            was = room.status
            room.status, room.reason, room.ended_at = Room.Status.EXPIRED, reason, now
            events.room_changed(room, visitor=room.visitor, pooled=was == Room.Status.PENDING)
            events.room_webhook("room.ended", room)
            lines.append(_ending_line(room, now=now, by=by))
            if _stranded(room, was=was):
                returned = _room_return(room, now=now)
                lines.append(_system_line(room=returned, event=Event.RETURNED, at=now, name=room.visitor.name))
        # Every room's last line in one INSERT (SQLite's takes 124 rows a statement): the sweep
        # may end thousands of rooms at once (R15).
        Message.objects.bulk_create(lines)
        for line in lines:
            events.message_sent(line, line.room)
        return due


def _ending_line(room: Room, *, now: datetime, by: Operator | None = None) -> Message:
    """Why the room ended (R15): about its operator (or the one who ended it), or, for a
    visitor who left, about them."""
    event = _ENDING[room.reason]
    if by is not None:
        return _system_line(room=room, event=event, at=now, operator=by)
    if event == Event.LEFT_SITE or room.operator is None:
        return _system_line(room=room, event=event, at=now, name=room.visitor.name)
    return _system_line(room=room, event=event, at=now, operator=room.operator)


# The sender of a room's last message (a system line aside): a visitor's is a question nobody
# has answered yet.
_last_sender = Subquery(
    Message.objects.filter(room_id=OuterRef("pk"))
    .exclude(sender__in=(Message.Sender.SYSTEM, Message.Sender.NOTE))
    .order_by("-id")
    .values("sender")[:1]
)


# The operator went offline: logged out (or was deactivated), or timed out.
_GONE_OFFLINE = (Room.Reason.OPERATOR_LOGOUT, Room.Reason.OPERATOR_TIMEOUT)

# A transferred room's operator has written in it since it was handed to them: it is theirs.
# (Any room not transferred counts as taken: its operator accepted or started it.)
_taken_since_transfer = Case(
    When(transferred_at=None, then=Value(True)),
    default=Exists(
        Message.objects.filter(
            room_id=OuterRef("pk"),
            sender=Message.Sender.OPERATOR,
            operator_id=OuterRef("operator_id"),
            at__gte=OuterRef("transferred_at"),
        )
    ),
    output_field=BooleanField(),
)


def _stranded(room: Room, *, was: str) -> bool:
    """R14: the room ended under a visitor still on the site, their last message unanswered, or
    handed to an operator who went offline before taking it (writing in it; closing it is a
    choice made too): a transfer nobody took, whoever spoke last. Not a pool request ended (it
    was nobody's to answer: an owner removed it), nor a visitor who left (R3: nobody to answer),
    nor a visitor an operator blocked (issue 25: nobody is to answer)."""
    untaken = was == Room.Status.ACTIVE and not getattr(room, "taken", True)
    return (
        was != Room.Status.PENDING
        and room.reason not in (Room.Reason.VISITOR_LEFT, Room.Reason.BANNED)
        and (room.last_sender == Message.Sender.VISITOR or untaken)
        and room.visitor.online
    )


def _room_return(room: Room, *, now: datetime) -> Room:
    """R14: the visitor's unanswered question goes back to the pool at once, without them doing
    anything, marked with why ("Peter logged out"); whoever takes it reads the conversation
    before it (R15, selectors.operator_room_history)."""
    # Where the site assigns requests, to a colleague at once (never back to the one leaving).
    return _new_request(
        visitor=room.visitor,
        now=now,
        exclude_operator=room.operator_id,
        visitor_in_room=room.visitor_in_room,
        return_reason=room.reason,
        return_operator_name=room.operator.name if room.operator else "",
    )


def rooms_end(*, room_ids: Iterable[int], now: datetime) -> list[Room]:
    """A site owner ends rooms now (admin): they expire at once, whatever their state, and their
    visitors are released as after any expiry. Rooms already expired are left as they are."""
    return rooms_expire(Room.objects.filter(pk__in=list(room_ids)), reason=Room.Reason.ENDED_BY_ADMIN, now=now)


def rooms_expire_due(*, now: datetime, room_ids: Iterable[int] | None = None) -> list[Room]:
    """Rooms closed by their operator whose ROOM_EXPIRY has run out (R9); only these, if given."""
    due = Room.objects.filter(status=Room.Status.CLOSING, expires_at__lte=now)
    if room_ids is not None:
        due = due.filter(pk__in=list(room_ids))
    # Skipped while another transaction holds them: still due, the next sweep takes them.
    return rooms_expire(due, reason=Room.Reason.OPERATOR_CLOSED, now=now, skip_locked=True)
