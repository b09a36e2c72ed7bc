"""Room and message actions. Each runs in one transaction (the usual message on PostgreSQL:
one statement), publishes after commit, and raises a ChatError subclass for what the caller
may not do."""

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from operators.models import Operator
from visitors.models import Visitor
from whitepanel.statements import ONE_STATEMENT_VENDORS, column, constants, table

from . import events
from .errors import NotAllowed, NotFound, RoomExpired, RoomTaken
from .models import Message, Room
from .selectors import live_room, without_back_link


def _lock_visitor(visitor_id: int) -> Visitor:
    # The visitor's row serialises everything that creates or changes their room.
    return Visitor.objects.select_for_update().get(pk=visitor_id)


# The message path's statements are written once per database, with the names from the
# models (as hello's and page's, visitors/services.py): the ORM compiling the room's locking
# read, its resend subquery and the insert on every message was half of a daphne process's
# time in the relay benchmark (docs/benchmarks.md). A message needs only the room's ids and
# status: its payload and its groups are made of them.
_ROOM_FIELDS = ["id", "site_id", "visitor_id", "operator_id", "status"]


@functools.cache
def _message_room_sql(vendor: str, *, by_visitor: bool, resend: bool) -> str:
    """The room a message goes to, locked, with the id of the message a resend repeats (or NULL).

    By visitor: their live room; the resend is of their message in any of their rooms
    (params: [visitor_id, client_id,] visitor_id). By room id: that room; the resend is of an
    operator's message in it (params: [client_id,] room_id)."""
    rooms, messages = table(Room), table(Message)
    m_id, m_room, m_sender, m_client_id = (
        f"m.{column(Message, name)}" for name in ("id", "room", "sender", "client_id")
    )
    columns = ", ".join(f"{rooms}.{column(Room, name)}" for name in _ROOM_FIELDS)
    room_pk = f"{rooms}.{column(Room, 'id')}"
    if not resend:
        resent = "NULL"
    elif by_visitor:
        # The visitor's rooms first, then their messages by the (room, sender, client_id)
        # index. As a join, PostgreSQL without fresh statistics (autovacuum off, or a table
        # just filled) started from the messages instead: a scan of them all per message.
        theirs = f"SELECT {column(Room, 'id')} FROM {rooms} WHERE {column(Room, 'visitor')} = %s"  # noqa: S608
        in_theirs = f"= ANY(ARRAY({theirs}))" if vendor == "postgresql" else f"IN ({theirs})"
        resent = (
            f"(SELECT {m_id} FROM {messages} m WHERE {m_room} {in_theirs}"  # noqa: S608
            f" AND {m_sender} = '{Message.Sender.VISITOR}' AND {m_client_id} = %s LIMIT 1)"
        )
    else:
        resent = (
            f"(SELECT {m_id} FROM {messages} m WHERE {m_room} = {room_pk}"  # noqa: S608
            f" AND {m_sender} = '{Message.Sender.OPERATOR}' AND {m_client_id} = %s LIMIT 1)"
        )
    if by_visitor:
        where = (
            f"{rooms}.{column(Room, 'visitor')} = %s AND {rooms}.{column(Room, 'status')} IN ({constants(Room.LIVE)})"
        )
    else:
        where = f"{room_pk} = %s"
    # SQLite has no row locks: its transactions take the database's write lock at BEGIN
    # (IMMEDIATE, settings), which serialises them instead.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return f"SELECT {columns}, {resent} AS resent FROM {rooms} WHERE {where} LIMIT 1{lock}"  # noqa: S608


