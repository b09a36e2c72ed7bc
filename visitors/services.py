"""Visitors: who they are (their token), the page views waiting in Redis, and their sites' settings.
Their arrival, pages and leaving, which touch rooms and publish chat's events: chat/visiting.py."""

import logging
import secrets
from collections.abc import Iterable

import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from infra.errors import NotAllowed, NotFound, TooLong
from infra.prepared import PreparedInsert, PreparedUpdate

from .models import PageView, Site, Visitor, hash_token
from .origins import parse_origins
from .selectors import site_is_owned_by, sites_visible_to
from .verified import clean_attributes, clean_event_name, new_identity_secret, verified_token
from .visits import FLUSH_BATCH, PageViewEntry, visits

logger = logging.getLogger(__name__)


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
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().only("external_id", "token_generation").get(pk=visitor_id)
        if visitor.external_id:
            # A verified visitor's token is derived (visitors/verified.py): one rotation more, and
            # every device of theirs gets the new one when it identifies again.
            generation = visitor.token_generation + 1
            token = verified_token(visitor_id=visitor_id, generation=generation)
            Visitor.objects.filter(pk=visitor_id).update(token_hash=hash_token(token), token_generation=generation)
        else:
            token = secrets.token_urlsafe(32)
            Visitor.objects.filter(pk=visitor_id).update(token_hash=hash_token(token))
    token_hash = hash_token(token)
    # The visit's state in Redis checks a hello's token too (visitors/visits.py).
    transaction.on_commit(lambda: visits.retoken(visitor_id, token_hash))
    return token


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


def visitor_note_update(*, visitor_id: int, site_ids: Iterable[int], note: str, by: str) -> Visitor:
    """An operator of one of `site_ids` writes the note on a visitor of theirs (issue 23): what
    colleagues see of them next time, replaced whole. NotFound for a visitor of another site."""
    now = timezone.now()
    changed = Visitor.objects.filter(pk=visitor_id, site_id__in=list(site_ids)).update(
        note=note, note_by=by if note else "", note_at=now if note else None
    )
    visitor = Visitor.objects.filter(pk=visitor_id).first() if changed else None
    if visitor is None:
        raise NotFound("no such visitor")
    return visitor


# What the site says of its visitor (issue 25, the snippet's API) ----------------


def visitor_attributes_update(*, visitor_id: int, attributes: dict) -> Visitor:
    """The site's attributes of the visitor, merged into those they have (null removes one);
    WP_MAX_VISITOR_ATTRIBUTES keys at most in all. Invalid or TooLong, and nothing changes."""
    attributes = clean_attributes(attributes)
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
        merged = {**visitor.attributes, **attributes}
        merged = {key: value for key, value in merged.items() if value is not None}
        if len(merged) > settings.WP_MAX_VISITOR_ATTRIBUTES:
            raise TooLong(f"a visitor has {settings.WP_MAX_VISITOR_ATTRIBUTES} attributes at most")
        if merged != visitor.attributes:
            visitor.attributes = merged
            visitor.save(update_fields=["attributes"])
    return visitor


def visitor_event_track(*, visitor_id: int, name: str) -> Visitor:
    """An event the site tracked (`track`): kept with its time, the last WP_VISITOR_EVENTS_KEPT."""
    name = clean_event_name(name)
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor_id)
        kept = settings.WP_VISITOR_EVENTS_KEPT
        visitor.events = [*visitor.events, {"name": name, "at": timezone.now().isoformat()}][-kept:]
        visitor.save(update_fields=["events"])
    return visitor


# Site settings (site owners, through the API) -------------------------------


def site_rotate_identity_secret(*, site_id: int, user: AbstractBaseUser | None = None) -> str:
    """A new identity secret for the site (issue 25); the old one verifies nobody from now on.
    With `user`, only one of the site's owners may (admin checks its own way). Visitors verified
    before stay verified, and their tokens keep working."""
    with transaction.atomic():
        sites = Site.objects.select_for_update().filter(pk=site_id)
        if user is not None:
            sites = sites.filter(pk__in=sites_visible_to(user=user).values("pk"))
        site = sites.first()
        if site is None:
            raise NotFound("no such site")
        if user is not None and not site_is_owned_by(site=site, user=user):
            raise NotAllowed("only the site's owners may change it")
        site.identity_secret = new_identity_secret()
        site.save(update_fields=["identity_secret"])
    return site.identity_secret


def site_update(
    *,
    site_id: int,
    user: AbstractBaseUser,
    greeting: str | None = None,
    color: str | None = None,
    allowed_origins: list[str] | None = None,
    max_chats_per_operator: int | None = None,
    routing: str | None = None,
    prechat: str | None = None,
    transcripts: bool | None = None,
    language: str | None = None,
    texts: dict | None = None,
    launcher_offset: int | None = None,
    timezone_name: str | None = None,
    hours: dict | None = None,
    closed_days: list | None = None,
    keep_page_views_days: int | None = None,
    keep_conversations_days: int | None = None,
    keep_idle_visitors_days: int | None = None,
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
        # Issue 23: the cap, the routing and the pre-chat form apply to the next request; the
        # transcripts to the next visitor asking.
        chat_settings = {
            "max_chats_per_operator": max_chats_per_operator,
            "routing": routing,
            "prechat": prechat,
            "transcripts": transcripts,
            # Issue 24: the snippet's language, words and button, from the next page on.
            "language": language,
            "texts": texts,
            "launcher_offset": launcher_offset,
            # Issue 25: the hours apply at the next sweep, which tells the snippets.
            "timezone": timezone_name,
            "hours": hours,
            "closed_days": closed_days,
            # Issue 25: what the next retention run deletes (chat/retention.py).
            "keep_page_views_days": keep_page_views_days,
            "keep_conversations_days": keep_conversations_days,
            "keep_idle_visitors_days": keep_idle_visitors_days,
        }
        for name, value in chat_settings.items():
            if value is not None:
                setattr(site, name, value)
                changed.append(name)
        if changed:
            site.save(update_fields=changed)
        return site


def site_save(*, site: Site) -> Site:
    """A site created or changed in admin (validated by its form). A change leaves out whether
    its operators are online: the form read it a moment ago, and chat.availability may have
    changed it since."""
    site.allowed_origins = _stored_origins(site.allowed_origins)
    if site._state.adding:
        site.save()
    else:
        site.save(update_fields=[f.name for f in Site._meta.concrete_fields if f.editable and not f.primary_key])
    return site


def _stored_origins(text: str) -> str:
    # Stored as browsers send Origin, each once, so every line can match (visitors/origins.py).
    return "\n".join(parse_origins(text))
