"""A visitor's data on request (issue 25): erased, or exported as one JSON document, by the
owners of the visitor's site (admin and the API). docs/privacy.md says what is kept where.

Erasing ends the visitor's live room first, as an owner ending it in admin does (its operator
sees it end; nothing goes back to the pool: the visitor counts as gone), then deletes the
visitor with everything of theirs: rooms, messages, notes, attachments and their files, page
views, the webhooks' deliveries about them, and their state in Redis. An `Erasure` row
records which visitor id of which site was erased, by whom and when, and nothing about the
visitor.
"""

import logging
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from infra.errors import NotAllowed, NotFound
from integrations.services import deliveries_forget
from visitors.models import PageView, Visitor
from visitors.presence import visitor_presence
from visitors.selectors import site_is_owned_by, sites_visible_to
from visitors.services import page_views_flush
from visitors.windows import chat_windows

from . import events, services
from .models import Erasure, Message, Room

logger = logging.getLogger(__name__)


def _owned_visitor(*, user: AbstractBaseUser, visitor_id: int, lock: bool = False) -> Visitor:
    """The visitor, if the user owns their site. A visitor of a site the user does not see is
    NotFound; of a site they serve as an operator but do not own, NotAllowed."""
    visitors = Visitor.objects.select_related("site").filter(pk=visitor_id, site__in=sites_visible_to(user=user))
    visitor = (visitors.select_for_update(of=("self",)) if lock else visitors).first()
    if visitor is None:
        raise NotFound("no such visitor")
    if not site_is_owned_by(site=visitor.site, user=user):
        raise NotAllowed("only the owners of the visitor's site may erase or export their data")
    return visitor


def visitor_erase(*, user: AbstractBaseUser, visitor_id: int, now: datetime | None = None) -> Erasure:
    """Erase a visitor and everything stored about them (owners of their site only)."""
    now = now or timezone.now()
    with transaction.atomic():
        visitor = _owned_visitor(user=user, visitor_id=visitor_id, lock=True)
        # Gone for the chat from now on: ending their room puts no question back in the pool (R14).
        Visitor.objects.filter(pk=visitor.pk).update(online=False)
        live = Room.objects.filter(visitor_id=visitor.pk, status__in=Room.LIVE).values_list("pk", flat=True)
        services.rooms_end(room_ids=list(live), now=now)
        # The webhooks' log of them too (its room.ended above included): never sent now.
        rooms = list(Room.objects.filter(visitor_id=visitor.pk).values_list("pk", flat=True))
        deliveries_forget(room_ids=rooms, site_id=visitor.site_id, visitor_id=visitor.pk)
        # The collector deletes their rooms with their messages and attachments (whose files
        # leave the storage after the commit, chat/files.py) and their page views; their visit's
        # state in Redis goes after the commit too (visitors/apps.py).
        visitor.delete()
        erasure = Erasure.objects.create(
            site_id=visitor.site_id, visitor_id=visitor_id, by=user, by_name=user.get_username(), at=now
        )
        visitor.pk = visitor_id
        events.visitor_erased(visitor)
        transaction.on_commit(lambda: _forget_in_redis(visitor_id))
    logger.info("visitor %s of site %s erased by user %s", visitor_id, erasure.site_id, user.pk)
    return erasure


def _forget_in_redis(visitor_id: int) -> None:
    visitor_presence.erase(visitor_id)
    chat_windows.forget(visitor_id)


def visitor_export(*, user: AbstractBaseUser, visitor_id: int, now: datetime | None = None) -> dict:
    """Everything stored about a visitor, as one JSON document (owners of their site only):
    chat/events.py's visitor_export_payload."""
    now = now or timezone.now()
    _owned_visitor(user=user, visitor_id=visitor_id)
    # The page views still waiting in Redis are stored first, so the document has them all.
    page_views_flush(wait=True)
    visitor = _owned_visitor(user=user, visitor_id=visitor_id)
    rooms = list(Room.objects.filter(visitor_id=visitor.pk).select_related("operator__user", "visitor").order_by("pk"))
    messages = list(
        Message.objects.filter(room__visitor_id=visitor.pk).select_related("attachment").order_by("room_id", "pk")
    )
    page_views = list(PageView.objects.filter(visitor_id=visitor.pk).order_by("at", "pk"))
    return events.visitor_export_payload(visitor, page_views=page_views, rooms=rooms, messages=messages, now=now)