def _room_row(sql: str, params: list) -> tuple[Room, tuple] | None:
    """The room of a statement's row (_ROOM_FIELDS, then `resent`) and the rest of the row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    room = Room.from_db(connection.alias, _ROOM_FIELDS, row[: len(_ROOM_FIELDS)])
    room.resent = row[len(_ROOM_FIELDS)]
    return room, row[len(_ROOM_FIELDS) + 1 :]


def _message_room(sql: str, params: list) -> Room | None:
    found = _room_row(sql, params)
    return found[0] if found else None


def _lock_live_room(visitor_id: int, *, resent_of: str = "") -> Room | None:
    """The visitor's live room, locked to write a message in it; None if there is none (or
    it expired while this waited for the lock: the condition is checked again then).

    Messages are written under their room's row lock, so within a room their ids (one
    sequence for all rooms) follow commit order: `history` after the last id a client
    saw never skips a message that committed after a later one.

    With `resent_of` (a client_id), the room's `resent` is the id of the visitor's message
    already stored with it, in any of their rooms, or None: a resend costs no query of its own.
    Only the fields a message needs are loaded (_ROOM_FIELDS)."""
    sql = _message_room_sql(connection.vendor, by_visitor=True, resend=bool(resent_of))
    return _message_room(sql, [visitor_id, resent_of, visitor_id] if resent_of else [visitor_id])


def _lock_own_room(*, room_id: int, operator: Operator, resent_of: str = "") -> Room:
    """The operator's room, locked to write a message in it (see _lock_live_room), with the
    fields a message needs; `resent` as there, of the operator's messages in this room."""
    sql = _message_room_sql(connection.vendor, by_visitor=False, resend=bool(resent_of))
    room = _message_room(sql, [resent_of, room_id] if resent_of else [room_id])
    _check_own(room, operator)
    return room


def _check_own(room: Room | None, operator: Operator) -> None:
    if room is None or room.site_id not in operator.site_ids:
        # Rooms of sites the operator does not serve do not exist for them.
        raise NotFound("no such room")
    if room.operator_id != operator.pk:
        raise NotAllowed("this room is not yours")


def _new_room(*, visitor: Visitor, now: datetime, **fields) -> Room:
    try:
        with transaction.atomic():
            return Room.objects.create(site_id=visitor.site_id, visitor=visitor, created_at=now, **fields)
    except IntegrityError:
        # The database allows one live room a visitor: someone else made it first.
        raise RoomTaken("this visitor already has a chat room") from None


# Visitor actions -------------------------------------------------------------


def room_open(*, visitor_id: int) -> Room:
    """The visitor opens the chat window: back to their live room (R7), else a new pool request (R4)."""
    now = timezone.now()
    with transaction.atomic():
        visitor = _lock_visitor(visitor_id)
        room = live_room(visitor_id=visitor_id)
        if room is None:
            room = _new_room(visitor=visitor, now=now, visitor_in_room=True)
            events.room_changed(room, visitor=visitor, pooled=True)
        elif not room.visitor_in_room:
            room.visitor_in_room = True
            room.save(update_fields=["visitor_in_room"])
            events.room_changed(room, visitor=visitor, pooled=room.status == Room.Status.PENDING)
        return room


def room_leave_window(*, visitor_id: int) -> Room | None:
    """The visitor closes the chat window: the room stays, its operator sees them gone from it (R5)."""
    with transaction.atomic():
        visitor = _lock_visitor(visitor_id)
        room = live_room(visitor_id=visitor_id)
        if room is not None and room.visitor_in_room:
            room.visitor_in_room = False
            room.save(update_fields=["visitor_in_room"])
            events.room_changed(room, visitor=visitor, pooled=room.status == Room.Status.PENDING)
        return room


def message_send_by_visitor(*, visitor_id: int, body: str, client_id: str = "") -> Message:
    """Stored before it is relayed (R8); with no live room it starts a new pool request (R9)."""
    now = timezone.now()
    if connection.vendor in ONE_STATEMENT_VENDORS:
        message = _message_new(
            sender=Message.Sender.VISITOR, visitor_id=visitor_id, body=body, client_id=client_id, at=now
        )
        sql = _message_send_sql(connection.vendor, by_visitor=True, resend=bool(client_id))
        room_params = [visitor_id, client_id, visitor_id] if client_id else [visitor_id]
        sent = _message_send(sql, room_params + _message_params(message)[1:])
        if sent is not None:
            room, pk = sent
            if room.resent is not None:
                resent = Message.objects.select_related("room").get(pk=room.resent)  # maybe of an older room
                return _relay_again(resent, resent.room)
            message.room = room
            events.message_sent(_message_stored(message, pk), room)
            return message
        # No live room: the steps below, which may start one.
    with transaction.atomic():
        # The usual case, in one locking read and one insert: a live room, a new message.
        room = _lock_live_room(visitor_id, resent_of=client_id)
        if room is not None and room.resent is not None:
            resent = Message.objects.select_related("room").get(pk=room.resent)  # maybe of an older room
            return _relay_again(resent, resent.room)
        if room is not None:
            return _message_create(room=room, sender=Message.Sender.VISITOR, body=body, client_id=client_id, at=now)
        # No live room: this message may start one. The visitor's row serialises that.
        visitor = _lock_visitor(visitor_id)
        if client_id:
            # A resend after a lost ack is stored once, even if its room has expired since:
            # it must not open a new request.
            resent = (
                Message.objects.filter(room__visitor_id=visitor_id, sender=Message.Sender.VISITOR, client_id=client_id)
                .select_related("room")
                .first()
            )
            if resent is not None:
                return _relay_again(resent, resent.room)
        room = _lock_live_room(visitor_id)  # made while this waited for the visitor?
        if room is not None:
            return _message_create(room=room, sender=Message.Sender.VISITOR, body=body, client_id=client_id, at=now)
        room = _new_room(visitor=visitor, now=now, visitor_in_room=True)
        events.room_changed(room, visitor=visitor, pooled=True)
        return _message_create(room=room, sender=Message.Sender.VISITOR, body=body, client_id=client_id, at=now)


