"""Page views kept only as long as their site says (issue 25, `Site.keep_page_views_days`), and
the batches every purge deletes in (chat/retention.py purges conversations and the visitors
with nothing left, which know rooms, and calls this between them).

Each statement deletes at most `batch` rows by primary key, in a transaction of its own, so a
purge of millions never holds a lock long; a run stops after `batches` statements and the next
run goes on.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from .models import PageView, Site


def purge_in_batches(
    due_of_site: Callable[[int, datetime], QuerySet],
    setting: str,
    *,
    now: datetime,
    batch: int,
    batches: int,
    delete: Callable[[QuerySet, list[int]], int],
) -> tuple[int, bool]:
    """For each site keeping this kind less than for ever (its `setting`, days, above 0): the
    rows `due_of_site(site id, cutoff)` names, passed to `delete` `batch` ids at a time, in
    `batches` statements at most in all. Returns how many were deleted, and whether any may be
    left for the next run."""
    cutoffs = (
        (site_id, now - timedelta(days=days))
        for site_id, days in Site.objects.filter(**{f"{setting}__gt": 0}).values_list("pk", setting)
    )
    return purge_sites_in_batches(due_of_site, cutoffs, batch=batch, batches=batches, delete=delete)


def purge_sites_in_batches(
    due_of_site: Callable[[int, datetime], QuerySet],
    cutoffs: Iterable[tuple[int, datetime]],
    *,
    batch: int,
    batches: int,
    delete: Callable[[QuerySet, list[int]], int],
) -> tuple[int, bool]:
    """The same for the given sites and their cutoffs: (site id, what is older goes)."""
    deleted = 0
    for site_id, cutoff in cutoffs:
        due = due_of_site(site_id, cutoff)
        after = 0
        while True:
            if batches == 0:
                return deleted, True
            batches -= 1
            # In primary key order, each batch after the last: a read walks the key's index from
            # there, not again over the rows just deleted (PostgreSQL keeps them until a vacuum).
            ids = list(due.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch])
            if ids:
                after = ids[-1]
                with transaction.atomic():
                    deleted += delete(due, ids)
            if len(ids) < batch:
                break
    return deleted, False


def _old_page_views(site_id: int, cutoff: datetime) -> QuerySet[PageView]:
    return PageView.objects.filter(visitor__site_id=site_id, at__lt=cutoff)


def _delete_page_views(due: QuerySet[PageView], ids: list[int]) -> int:
    # Once due, always due (time only moves on): one DELETE by primary key, no join again. No
    # signal or cascade hangs on a page view.
    return PageView.objects.filter(pk__in=ids).delete()[0]


def page_views_purge(*, now: datetime, batch: int, batches: int) -> tuple[int, bool]:
    """Page views older than their site keeps them, deleted."""
    return purge_in_batches(
        _old_page_views, "keep_page_views_days", now=now, batch=batch, batches=batches, delete=_delete_page_views
    )
