"""Visitor arrival, page views and leaving the site."""

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime

import redis
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.utils import timezone

from chat import events
from chat.models import Room
from chat.selectors import last_room_id, live_room, room_history
from chat.services import rooms_expire
from infra.errors import NotAllowed, NotFound
from infra.prepared import PreparedInsert, PreparedUpdate

from .models import PageView, Site, Visitor, hash_token
from .origins import parse_origins
from .presence import visitor_presence
from .selectors import site_is_owned_by, sites_visible_to
from .visits import FLUSH_BATCH, PageViewEntry, visits

logger = logging.getLogger(__name__)

# Every navigation (hello, page) runs these in the ORM, one implementation for SQLite and
# PostgreSQL: a few short statements, where the page view used to be hand-built SQL per
# database (docs/architecture.md, "One path per rule").


def visitor_identify(*, site: Site, token: str | None) -> tuple[Visitor, str]:
    """The visitor a token names on this site; an unknown or foreign token starts a new one."""
    if token:
        visitor = Visitor.objects.filter(token_hash=hash_token(token), site=site).first()
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
    token_hash = hash_token(token)
    Visitor.objects.filter(pk=visitor_id).update(token_hash=token_hash)
    # The visit's state in Redis checks a hello's token too (visitors/visits.py).
    transaction.on_commit(lambda: visits.retoken(visitor_id, token_hash))
    return token


def visitor_arrive(*, visitor: Visitor, page: dict | None = None) -> tuple[Visitor, Room | None]:
    """A socket of the visitor opened (presence already records it): online, if they were not.

    With `page` (`url`, `title`, `referrer`: a hello that carries its page) the arrival is
    that page view and one `visitor` event (see _view_page).

    One conditional UPDATE and no transaction: a visitor already online (a new page, a new
    tab: nearly every hello) costs no write. A visitor the sweep has just let go is marked
    online again, here or by the sweep (visitors_leave checks presence again after its commit).
    The live room is read after the UPDATE, so it is the one after any sweep it waited for."""
    if page is not None:
        return _view_page(visitor_id=visitor.pk, **page)
    now = timezone.now()
    came_back = Visitor.objects.filter(pk=visitor.pk, online=False).update(
        online=True, since=now, last_seen=now, pages=0
    )
    room = live_room(visitor_id=visitor.pk)
    if came_back:
        visitor.online, visitor.since, visitor.last_seen, visitor.pages = True, now, now, 0
        events.visitor_changed(visitor, room)
    return visitor, room


def _page_viewed(
    *, visitor_id: int, url: str, title: str, referrer: str, now: datetime, token_hash: str | None = None
) -> Visitor | None:
    """The visitor's row and the page view, committed together; the row read back with the ids
    of their live and newest rooms (one SELECT). None if there is no such visitor (or the
    token hash is no longer theirs).

    The UPDATE's right-hand sides see the row as it is when the UPDATE runs (after any sweep
    it waited for), so a visitor not online starts a new visit here: `since` is now, first page."""
    visitors = Visitor.objects.filter(pk=visitor_id)
    if token_hash is not None:
        visitors = visitors.filter(token_hash=token_hash)
    with transaction.atomic():
        changed = visitors.update(
            since=Case(When(online=True, then=F("since")), default=Value(now)),
            pages=Case(When(online=True, then=F("pages") + 1), default=Value(1)),
            online=True,
            url=url,
            title=title,
            referrer=referrer,
            last_seen=now,
        )
        if not changed:
            return None
        PageView.objects.create(visitor_id=visitor_id, url=url, title=title, referrer=referrer, at=now)
    rooms = Room.objects.filter(visitor_id=OuterRef("pk")).values("pk")
    return (
        Visitor.objects.filter(pk=visitor_id)
        .annotate(
            live_room_id=Subquery(rooms.filter(status__in=Room.LIVE)[:1]),
            last_room_id=Subquery(rooms.order_by("-pk")[:1]),
        )
        .first()
    )


def visitor_page_view(*, visitor_id: int, url: str, title: str, referrer: str) -> Visitor:
    """The visitor is now on this page (R1): their row and the page view (one transaction),
    read back with their live room's id; the room itself only for a visitor who has one, for
    the panel's event."""
    return _view_page(visitor_id=visitor_id, url=url, title=title, referrer=referrer)[0]