def _message_new(
    *, sender: str, body: str, client_id: str, at: datetime, room: Room | None = None, visitor_id=None, operator=None
) -> Message:
    """An unsaved message; its room may come later (the one statement finds it)."""
    if sender == Message.Sender.VISITOR:
        name = Visitor(pk=visitor_id or room.visitor_id).name
    else:
        name = operator.name
    return Message(room=room, sender=sender, operator=operator, name=name, body=body, client_id=client_id, at=at)


def _message_params(message: Message) -> list:
    """The values of _MESSAGE_COLUMNS for a new message."""
    return [message.room_id, message.sender, message.operator_id, message.name, message.body, message.client_id,
            connection.ops.adapt_datetimefield_value(message.at)]  # fmt: skip


def _message_stored(message: Message, pk: int) -> Message:
    message.pk = pk
    message._state.adding, message._state.db = False, connection.alias
    return message


def _message_create(*, room: Room, sender: str, body: str, client_id: str, at: datetime, operator=None) -> Message:
    message = _message_new(room=room, sender=sender, body=body, client_id=client_id, at=at, operator=operator)
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        message.save(force_insert=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_message_insert_sql(connection.vendor), _message_params(message))
            _message_stored(message, cursor.fetchone()[0])
    events.message_sent(message, room)
    return message


_MESSAGE_COLUMNS = ("room", "sender", "operator", "name", "body", "client_id", "at")


@functools.cache
def _message_insert_sql(vendor: str) -> str:
    # RETURNING: PostgreSQL, and SQLite since 3.35 (before it, the ORM's insert above).
    columns = ", ".join(column(Message, name) for name in _MESSAGE_COLUMNS)
    return (
        f"INSERT INTO {table(Message)} ({columns}) "  # noqa: S608
        f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {column(Message, 'id')}"
    )


# On PostgreSQL the usual message (a room to go to, not a resend) is one statement, run in
# autocommit: the room's locking read and the insert joined by a data-modifying WITH, the
# insert made only if the room may take it. One round trip instead of four (BEGIN, read,
# insert, COMMIT); the lock is held, as in a transaction, until the statement ends. SQLite
# has no data-modifying WITH: it runs the same steps in a transaction (ONE_STATEMENT_VENDORS).
@functools.cache
def _message_send_sql(vendor: str, *, by_visitor: bool, resend: bool) -> str:
    """Params: the room read's (_message_room_sql), then the message's (_message_params), then
    for an operator their id and their sites' ids (a list). Returns the room's row, the resent
    id and the new message's id (NULL if none was stored)."""
    room_sql = _message_room_sql(vendor, by_visitor=by_visitor, resend=resend)
    columns = ", ".join(column(Message, name) for name in _MESSAGE_COLUMNS)
    condition = "room.resent IS NULL"
    if not by_visitor:
        condition += (
            f" AND room.{column(Room, 'status')} <> '{Room.Status.EXPIRED}' AND room.{column(Room, 'operator')} = %s"
            f" AND room.{column(Room, 'site')} = ANY(%s)"
        )
    returned = ", ".join(f"room.{column(Room, name)}" for name in _ROOM_FIELDS)
    return (
        f"WITH room AS ({room_sql}), stored AS ("  # noqa: S608
        f"INSERT INTO {table(Message)} ({columns}) SELECT room.{column(Room, 'id')}, %s, %s, %s, %s, %s, %s"
        f" FROM room WHERE {condition} RETURNING {column(Message, 'id')}) "
        f"SELECT {returned}, room.resent, (SELECT {column(Message, 'id')} FROM stored) FROM room"
    )


