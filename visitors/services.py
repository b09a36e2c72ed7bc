"""Visitor arrival, page views and leaving the site."""

import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from chat import events
from chat.errors import NotAllowed, NotFound
from chat.models import Room
from chat.selectors import live_room
from chat.services import rooms_expire

from .models import PageView, Site, Visitor, hash_token
from .presence import visitor_presence
from .selectors import site_is_owned_by, sites_visible_to


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
    Visitor.objects.filter(pk=visitor_id).update(token_hash=hash_token(token))
    return token


def visitor_arrive(*, visitor: Visitor) -> tuple[Visitor, Room | None]:
    """A socket of the visitor opened (presence already records it): online, if they were not.

    One conditional UPDATE and no transaction: a sweep marking the visitor gone holds
    their row (visitor_leave), and the UPDATE waits for it and sees its commit. So a
    visitor the sweep has just let go is marked online again, and a visitor already
    online (a new page, a new tab: nearly every hello) costs no write."""
    now = timezone.now()
    came_back = Visitor.objects.filter(pk=visitor.pk, online=False).update(
        online=True, since=now, last_seen=now, pages=0
    )
    room = live_room(visitor_id=visitor.pk)
    if came_back:
        visitor.online, visitor.since, visitor.last_seen, visitor.pages = True, now, now, 0
        events.visitor_changed(visitor, room)
    return visitor, room


def _page_viewed(*, visitor_id: int, url: str, title: str, referrer: str, now: datetime) -> Visitor | None:
    # One statement that reads what it writes (PostgreSQL, SQLite >= 3.35): the right-hand
    # sides see the row as it was, so a visitor not online starts a new visit here.
    table = Visitor._meta.db_table
    columns = ", ".join(connection.ops.quote_name(field.column) for field in Visitor._meta.concrete_fields)
    when = connection.ops.adapt_datetimefield_value(now)
    visitors = Visitor.objects.raw(
        f"UPDATE {connection.ops.quote_name(table)} SET "  # noqa: S608 - names from the model, values as parameters
        "since = CASE WHEN online THEN since ELSE %s END, "
        "pages = CASE WHEN online THEN pages + 1 ELSE 1 END, "
        "online = %s, url = %s, title = %s, referrer = %s, last_seen = %s "
        f"WHERE {connection.ops.quote_name(Visitor._meta.pk.column)} = %s RETURNING {columns}",
        [when, True, url, title, referrer, when, visitor_id],
    )
    return next(iter(visitors), None)


def visitor_page_view(*, visitor_id: int, url: str, title: str, referrer: str) -> Visitor:
    """The visitor is now on this page (R1). Three statements, no transaction: the visitor's
    row, the page view, their room for the panel's event."""
    now = timezone.now()
    visitor = _page_viewed(visitor_id=visitor_id, url=url, title=title, referrer=referrer, now=now)
    if visitor is None:
        raise NotFound("no such visitor")
    PageView.objects.create(visitor_id=visitor_id, url=url, title=title, referrer=referrer, at=now)
    events.visitor_changed(visitor, live_room(visitor_id=visitor_id))
    return visitor


def visitor_leave(*, visitor_id: int, now: datetime) -> bool:
    """The visitor has had no socket for VISITOR_TIMEOUT: gone from every panel, and
    their room expires whatever its state (R3). False if they were back already."""
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(pk=visitor_id, online=True).first()
        # Checked under the row lock that visitor_arrive takes too: a visitor who
        # reconnects now is either seen here or marked online after this commits.
        if visitor is None or visitor_presence.is_connected(visitor_id):
            return False
        visitor.online, visitor.last_seen = False, now
        visitor.save(update_fields=["online", "last_seen"])
        rooms_expire(Room.objects.filter(visitor_id=visitor_id), reason=Room.Reason.VISITOR_LEFT, now=now)
        events.visitor_gone(visitor)
        return True


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
