"""Reports for a site's owners (issue 25): its conversations per day over a date range, in the
site's time zone, for the whole site or one operator.

A day is kept once it is settled (ended WP_REPORT_SETTLE seconds ago): a ReportDay row per
operator group holds its counts and its durations (whole tenths of a second, sorted), so a report
of many days finds in them exactly the percentiles its rooms would give. A report reads the
rollups of its settled days, computes and stores those that have none (Celery beat's
`reports_rollup` computes them as they settle, so this is rare), and reads the rooms of the days
not settled yet (today, yesterday) by the site's index on their creation time. A later change
to a room of a settled day (accepted, answered, ended, rated, handed over) drops that day's
rollup (`rollups_stale`): the next report computes it again. The counts and percentiles are
made in Python, the same on SQLite (which has no percentile function) and PostgreSQL. Each day
also carries the site's visitors online, read by visitors/online_history.py (one query more, two
for a range of up to a week) and added at the end (`_with_online`)."""

import csv
import io
import math
import secrets
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from itertools import chain
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from visitors.models import Site
from visitors.online_history import site_online

from .models import ReportDay, ReportStamp, Room

# The longest range a report covers: a year, a leap day included.
MAX_DAYS = 366

NOBODY = ReportDay.NOBODY

COLUMNS = [
    "date",
    "conversations",
    "accepted",
    "missed",
    "accept_p50",
    "accept_p95",
    "first_response_p50",
    "first_response_p95",
    "length_p50",
    "ratings",
    "rating_avg",
    "online_peak",
    "online_avg",
]

# What a room's numbers are made of, as the rooms' query reads them.
_ROW = (
    "created_at",
    "accepted_at",
    "ended_at",
    "status",
    "offline_at",
    "pooled_at",
    "routed",
    "rating",
    "first_reply_at",
    "operator_id",
)


def percentile(values: list[float], p: int) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def _tenths(start: datetime | None, end: datetime | None) -> int | None:
    """Whole tenths of a second from `start` to `end`, rounded as the seconds are shown."""
    if start is None or end is None:
        return None
    return round(round((end - start).total_seconds(), 1) * 10)


class _Group:
    """The numbers of some rooms: a day's of one operator (a rollup's row, or read from the
    rooms)."""

    __slots__ = ("accept", "accepted", "conversations", "first_response", "length", "missed", "stars")

    def __init__(self):
        self.conversations = self.accepted = self.missed = 0
        self.accept: list[int] = []
        self.first_response: list[int] = []
        self.length: list[int] = []
        self.stars = [0] * 5

    # A rollup's numbers, as ReportDay stores them.
    STORED = ("conversations", "accepted", "missed", "stars", "accept", "first_response", "length")

    @classmethod
    def of(cls, *numbers) -> "_Group":
        """The group of a rollup's numbers (STORED)."""
        group = cls()
        for name, value in zip(cls.STORED, numbers, strict=True):
            setattr(group, name, value)
        return group

    def add(self, created_at, accepted_at, ended_at, status, offline_at, pooled_at, routed, rating, first_reply):
        self.conversations += 1
        if accepted_at is not None:
            self.accepted += 1
        elif status == Room.Status.EXPIRED or offline_at is not None:
            # Ended without anyone accepting it, or left as an offline request.
            self.missed += 1
        # An operator's own start (neither pooled nor routed) asked no one to accept it.
        if routed or pooled_at is not None:
            if (wait := _tenths(created_at, accepted_at)) is not None:
                self.accept.append(wait)
            if (reply := _tenths(created_at, first_reply)) is not None:
                self.first_response.append(reply)
        if (length := _tenths(accepted_at, ended_at)) is not None:
            self.length.append(length)
        if rating is not None:
            self.stars[rating - 1] += 1

    def sort(self) -> None:
        # A rollup's lists are sorted already: a pass over them.
        self.accept.sort()
        self.first_response.sort()
        self.length.sort()

    def row(self, *, site: Site, day: date, operator_id: int, zone: ZoneInfo) -> ReportDay:
        self.sort()
        since, until = _bounds(day, zone), _bounds(day + timedelta(days=1), zone)
        return ReportDay(
            site=site,
            day=day,
            timezone=site.timezone,
            operator_id=operator_id,
            since=since,
            until=until,
            conversations=self.conversations,
            accepted=self.accepted,
            missed=self.missed,
            stars=self.stars,
            accept=self.accept,
            first_response=self.first_response,
            length=self.length,
        )


