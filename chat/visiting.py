"""A visitor's visit as operators see it: arriving, viewing pages, being welcomed on a
socket (their live room, their history) and leaving the site, their room expiring (R1, R3).
The visit's next pages, while it is in Redis: visitors/visits.py."""

import logging
from collections.abc import Iterable
from datetime import datetime

import redis
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from infra.errors import Invalid, NotFound
from visitors.clients import client_of, utm_of
from visitors.models import PageView, Visitor, hash_token
from visitors.presence import visitor_presence
from visitors.visits import visits

from . import events
from .models import Room
from .selectors import last_room_id, live_room, visitor_room_history
from .services import rooms_expire

logger = logging.getLogger(__name__)

# Every navigation (hello, page) runs these in the ORM, one implementation for SQLite and
# PostgreSQL: a few short statements, where the page view used to be hand-built SQL per
# database (docs/architecture.md, "One path per rule").


def visitor_arrive(
    *, visitor: Visitor, page: dict | None = None, client: dict | None = None
) -> tuple[Visitor, Room | None]:
    """A socket of the visitor opened (presence already records it): online, if they were not.

    With `page` (`url`, `title`, `referrer`: a hello that carries its page) the arrival is
    that page view and one `visitor` event (see _view_page). `client`: the socket's
    `user_agent` and `accept_language`, read only if this starts a visit (see _visit_start).

    One conditional UPDATE and no transaction: a visitor already online (a new page, a new
    tab: nearly every hello) costs no write. A visitor the sweep has just let go is marked
    online again, here or by the sweep (visitors_leave checks presence again after its commit).
    The live room is read after the UPDATE, so it is the one after any sweep it waited for."""
    if page is not None:
        return _view_page(visitor_id=visitor.pk, client=client, **page)
    now = timezone.now()
    # No page yet: the visit's landing page is the first one reported (_page_viewed).
    started = {**_client_fields(client), "landing_url": "", "landing_referrer": "", **utm_of("")}
    came_back = Visitor.objects.filter(pk=visitor.pk, online=False).update(
        online=True, since=now, last_seen=now, pages=0, visits=F("visits") + 1, **started
    )
    room = live_room(visitor_id=visitor.pk)
    if came_back:
        visitor.online, visitor.since, visitor.last_seen, visitor.pages = True, now, now, 0
        visitor.visits += 1  # as read a moment ago (identified), not read again
        for field, value in started.items():
            setattr(visitor, field, value)
        events.visitor_changed(visitor, room)
    return visitor, room


def _client_fields(client: dict | None) -> dict[str, str]:
    """Browser, OS, device type and language from a socket's headers (visitors/clients.py), and
    its client address: parsed once a visit, when the database records its start."""
    if client is None:
        return {}
    fields = client_of(user_agent=client.get("user_agent"), accept_language=client.get("accept_language"))
    # The address the visit comes from (issue 25: an operator may block it), as the socket saw it.
    return {**fields, "last_address": client.get("address")}


def _visit_start(*, url: str, referrer: str, client: dict | None) -> dict:
    """The UPDATE's values that a page starting a visit sets and a page of a visit in progress
    keeps (the right-hand sides see the row as the UPDATE finds it): the visit count, the
    landing page, its referrer and UTM parameters, who the browser says the visitor is.

    The landing page is also set by the first page of a visit that began without one (a hello
    without its page)."""
    new_visit = Q(online=False)
    landing = new_visit | Q(landing_url="")
    field = Visitor._meta.get_field
    kept = {"visits": Case(When(new_visit, then=F("visits") + 1), default=F("visits"), output_field=field("visits"))}
    for name, value in _client_fields(client).items():
        kept[name] = Case(
            When(new_visit, then=Value(value, output_field=field(name))), default=F(name), output_field=field(name)
        )
    landing_values = {"landing_url": url, "landing_referrer": referrer, **utm_of(url)}
    for name, value in landing_values.items():
        kept[name] = Case(When(landing, then=Value(value)), default=F(name), output_field=field(name))
    return kept


