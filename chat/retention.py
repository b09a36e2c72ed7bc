"""Data kept only as long as each site says (issue 25): run by Celery beat every
WP_RETENTION_INTERVAL (chat.tasks.retention_purge).

In order: conversations ended longer ago than `Site.keep_conversations_days` (their messages,
attachments and the attachments' files, a rating and a transcript request with them), page
views older than `Site.keep_page_views_days` (visitors/retention.py), then visitors with
nothing left (no room, no page view), offline and last seen longer ago than
`Site.keep_idle_visitors_days`. 0 keeps for ever. A live room is never deleted. Then the
counts of visitors online older than the reports read (visitors/online_history.py).

Every kind is deleted WP_RETENTION_BATCH rows a statement, each statement in a transaction of
its own, at most WP_RETENTION_BATCHES statements of each kind a run: a run never holds locks
long, and what it leaves goes at the next. Safe to run twice or late: each statement deletes
only what is still due. The ORM only, the same on SQLite and PostgreSQL.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from integrations.services import deliveries_forget
from visitors.models import PageView, Visitor
from visitors.online_history import online_samples_purge
from visitors.presence import visitor_presence
from visitors.retention import page_views_purge, purge_in_batches

from .models import Room


@dataclass
class RetentionResult:
    rooms: int = 0
    page_views: int = 0
    visitors: int = 0
    online_samples: int = 0
    # Something due may be left for the next run (a kind used up its batches).
    more: bool = False


def retention_purge(*, now: datetime, batch: int | None = None, batches: int | None = None) -> RetentionResult:
    batch = batch or settings.WP_RETENTION_BATCH
    batches = batches or settings.WP_RETENTION_BATCHES
    result = RetentionResult()
    result.rooms, more_rooms = rooms_purge(now=now, batch=batch, batches=batches)
    result.page_views, more_views = page_views_purge(now=now, batch=batch, batches=batches)
    result.visitors, more_visitors = idle_visitors_purge(now=now, batch=batch, batches=batches)
    result.online_samples, more_samples = online_samples_purge(now=now, batch=batch, batches=batches)
    result.more = more_rooms or more_views or more_visitors or more_samples
    return result


def _ended_rooms(site_id: int, cutoff: datetime) -> QuerySet[Room]:
    # `ended_at` says when a conversation ended; a live room has none and is never due.
    return Room.objects.filter(site_id=site_id, status=Room.Status.EXPIRED, ended_at__lt=cutoff)


def _delete_rooms(due: QuerySet[Room], ids: list[int]) -> int:
    # Checked again in the statement's transaction. The collector deletes the messages and
    # attachments with them; each attachment's files leave the storage after the commit
    # (chat/files.py, post_delete).
    _, counts = due.filter(pk__in=ids).delete()
    # The webhooks' log of them goes with them.
    deliveries_forget(room_ids=ids)
    return counts.get(Room._meta.label, 0)


def rooms_purge(*, now: datetime, batch: int, batches: int) -> tuple[int, bool]:
    """Conversations ended longer ago than their site keeps them, deleted with what they hold."""
    return purge_in_batches(
        _ended_rooms, "keep_conversations_days", now=now, batch=batch, batches=batches, delete=_delete_rooms
    )


def _idle_visitors(site_id: int, cutoff: datetime) -> QuerySet[Visitor]:
    return Visitor.objects.filter(site_id=site_id, online=False, last_seen__lt=cutoff).filter(
        ~Exists(Room.objects.filter(visitor_id=OuterRef("pk"))),
        ~Exists(PageView.objects.filter(visitor_id=OuterRef("pk"))),
    )


def _delete_visitors(due: QuerySet[Visitor], ids: list[int]) -> int:
    # One connected this moment (the database not yet told) stays for a later run.
    connected = visitor_presence.connected_among(ids)
    ids = [visitor_id for visitor_id in ids if visitor_id not in connected]
    # Checked again in the statement's transaction: a room or page since keeps the visitor.
    # Their state in Redis goes after the commit (visitors/apps.py, post_delete).
    _, counts = due.filter(pk__in=ids).delete()
    return counts.get(Visitor._meta.label, 0)


def idle_visitors_purge(*, now: datetime, batch: int, batches: int) -> tuple[int, bool]:
    """Visitors with no room and no page view left, offline and last seen longer ago than their
    site keeps them, deleted."""
    return purge_in_batches(
        _idle_visitors, "keep_idle_visitors_days", now=now, batch=batch, batches=batches, delete=_delete_visitors
    )
