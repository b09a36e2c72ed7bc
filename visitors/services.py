"""Visitor arrival, page views and leaving the site."""

import functools
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from chat import events
from chat.errors import NotAllowed, NotFound
from chat.models import Room
from chat.selectors import last_room_id, last_room_id_sql, live_room, live_room_id, live_room_id_sql, room_history
from chat.services import rooms_expire
from whitepanel.statements import ONE_STATEMENT_VENDORS, column, quoted, table

from .models import PageView, Site, Visitor, hash_token
from .presence import visitor_presence
from .selectors import site_is_owned_by, sites_visible_to

# The statements of every navigation (hello, page) are written once per database, with the
# names from the model: without the ORM compiling them each time, the database threads' share
# of a daphne process's time fell from 36 % to 20 % (profile at 800 visitors, docs/benchmarks.md).


@functools.cache
def _visitor_columns(vendor: str) -> str:
    return ", ".join(quoted(field.column) for field in Visitor._meta.concrete_fields)


_VISITOR_FIELDS = [field.attname for field in Visitor._meta.concrete_fields]


def _visitor_from(row: tuple | None) -> Visitor | None:
    """A visitor from a row of _visitor_columns (Django's own converters, no raw() queryset)."""
    if row is None:
        return None
    values = list(row[: len(_VISITOR_FIELDS)])
    for index, converters, expression in _visitor_converters(connection.ops):
        for converter in converters:
            values[index] = converter(values[index], expression, connection)
    return Visitor.from_db(connection.alias, _VISITOR_FIELDS, values)


@functools.lru_cache(maxsize=64)
def _visitor_converters(ops) -> list:
    """What turns a column's database value into the field's (SQLite's dates, say), for the
    connection of one thread."""
    columns = (field.get_col(Visitor._meta.db_table) for field in Visitor._meta.concrete_fields)
    connection = ops.connection
    converters = [
        (i, connection.ops.get_db_converters(col) + col.get_db_converters(connection), col)
        for i, col in enumerate(columns)
    ]
    return [entry for entry in converters if entry[1]]


@functools.cache
def _identify_sql(vendor: str) -> str:
    return (
        f"SELECT {_visitor_columns(vendor)} FROM {table(Visitor)} "  # noqa: S608
        f"WHERE {column(Visitor, 'token_hash')} = %s AND {column(Visitor, 'site')} = %s LIMIT 1"
    )


def visitor_identify(*, site: Site, token: str | None) -> tuple[Visitor, str]:
    """The visitor a token names on this site; an unknown or foreign token starts a new one."""
    if token:
        with connection.cursor() as cursor:
            cursor.execute(_identify_sql(connection.vendor), [hash_token(token), site.pk])
            visitor = _visitor_from(cursor.fetchone())
        if visitor is not None:
            return visitor, token
    token = secrets.token_urlsafe(32)  # 256 bits
    now = timezone.now()
    visitor = Visitor.objects.create(site=site, token_hash=hash_token(token), first_seen=now, since=now, last_seen=now)
    return visitor, token


def visitor_rotate_token(*, visitor_id: int) -> str:
    """A new token for the visitor; the old one names nobody from now on (a hello with it
    starts a new visitor). Sockets already open stay the visitor's."""
    token = secrets.token_urlsafe(32)
    Visitor.objects.filter(pk=visitor_id).update(token_hash=hash_token(token))
    return token