class _Bucket:
    """The numbers of many groups (a day's, the range's): their counts added, their sorted
    durations kept as they are, runs a percentile is found in without merging them."""

    def __init__(self):
        self.conversations = self.accepted = self.missed = 0
        self.stars = [0] * 5
        self.runs: dict[str, list[list[int]]] = {kind: [] for kind in _DURATIONS}

    def add(self, group: "_Group | _Bucket") -> None:
        self.conversations += group.conversations
        self.accepted += group.accepted
        self.missed += group.missed
        self.stars = [mine + theirs for mine, theirs in zip(self.stars, group.stars, strict=True)]
        for kind, runs in self.runs.items():
            if isinstance(group, _Bucket):
                runs += group.runs[kind]
            elif values := getattr(group, kind):
                runs.append(values)

    def percentile(self, kind: str, p: int) -> float | None:
        """The nearest-rank percentile of the runs' values, in seconds."""
        runs = self.runs[kind]
        count = sum(len(run) for run in runs)
        if not count:
            return None
        rank = max(math.ceil(p / 100 * count) - 1, 0)
        if count > _FEW:
            return _kth(runs, rank) / 10
        if len(runs) > 1:  # merged once (a day's few runs), for every percentile of the kind
            runs[:] = [sorted(chain.from_iterable(runs))]
        return runs[0][rank] / 10

    def summary(self) -> dict:
        ratings = sum(self.stars)
        stars = sum(count * number for number, count in enumerate(self.stars, start=1))
        return {
            "conversations": self.conversations,
            "accepted": self.accepted,
            "missed": self.missed,
            "accept_p50": self.percentile("accept", 50),
            "accept_p95": self.percentile("accept", 95),
            "first_response_p50": self.percentile("first_response", 50),
            "first_response_p95": self.percentile("first_response", 95),
            "length_p50": self.percentile("length", 50),
            "ratings": ratings,
            "rating_avg": round(stars / ratings, 2) if ratings else None,
        }


_DURATIONS = ("accept", "first_response", "length")
# Up to this many values (a day's), merging the runs costs less than bisecting them.
_FEW = 20_000


def _kth(runs: list[list[int]], k: int) -> int:
    """The value of rank k (from 0) of sorted runs, without merging them: the smallest value
    with more than k of them at or below it, by bisection on the values (a year's 365 days of
    runs: some twenty counts of 365 binary searches, where one sort of their million values
    took most of a report's time)."""
    low, high = min(run[0] for run in runs if run), max(run[-1] for run in runs if run)
    while low < high:
        middle = (low + high) // 2
        if sum(bisect_right(run, middle) for run in runs) > k:
            high = middle
        else:
            low = middle + 1
    return low


def _bounds(day: date, zone: ZoneInfo) -> datetime:
    """When the day begins in the zone."""
    return datetime.combine(day, time(), tzinfo=zone)


def _first_unsettled(zone: ZoneInfo, now: datetime) -> date:
    """The first day that is not settled: the day of (now - WP_REPORT_SETTLE) in the zone (the
    days before it ended at least that long ago)."""
    return (now - timedelta(seconds=settings.WP_REPORT_SETTLE)).astimezone(zone).date()


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as ranges of consecutive ones, each [first, last + 1)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


def _from_rooms(
    site: Site, zone: ZoneInfo, start: date, end: date, operator_id: int | None = None
) -> dict[tuple[date, int], _Group]:
    """The numbers of the rooms made on the days from `start` to `end` (excluded), by day and
    operator (NOBODY: no one's), read in one query by the site's index on creation time."""
    rooms = Room.objects.filter(site=site, created_at__gte=_bounds(start, zone), created_at__lt=_bounds(end, zone))
    if operator_id is not None:
        rooms = rooms.filter(operator_id=operator_id)
    groups: dict[tuple[date, int], _Group] = {}
    for *fields, operator in rooms.values_list(*_ROW).iterator(chunk_size=5000):
        key = (fields[0].astimezone(zone).date(), operator or NOBODY)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group()
        group.add(*fields)
    return groups


def _rollup(site: Site, zone: ZoneInfo, start: date, end: date) -> dict[tuple[date, int], _Group]:
    """Compute and store the days from `start` to `end` (excluded, all settled): one row per
    day and operator, and a row of nobody's on every day (empty too: the day is done). Two
    computing the same day at once store it once."""
    stamp = ReportStamp.objects.get_or_create(site=site, defaults={"stamp": _new_stamp()})[0].stamp
    groups = _from_rooms(site, zone, start, end)
    for n in range((end - start).days):
        groups.setdefault((start + timedelta(days=n), NOBODY), _Group())
    rows = [group.row(site=site, day=day, operator_id=op, zone=zone) for (day, op), group in groups.items()]
    with transaction.atomic():
        # A room of these days changed while they were read (rollups_stale): they may not show
        # it, so they are not kept; this report shows them, the next computes them again.
        if ReportStamp.objects.select_for_update().filter(site=site, stamp=stamp).exists():
            ReportDay.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return groups


def _new_stamp() -> int:
    return secrets.randbits(62)


def _settled(
    site: Site, zone: ZoneInfo, start: date, end: date, operator_id: int | None
) -> list[tuple[tuple[date, int], _Group]]:
    """The groups of the settled days from `start` to `end`: their rollups, and the ones
    missing computed (and stored)."""
    rows = ReportDay.objects.filter(site=site, timezone=site.timezone, day__gte=start, day__lt=end)
    if operator_id is not None:
        rows = rows.filter(operator_id__in=(NOBODY, operator_id))
    done: set[date] = set()
    groups = []
    for day, operator, *numbers in rows.values_list("day", "operator_id", *_Group.STORED):
        if operator == NOBODY:
            done.add(day)
        if operator_id in (None, operator):
            groups.append(((day, operator), _Group.of(*numbers)))
    missing = [start + timedelta(days=n) for n in range((end - start).days)]
    for first, last in _runs([day for day in missing if day not in done]):
        computed = _rollup(site, zone, first, last)
        groups += [(key, group) for key, group in computed.items() if operator_id in (None, key[1])]
    return groups