def _message_send(sql: str, params: list) -> tuple[Room, int | None] | None:
    """Runs a _message_send_sql statement: the room (with `resent`) and the stored message's id."""
    found = _room_row(sql, params)
    return (found[0], found[1][0]) if found else None


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
        won = Room.objects.filter(pk=room_id, status=Room.Status.PENDING, site_id__in=operator.site_ids).update(
            status=Room.Status.ACTIVE, operator=operator, accepted_at=now
        )
        room = _visible_room(room_id=room_id, operator=operator)
        if not won:
            if room.status == Room.Status.ACTIVE and room.operator_id == operator.pk:
                return room
            raise RoomTaken("another operator has taken this request")
        events.room_changed(room, visitor=room.visitor, pooled=True)
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
        room = _new_room(
            visitor=visitor,
            now=now,
            status=Room.Status.ACTIVE,
            operator=operator,
            accepted_at=now,
            visitor_in_room=False,
        )
        events.room_changed(room, visitor=visitor, pooled=False)
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
        return room


def message_send_by_operator(*, room_id: int, operator: Operator, body: str, client_id: str = "") -> Message:
    if connection.vendor in ONE_STATEMENT_VENDORS:
        message = _message_new(
            sender=Message.Sender.OPERATOR, operator=operator, body=body, client_id=client_id, at=timezone.now()
        )
        sql = _message_send_sql(connection.vendor, by_visitor=False, resend=bool(client_id))
        room_params = [client_id, room_id] if client_id else [room_id]
        sent = _message_send(sql, [*room_params, *_message_params(message)[1:], operator.pk, list(operator.site_ids)])
        room, pk = sent or (None, None)
        # The statement stored the message only if none of these hold, in this order.
        _check_own(room, operator)
        if room.resent is not None:
            return _relay_again(Message.objects.get(pk=room.resent), room)
        if room.status == Room.Status.EXPIRED:
            raise RoomExpired("this room has expired")
        message.room = room
        events.message_sent(_message_stored(message, pk), room)
        return message
    with transaction.atomic():
        # Locked: see _lock_live_room.
        room = _lock_own_room(room_id=room_id, operator=operator, resent_of=client_id)
        # Before the expiry check: a resend after a lost ack is acknowledged even
        # when the room has expired since.
        if room.resent is not None:
            return _relay_again(Message.objects.get(pk=room.resent), room)
        if room.status == Room.Status.EXPIRED:
            raise RoomExpired("this room has expired")
        return _message_create(
            room=room,
            sender=Message.Sender.OPERATOR,
            operator=operator,
            body=body,
            client_id=client_id,
            at=timezone.now(),
        )


# Expiry ----------------------------------------------------------------------


def rooms_expire(rooms: QuerySet[Room], *, reason: str, now: datetime, skip_locked: bool = False) -> list[Room]:
    """Expire the live rooms of a queryset, each exactly once however many sweeps race.

    A row another transaction holds is waited for (a message being written, a close),
    then taken only if still live. With skip_locked it is skipped instead, for callers
    that come back to it (the sweep's closing rooms); a visitor or operator who is
    released once must not leave a room behind."""
    with transaction.atomic():
        due = list(
            rooms.filter(status__in=Room.LIVE)
            .select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("operator__user", "visitor")
            .order_by("pk")  # one locking order for every caller: no deadlock between them
        )
        if not due:
            return []
        Room.objects.filter(pk__in=[room.pk for room in due]).update(
            status=Room.Status.EXPIRED, reason=reason, ended_at=now
        )
        for room in due:
            was_pending = room.status == Room.Status.PENDING
            room.status, room.reason, room.ended_at = Room.Status.EXPIRED, reason, now
            events.room_changed(room, visitor=room.visitor, pooled=was_pending)
        return due


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