def visitor_arrive(*, visitor: Visitor, page: dict | None = None) -> tuple[Visitor, Room | None]:
    """A socket of the visitor opened (presence already records it): online, if they were not.

    With `page` (`url`, `title`, `referrer`: a hello that carries its page) the arrival is
    that page view, one statement (two on SQLite) and one `visitor` event, where a hello and
    then a page frame took two trips to a database thread: see _view_page.

    One conditional UPDATE and no transaction: a visitor already online (a new page, a new
    tab: nearly every hello) costs no write. A visitor the sweep has just let go is marked
    online again, here or by the sweep (visitor_leave checks presence again after its commit).

    On PostgreSQL the UPDATE and the read of the live room's id are one statement. Its
    snapshot is taken before any wait for that row, so a visitor who came back (the one
    case where the sweep may have just ended their rooms) has their room read again."""
    if page is not None:
        return _view_page(visitor_id=visitor.pk, **page)
    now = timezone.now()
    when = connection.ops.adapt_datetimefield_value(now)
    params = [True, when, when, 0, visitor.pk, False]
    with connection.cursor() as cursor:
        if connection.vendor in ONE_STATEMENT_VENDORS:
            cursor.execute(_arrived_sql(connection.vendor), [*params, visitor.pk])
            came_back, room_id = cursor.fetchone()
            if came_back:  # read again: the statement's room_id may predate a wait for the row
                room_id = live_room_id(visitor_id=visitor.pk)
        else:
            cursor.execute(_arrive_sql(connection.vendor), params)
            came_back, room_id = cursor.rowcount, live_room_id(visitor_id=visitor.pk)
    room = live_room(visitor_id=visitor.pk, room_id=room_id) if room_id else None
    if came_back:
        visitor.online, visitor.since, visitor.last_seen, visitor.pages = True, now, now, 0
        events.visitor_changed(visitor, room)
    return visitor, room


@functools.cache
def _arrive_sql(vendor: str) -> str:
    names = ("online", "since", "last_seen", "pages", "id")
    online, since, last_seen, pages, pk = (column(Visitor, name) for name in names)
    return (
        f"UPDATE {table(Visitor)} SET {online} = %s, {since} = %s, {last_seen} = %s, {pages} = %s "  # noqa: S608
        f"WHERE {pk} = %s AND {online} = %s"
    )


@functools.cache
def _arrived_sql(vendor: str) -> str:
    """_arrive_sql and the live room's id in one statement (ONE_STATEMENT_VENDORS): the rows
    it changed (0 or 1), then the room's id or NULL. Params: _arrive_sql's, the visitor's id."""
    return (
        f"WITH arrived AS ({_arrive_sql(vendor)} RETURNING {column(Visitor, 'id')}) "  # noqa: S608
        f"SELECT (SELECT COUNT(*) FROM arrived), ({live_room_id_sql(vendor)})"
    )


@functools.cache
def _page_viewed_sql(vendor: str, *, checking_token: bool = False) -> str:
    # One statement that reads what it writes (PostgreSQL, SQLite >= 3.35): the right-hand
    # sides see the row as it was, so a visitor not online starts a new visit here. It
    # returns the visitor's live room id too (`live_room_id`): most have none; and their
    # newest room's id, whose messages a hello asking for history gets (most have none either).
    # `checking_token`: only if the row's token hash is still the one given (one more param).
    visitors = table(Visitor)
    room_id = live_room_id_sql(vendor, f"{visitors}.{column(Visitor, 'id')}")
    last_room_id = last_room_id_sql(vendor, f"{visitors}.{column(Visitor, 'id')}")
    return (
        f"UPDATE {visitors} SET "  # noqa: S608 - names from the model, values as parameters
        "since = CASE WHEN online THEN since ELSE %s END, "
        "pages = CASE WHEN online THEN pages + 1 ELSE 1 END, "
        "online = %s, url = %s, title = %s, referrer = %s, last_seen = %s "
        f"WHERE {column(Visitor, 'id')} = %s "
        + (f"AND {column(Visitor, 'token_hash')} = %s " if checking_token else "")
        + f"RETURNING {_visitor_columns(vendor)}, "
        f"({room_id}) AS live_room_id, ({last_room_id}) AS last_room_id"
    )


def _page_view_columns() -> str:
    return ", ".join(column(PageView, name) for name in ("visitor", "url", "title", "referrer", "at"))


@functools.cache
def _page_view_insert_sql(vendor: str) -> str:
    return (
        f"INSERT INTO {table(PageView)} ({_page_view_columns()}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s)"
    )