def _page_viewed(
    *,
    visitor_id: int,
    url: str,
    title: str,
    referrer: str,
    now: datetime,
    token_hash: str | None = None,
    client: dict | None = None,
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
            **_visit_start(url=url, referrer=referrer, client=client),
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


def visitor_page_view(*, visitor_id: int, url: str, title: str, referrer: str, client: dict | None = None) -> Visitor:
    """The visitor is now on this page (R1): their row and the page view (one transaction),
    read back with their live room's id; the room itself only for a visitor who has one, for
    the panel's event. `client`: as for visitor_arrive."""
    return _view_page(visitor_id=visitor_id, url=url, title=title, referrer=referrer, client=client)[0]


def _view_page(
    *,
    visitor_id: int,
    url: str,
    title: str,
    referrer: str,
    token_hash: str | None = None,
    client: dict | None = None,
) -> tuple[Visitor, Room | None]:
    """visitor_page_view, with the live room. A visitor who was not online is marked online, as
    a new visit: a hello carrying its page arrives by it (visitor_arrive). The visitor returned
    has `last_room_id` too, their newest room's id. With `token_hash`, only if it is still the
    visitor's (NotFound otherwise)."""
    visitor = _page_viewed(
        visitor_id=visitor_id,
        url=url,
        title=title,
        referrer=referrer,
        now=timezone.now(),
        token_hash=token_hash,
        client=client,
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


def visitor_welcome(
    *, visitor: Visitor, page: dict | None, history: int | None, client: dict | None = None
) -> tuple[Visitor, Room | None, list[dict] | None]:
    """A `hello` answered: the arrival (on its page, if it carries one), the live room, and the
    messages after `history` (None: not asked for). With the page, the arrival's statement has
    read the visitor's last room: one who never chatted (most) costs the history no query."""
    visitor, room = visitor_arrive(visitor=visitor, page=page, client=client)
    return visitor, room, _history_for(visitor, history=history, page_viewed=page is not None)


def visitor_welcome_known(
    *, visitor_id: int, token: str, page: dict, history: int | None, client: dict | None = None
) -> tuple[Visitor, Room | None, list[dict] | None] | None:
    """visitor_welcome for a visitor whose token a process has identified before (a new page
    of theirs: nearly every hello), without reading them first: the page view's statement
    checks that the token is still theirs. None if it is not (rotated, the visitor erased):
    nothing was written, and the token is to be identified anew."""
    try:
        visitor, room = _view_page(visitor_id=visitor_id, token_hash=hash_token(token), client=client, **page)
    except NotFound:
        return None
    return visitor, room, _history_for(visitor, history=history, page_viewed=True)


def _history_for(visitor: Visitor, *, history: int | None, page_viewed: bool) -> list[dict] | None:
    if history is None:
        return None
    room_id = visitor.last_room_id if page_viewed else last_room_id(visitor_id=visitor.pk)
    return visitor_room_history(visitor_id=visitor.pk, room_id=room_id, after=history) if room_id else []


# The `details` frame's limits: the columns'.
NAME_LENGTH = Visitor._meta.get_field("given_name").max_length
EMAIL_LENGTH = Visitor._meta.get_field("email").max_length


def email_check(email: str) -> None:
    """Invalid for an address that is none (Django's validator: what its EmailField stores); ''
    is no address, and fine."""
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid("'email' is not an email address") from None


def visitor_details_save(*, visitor_id: int, name: str, email: str) -> Visitor:
    """The visitor's name and email address (R16, the `details` frame), either maybe empty:
    operators see them on the visitor and on their request, whose answers are mailed to the
    address once they have left the site (chat/offline.py). Raises Invalid for an address that
    is none (Django's validator: what its EmailField stores)."""
    email_check(email)
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
        if (visitor.given_name, visitor.email) == (name, email):
            return visitor
        visitor.given_name, visitor.email = name, email
        visitor.save(update_fields=["given_name", "email"])
        # The panel's line shows the page the visit is on now, which Redis has (visits.py).
        visits.overlay([visitor])
        room = live_room(visitor_id=visitor_id)
        if room is not None:
            events.room_changed(room, visitor=visitor, pooled=room.status == Room.Status.PENDING)
        else:
            events.visitor_changed(visitor, None)
        events.details_webhook(visitor, room)
        transaction.on_commit(lambda: _keep_contact(visitor))
    return visitor


def _keep_contact(visitor: Visitor) -> None:
    try:
        visits.contact(visitor.pk, name=visitor.given_name, email=visitor.email)
    except redis.RedisError:
        logger.warning("could not keep visitor %s's details in Redis", visitor.pk, exc_info=True)


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
        # Their rooms expire (R3), but not an offline request (R16), taken or not: it is there to
        # be answered by email (chat/offline.py).
        rooms_expire(Room.objects.filter(visitor_id__in=ids, offline_at=None), reason=Room.Reason.VISITOR_LEFT, now=now)
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