def _view_page(
    *, visitor_id: int, url: str, title: str, referrer: str, token_hash: str | None = None
) -> tuple[Visitor, Room | None]:
    """visitor_page_view, with the live room. A visitor who was not online is marked online, as
    a new visit: a hello carrying its page arrives by it (visitor_arrive). The visitor returned
    has `last_room_id` too, their newest room's id. With `token_hash`, only if it is still the
    visitor's (NotFound otherwise)."""
    visitor = _page_viewed(
        visitor_id=visitor_id, url=url, title=title, referrer=referrer, now=timezone.now(), token_hash=token_hash
    )
    if visitor is None:
        raise NotFound("no such visitor")
    room_id = visitor.live_room_id
    room = live_room(visitor_id=visitor_id, room_id=room_id) if room_id else None
    events.visitor_changed(visitor, room)
    # The visit's next pages are Redis's (visitors/visits.py); without Redis they come here.
    try:
        visits.fill(visitor, live_room_id=room.pk if room else None, last_room_id=visitor.last_room_id)
    except redis.RedisError:
        logger.warning("could not keep visitor %s's visit in Redis", visitor_id, exc_info=True)
    return visitor, room


def page_views_flush(*, wait: bool = False) -> int:
    """The page views waiting in Redis, stored (R1): a few statements for each FLUSH_BATCH of
    them, on either database. Run by Celery beat every WP_PAGE_VIEW_FLUSH_INTERVAL and at the
    start of each sweep; one flush at a time (`wait`: for the one running to finish, else
    return at once). Returns how many were stored.

    A view is taken off the stream only after its transaction commits: a flush that dies
    stores nothing, and the next one stores it (docs/reliability.md)."""
    lock = visits.flush_lock(wait=wait)
    if lock is None:
        return 0
    try:
        return page_views_drain()
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            logger.warning("the page view flush outlived its lock")


def page_views_drain() -> int:
    """page_views_flush's work, by the holder of the flush lock."""
    stored = 0
    while entries := visits.waiting():
        _page_views_store(entries)
        visits.stored(entries)
        stored += len(entries)
        if len(entries) < FLUSH_BATCH:
            break
    return stored


# The flush's two statements, compiled once and each run for the whole batch with one
# executemany (infra/prepared.py): bulk_create and bulk_update compile a statement that grows
# with the batch, bulk_update with a CASE per row and field (0.9 s of CPU for 600 views).
_page_view_insert = PreparedInsert(PageView, ["visitor", "url", "title", "referrer", "at"])
_visitor_page_update = PreparedUpdate(Visitor, ["url", "title", "referrer", "last_seen", "pages"])


def _page_views_store(entries: list[PageViewEntry]) -> None:
    """The page views, and each visitor's row at their last one (the panel and the API show
    Redis's state over it while the visit is in progress). Views of a visitor erased since
    are dropped with them."""
    latest = {entry.visitor_id: entry for entry in entries}  # the stream is in time order
    with transaction.atomic():
        existing = set(Visitor.objects.filter(pk__in=list(latest)).values_list("pk", flat=True))
        _page_view_insert.save_many(
            [
                PageView(visitor_id=e.visitor_id, url=e.url, title=e.title, referrer=e.referrer, at=e.at)
                for e in entries
                if e.visitor_id in existing
            ]
        )
        _visitor_page_update.save_many(
            [
                Visitor(pk=e.visitor_id, url=e.url, title=e.title, referrer=e.referrer, last_seen=e.at, pages=e.pages)
                for e in latest.values()
                if e.visitor_id in existing
            ]
        )


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
    # Their next page is a new visit, recorded by the database (visitors/visits.py).
    visits.end(ids)
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
            site.allowed_origins = _stored_origins("\n".join(allowed_origins))
            changed.append("allowed_origins")
        if changed:
            site.save(update_fields=changed)
        return site


def site_save(*, site: Site) -> Site:
    """A site created or changed in admin (validated by its form)."""
    site.allowed_origins = _stored_origins(site.allowed_origins)
    site.save()
    return site


def _stored_origins(text: str) -> str:
    # Stored as browsers send Origin, each once, so every line can match (visitors/origins.py).
    return "\n".join(parse_origins(text))