@functools.cache
def _page_viewed_logged_sql(vendor: str, *, checking_token: bool = False) -> str:
    """The visitor's row and the page view in one statement (ONE_STATEMENT_VENDORS): the
    view is made from the row the update returns, so it is stored only for a visitor that
    exists, and both commit together."""
    names = ("id", "url", "title", "referrer", "last_seen")
    return (
        f"WITH viewed AS ({_page_viewed_sql(vendor, checking_token=checking_token)}), "  # noqa: S608 - names from the models
        f"logged AS (INSERT INTO {table(PageView)} ({_page_view_columns()}) "
        f"SELECT {', '.join(column(Visitor, name) for name in names)} FROM viewed) "
        "SELECT * FROM viewed"
    )


def _page_viewed(
    *, visitor_id: int, url: str, title: str, referrer: str, now: datetime, token_hash: str | None = None
) -> Visitor | None:
    when = connection.ops.adapt_datetimefield_value(now)
    params = [when, True, url, title, referrer, when, visitor_id]
    checking_token = token_hash is not None
    if checking_token:
        params.append(token_hash)
    with connection.cursor() as cursor:
        if connection.vendor in ONE_STATEMENT_VENDORS:
            cursor.execute(_page_viewed_logged_sql(connection.vendor, checking_token=checking_token), params)
            row = cursor.fetchone()
        else:
            cursor.execute(_page_viewed_sql(connection.vendor, checking_token=checking_token), params)
            row = cursor.fetchone()
            if row is not None:
                cursor.execute(_page_view_insert_sql(connection.vendor), [visitor_id, url, title, referrer, when])
        visitor = _visitor_from(row)
        if visitor is None:
            return None
        visitor.live_room_id, visitor.last_room_id = row[-2:]
    return visitor


def visitor_page_view(*, visitor_id: int, url: str, title: str, referrer: str) -> Visitor:
    """The visitor is now on this page (R1). No transaction: the visitor's row (with their
    live room's id) and the page view, one statement on PostgreSQL and two on SQLite; the
    room itself only for a visitor who has one, for the panel's event."""
    return _view_page(visitor_id=visitor_id, url=url, title=title, referrer=referrer)[0]


def _view_page(
    *, visitor_id: int, url: str, title: str, referrer: str, token_hash: str | None = None
) -> tuple[Visitor, Room | None]:
    """visitor_page_view, with the live room. The statement marks a visitor who was not online
    online, as a new visit (`since` is now, first page): a hello carrying its page arrives by it
    (visitor_arrive). The visitor returned has `last_room_id` too, their newest room's id.
    With `token_hash`, only if it is still the visitor's (NotFound otherwise)."""
    now = timezone.now()
    visitor = _page_viewed(
        visitor_id=visitor_id, url=url, title=title, referrer=referrer, now=now, token_hash=token_hash
    )
    if visitor is None:
        raise NotFound("no such visitor")
    room_id = visitor.live_room_id
    if visitor.since == now and connection.vendor in ONE_STATEMENT_VENDORS:
        # A new visit, which may follow the sweep's commit that the statement waited for: its
        # room id may predate that commit (visitor_arrive).
        room_id = live_room_id(visitor_id=visitor_id)
    room = live_room(visitor_id=visitor_id, room_id=room_id) if room_id else None
    events.visitor_changed(visitor, room)
    return visitor, room


def visitor_welcome(
    *, visitor: Visitor, page: dict | None, history: int | None
) -> tuple[Visitor, Room | None, list[dict] | None]:
    """A `hello` answered: the arrival (on its page, if it carries one), the live room, and the
    messages after `history` (None: not asked for). With the page, the arrival's statement has
    read the visitor's last room: one who never chatted (most) costs the history no query."""
    visitor, room = visitor_arrive(visitor=visitor, page=page)
    return visitor, room, _history_for(visitor, history=history, page_viewed=page is not None)


