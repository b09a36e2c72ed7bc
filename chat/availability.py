"""Whether anyone is there (R16): a site is *online* while any of its operators is, and its
visitors' snippets hear when that changes: one `site` event per site and change, sent to the
site's visitor sockets (`events.site_visitors_group`), never one per visitor.

The state is `Site.operators_online`, changed only here, in the transaction that changed who
is online (an operator's shift: chat/shifts.py) or who serves the site (admin, code), under
the sites' row locks, taken in id order. Two operators of one site going off at once, on two
daphne processes or a process and the sweep, queue on that lock; the second then reads the
first's commit (each statement of a transaction sees what has committed when it starts,
PostgreSQL's READ COMMITTED; SQLite runs one writer at a time), so the last one out turns the
site off, the first one in turns it on, and each change is announced once.

The snippet reads the state with its site at the handshake (`visitors.sites.site_by_key`, kept
by each process): a change bumps the sites' version before its event is sent, so a socket
that joined the group before reading either reads the new state or gets the event.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from operators.models import Operator
from visitors.hours import open_now
from visitors.models import Site
from visitors.sites import sites_changed

from . import events


def sites_availability_update(*, site_ids: Iterable[int]) -> list[Site]:
    """Set right the sites among these whose `operators_online` no longer says whether one of
    their operators is online, and announce them; the sites changed. Called after the change
    of who is online or who serves them, in its transaction."""
    site_ids = sorted(set(site_ids))
    if not site_ids:
        return []
    with transaction.atomic():
        sites = list(Site.objects.select_for_update().filter(pk__in=site_ids).order_by("pk"))
        online = set(
            Operator.sites.through.objects.filter(site_id__in=site_ids, operator__online=True).values_list(
                "site_id", flat=True
            )
        )
        changed = [site for site in sites if site.operators_online != (site.pk in online)]
        if not changed:
            return []
        for site in changed:
            site.operators_online = site.pk in online
        for state in (True, False):
            Site.objects.filter(pk__in=[s.pk for s in changed if s.operators_online == state]).update(
                operators_online=state
            )
        # The sites' version first (at the commit), the events after it (events.py sends them
        # after the commit too, from this callback on): see above.
        transaction.on_commit(sites_changed)
        events.site_availability_changed(changed)
        return changed


def sites_availability_update_later(*, site_ids: Iterable[int]) -> None:
    """The same, once the transaction under way has committed: who serves the sites changed in
    it (admin's forms change an operator's sites in several steps)."""
    site_ids = list(site_ids)
    if site_ids:
        transaction.on_commit(lambda: sites_availability_update(site_ids=site_ids))


def sites_hours_update(*, now: datetime) -> list[Site]:
    """Business hours (issue 25): the sites that opened or closed by `now`, their `hours_open`
    set and announced (a `site` event each, with when they are back), as an operator coming or
    going is. Run by each sweep, so a site flips at its time (within WP_SWEEP_INTERVAL) without
    anyone connecting. Reads only the sites with hours or closed days (and any left closed
    whose hours were removed since); safe to run twice or late."""
    candidates = Site.objects.filter(Q(hours_open=False) | ~Q(hours={}) | ~Q(closed_days=[])).only(
        "pk", "timezone", "hours", "closed_days", "hours_open"
    )
    due = [site.pk for site in candidates if open_now(site, now) != site.hours_open]
    if not due:
        return []
    with transaction.atomic():
        sites = list(Site.objects.select_for_update().filter(pk__in=due).order_by("pk"))
        changed = [site for site in sites if open_now(site, now) != site.hours_open]
        for site in changed:
            site.hours_open = not site.hours_open
        for state in (True, False):
            Site.objects.filter(pk__in=[s.pk for s in changed if s.hours_open == state]).update(hours_open=state)
        if changed:
            transaction.on_commit(sites_changed)
            events.site_availability_changed(changed, now=now)
        return changed