def site_report(*, site: Site, start: date, end: date, operator_id: int | None = None) -> dict:
    """The site's conversations made on the days from `start` up to `end` (excluded), each
    counted on its day in the site's time zone; with `operator_id`, only the rooms that were that
    operator's last (a missed request was no one's: 0). Durations are in seconds."""
    zone = ZoneInfo(site.timezone)
    settled = min(max(_first_unsettled(zone, timezone.now()), start), end)
    groups = _settled(site, zone, start, settled, operator_id) if start < settled else []
    if settled < end:
        groups += _from_rooms(site, zone, settled, end, operator_id).items()
    days = {start + timedelta(days=n): _Bucket() for n in range((end - start).days)}
    for (day, _operator), group in groups:
        group.sort()  # a rollup's are already: nearly free
        days[day].add(group)
    # The days first: each one's few runs become one, and the range's percentiles are found in 365
    # runs, not in thousands.
    summaries = [{"date": day.isoformat(), **bucket.summary()} for day, bucket in days.items()]
    total = _Bucket()
    for bucket in days.values():
        total.add(bucket)
    report = {
        "site": site.pk,
        "timezone": site.timezone,
        "operator": operator_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": summaries,
        "totals": total.summary(),
        "ratings": {str(stars): count for stars, count in enumerate(total.stars, start=1)},
    }
    return _with_online(report, site=site, start=start, end=end)


def _with_online(report: dict, *, site: Site, start: date, end: date) -> dict:
    """The site's visitors online added to each day and the totals, and its hours for a short
    range (visitors/online_history.py): the site's, with or without an operator."""
    online = site_online(site=site, start=start, end=end)
    for day in report["days"]:
        day.update(online.days[day["date"]])
    report["totals"].update(online.totals)
    report["online_hourly"] = online.hourly
    return report


def rollups_stale(rooms: Iterable[Room], *, now: datetime | None = None) -> None:
    """Rooms changed in a way their report shows (accepted, answered, ended, rated, handed
    over): the rollups of their days, if any, are dropped, for the next report to compute them
    again. Only a room made before the settle boundary can be in one: a live chat of today
    costs no query. Not called for the rooms the retention deletes: last year's numbers stay."""
    boundary = (now or timezone.now()) - timedelta(seconds=settings.WP_REPORT_SETTLE)
    old = [room for room in rooms if room.created_at < boundary]
    if not old:
        return
    # The sites' stamps first, the rollups dropped after: a rollup being computed now is not
    # stored (_rollup), or was stored before and is dropped here.
    stamps = [ReportStamp(site_id=site_id, stamp=_new_stamp()) for site_id in sorted({r.site_id for r in old})]
    ReportStamp.objects.bulk_create(stamps, update_conflicts=True, unique_fields=["site"], update_fields=["stamp"])
    for n in range(0, len(old), 100):
        days = Q()
        for room in old[n : n + 100]:
            days |= Q(site_id=room.site_id, since__lte=room.created_at, until__gt=room.created_at)
        ReportDay.objects.filter(days).delete()


def rollup_settled(*, now: datetime, days: int | None = None) -> int:
    """Celery beat's run: every site's settled days of the last year that have no rollup (since
    its first room), the newest first, `days` of each site at most (WP_REPORT_ROLLUP_DAYS).
    How many days it computed."""
    days = settings.WP_REPORT_ROLLUP_DAYS if days is None else days
    computed = 0
    for site in Site.objects.only("pk", "timezone").order_by("pk"):
        first_room = Room.objects.filter(site=site).order_by("created_at").values_list("created_at", flat=True)[:1]
        if not first_room:
            continue
        zone = ZoneInfo(site.timezone)
        end = _first_unsettled(zone, now)
        start = max(end - timedelta(days=MAX_DAYS), first_room[0].astimezone(zone).date())
        done = set(
            ReportDay.objects.filter(
                site=site, timezone=site.timezone, operator_id=NOBODY, day__gte=start, day__lt=end
            ).values_list("day", flat=True)
        )
        missing = [start + timedelta(days=n) for n in range((end - start).days)]
        missing = [day for day in missing if day not in done][-days:] if days else []
        for first, last in _runs(missing):
            _rollup(site, zone, first, last)
        computed += len(missing)
    return computed


def report_csv(report: dict) -> str:
    """The report's days as CSV, one row a day and a last row of the totals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for day in report["days"]:
        writer.writerow(["" if day[column] is None else day[column] for column in COLUMNS])
    totals = report["totals"]
    writer.writerow(["total"] + ["" if totals[column] is None else totals[column] for column in COLUMNS[1:]])
    return out.getvalue()