def visitor_welcome_known(
    *, visitor_id: int, token: str, page: dict, history: int | None
) -> tuple[Visitor, Room | None, list[dict] | None] | None:
    """visitor_welcome for a visitor whose token a process has identified before (a new page
    of theirs: nearly every hello), without reading them first: the page view's statement
    checks that the token is still theirs. None if it is not (rotated, the visitor erased):
    nothing was written, and the token is to be identified anew."""
    try:
        visitor, room = _view_page(visitor_id=visitor_id, token_hash=hash_token(token), **page)
    except NotFound:
        return None
    return visitor, room, _history_for(visitor, history=history, page_viewed=True)


def _history_for(visitor: Visitor, *, history: int | None, page_viewed: bool) -> list[dict] | None:
    if history is None:
        return None
    room_id = visitor.last_room_id if page_viewed else last_room_id(visitor_id=visitor.pk)
    return room_history(room_id=room_id, after=history) if room_id else []


def visitor_leave(*, visitor_id: int, now: datetime) -> bool:
    """The visitor has had no socket for VISITOR_TIMEOUT: gone from every panel, and
    their room expires whatever its state (R3). False if they were back already."""
    return bool(visitors_leave(visitor_ids=[visitor_id], now=now))


def visitors_leave(*, visitor_ids: Iterable[int], now: datetime) -> list[int]:
    """visitor_leave for several visitors at once: the ids of those who left.

    One transaction, one statement per table and one presence check for all of them: a
    campaign ending lets a thousand go in the same sweep, and one at a time (a transaction
    each) that took 7 s, late for R13 (docs/benchmarks.md)."""
    with transaction.atomic():
        # One locking order (by id) for every sweep: two sweeps racing wait, never deadlock.
        locked = list(Visitor.objects.select_for_update().filter(pk__in=list(visitor_ids), online=True).order_by("pk"))
        # Checked under the row locks: a visitor whose socket opened before this is seen here.
        connected = visitor_presence.connected_among([visitor.pk for visitor in locked])
        leaving = [visitor for visitor in locked if visitor.pk not in connected]
        if not leaving:
            return []
        ids = [visitor.pk for visitor in leaving]
        Visitor.objects.filter(pk__in=ids).update(online=False, last_seen=now)
        rooms_expire(Room.objects.filter(visitor_id__in=ids), reason=Room.Reason.VISITOR_LEFT, now=now)
        for visitor in leaving:
            visitor.online, visitor.last_seen = False, now
            events.visitor_gone(visitor)
    # A socket that opened after that check and before the commit found the visitor still
    # online: on PostgreSQL visitor_arrive's conditional UPDATE skips a row that does not
    # match in its snapshot without waiting for the lock, so it wrote nothing. Its presence
    # is in Redis by then: the visitor is marked online again here (once: whichever of the
    # two UPDATEs comes second matches no row).
    back = visitor_presence.connected_among(ids)
    for visitor in leaving:
        if visitor.pk in back:
            visitor_arrive(visitor=visitor)
    return ids


# Site settings (site owners, through the API) -------------------------------


def site_update(
    *,
    site_id: int,
    user: AbstractBaseUser,
    greeting: str | None = None,
    color: str | None = None,
    allowed_origins: list[str] | None = None,
) -> Site:
    """A site owner changes what the snippet shows and which origins may embed it.

    Live sockets keep their connection; a new origin list applies from the next handshake."""
    with transaction.atomic():
        site = sites_visible_to(user=user).select_for_update().filter(pk=site_id).first()
        if site is None:
            raise NotFound("no such site")
        if not site_is_owned_by(site=site, user=user):
            raise NotAllowed("only the site's owners may change it")
        changed = []
        if greeting is not None:
            site.greeting = greeting
            changed.append("greeting")
        if color is not None:
            site.color = color
            changed.append("color")
        if allowed_origins is not None:
            site.allowed_origins = "\n".join(allowed_origins)
            changed.append("allowed_origins")
        if changed:
            site.save(update_fields=changed)
        return site
