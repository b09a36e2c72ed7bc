"""Visitors online over time (issue 25): the owners' reports' history of how many were online.

Every WP_ONLINE_SAMPLE_INTERVAL seconds Celery beat (`visitors.tasks.online_sample`) counts the
visitors online on every site (`Visitor.online`, true while the visitor has a socket open: one
grouped query over the (site, online) index) and the operators online serving each (one query
over the few online operators' sites), and writes them in one INSERT: a row for each site with
anyone online, and a row without a site, the whole install's, written by every run. That row
is how a report knows a run took place: a site missing from a run had no one online (0), while
a time with no run at all (before this history began, the worker down) is unknown (null).

Counts only, no one's data; kept `KEEP_DAYS` (longer than a report's longest range), then
deleted by the daily retention purge (chat/retention.py) in bounded batches.

A report reads the samples in one grouped query (per day, in the site's time zone), and for a
range of up to `HOURLY_MAX_DAYS` days one more: the samples themselves, as hourly maxima.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from .models import OnlineSample, Site, Visitor
from .retention import purge_sites_in_batches

# Kept longer than the longest report (366 days), so a year's report ending today is whole.
KEEP_DAYS = 400

# A report of this many days or fewer draws its hours; a longer one its days' peaks.
HOURLY_MAX_DAYS = 7

HOUR = timedelta(hours=1)


def online_sample(*, now: datetime) -> int:
    """Count who is online on every site, and store it; the rows written. Safe to run twice or
    late: a second run is one more sample, of the moment it ran."""
    visitors = dict(
        Visitor.objects.filter(online=True)
        .order_by()
        .values("site_id")
        .annotate(n=Count("pk"))
        .values_list("site_id", "n")
    )
    operators: dict[int, int] = defaultdict(int)
    online_operators = set()
    # Few rows: each online operator once per site they serve.
    for site_id, operator_id in Site.operators.through.objects.filter(operator__online=True).values_list(
        "site_id", "operator_id"
    ):
        operators[site_id] += 1
        online_operators.add(operator_id)
    rows = [
        OnlineSample(site_id=site_id, at=now, visitors=visitors.get(site_id, 0), operators=operators.get(site_id, 0))
        for site_id in sorted(visitors.keys() | operators.keys())
    ]
    rows.append(OnlineSample(site=None, at=now, visitors=sum(visitors.values()), operators=len(online_operators)))
    OnlineSample.objects.bulk_create(rows)
    return len(rows)


def _old_samples(site_id: int | None, cutoff: datetime) -> QuerySet[OnlineSample]:
    return OnlineSample.objects.filter(site_id=site_id, at__lt=cutoff)


def _delete_samples(due: QuerySet[OnlineSample], ids: list[int]) -> int:
    return OnlineSample.objects.filter(pk__in=ids).delete()[0]


def online_samples_purge(*, now: datetime, batch: int, batches: int) -> tuple[int, bool]:
    """Samples older than `KEEP_DAYS`, each site's and the install's, deleted in batches."""
    cutoff = now - timedelta(days=KEEP_DAYS)

    def cutoffs() -> Iterator[tuple[int | None, datetime]]:
        yield None, cutoff
        for site_id in Site.objects.order_by("pk").values_list("pk", flat=True).iterator():
            yield site_id, cutoff

    return purge_sites_in_batches(_old_samples, cutoffs(), batch=batch, batches=batches, delete=_delete_samples)


@dataclass
class OnlineReport:
    # Date (ISO) → {"online_peak", "online_avg"}; None for a day no sample was taken.
    days: dict[str, dict]
    totals: dict
    # For up to HOURLY_MAX_DAYS days, each hour: {"at", "visitors"} (its highest sample); else [].
    hourly: list[dict]


def _average(total: int, runs: int) -> float | None:
    return round(total / runs, 1) if runs else None


def site_online(*, site: Site, start: date, end: date) -> OnlineReport:
    """The site's visitors online on the days from `start` up to `end` (excluded), in its time
    zone: each day's highest sample and the mean of its samples (a run that found no one on the
    site counts 0; a day with no run at all is None), the range's, and the hours of a short one."""
    zone = ZoneInfo(site.timezone)
    since = datetime.combine(start, time(), tzinfo=zone)
    until = datetime.combine(end, time(), tzinfo=zone)
    # The site's samples and the install's, which count the runs.
    samples = OnlineSample.objects.filter(Q(site=site) | Q(site=None), at__gte=since, at__lt=until)
    of_site = Q(site=site)
    per_day = {
        day: (runs, peak, total)
        for day, runs, peak, total in samples.order_by()
        .annotate(day=TruncDate("at", tzinfo=zone))
        .values("day")
        .annotate(
            runs=Count("pk", filter=Q(site=None)),
            peak=Max("visitors", filter=of_site),
            total=Sum("visitors", filter=of_site),
        )
        .values_list("day", "runs", "peak", "total")
    }
    days = {}
    all_runs = all_total = 0
    range_peak = None
    for n in range((end - start).days):
        day = start + timedelta(days=n)
        runs, peak, total = per_day.get(day, (0, None, None))
        peak, total = (peak or 0, total or 0) if runs else (None, None)
        days[day.isoformat()] = {"online_peak": peak, "online_avg": _average(total or 0, runs)}
        all_runs += runs
        all_total += total or 0
        if peak is not None:
            range_peak = max(range_peak or 0, peak)
    totals = {"online_peak": range_peak, "online_avg": _average(all_total, all_runs)}
    hourly = (
        _hourly(samples, since=since, until=until, zone=zone, site=site)
        if (end - start).days <= HOURLY_MAX_DAYS
        else []
    )
    return OnlineReport(days=days, totals=totals, hourly=hourly)


def _hourly(
    samples: QuerySet[OnlineSample], *, since: datetime, until: datetime, zone: ZoneInfo, site: Site
) -> list[dict]:
    """Each hour of the range from `since` (local midnight): the highest of the site's samples
    in it, 0 if a run found no one, None if no run was made."""
    # In UTC: the same zone's aware datetimes add and subtract as wall clock times, which a
    # change to or from summer time would make an hour off.
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    peaks: list[int | None] = [None] * int((until - since) / HOUR)
    for site_id, at, visitors in samples.values_list("site_id", "at", "visitors"):
        slot = int((at - since) / HOUR)
        count = visitors if site_id == site.pk else 0
        peaks[slot] = max(peaks[slot] or 0, count)
    return [
        {"at": (since + HOUR * slot).astimezone(zone).isoformat(), "visitors": peak} for slot, peak in enumerate(peaks)
    ]
