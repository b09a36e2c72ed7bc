"""Reports for a site's owners (issue 25): its conversations per day over a date range, in the
site's time zone, for the whole site or one operator.

One query reads the range's rooms (the site's rooms by creation time: an index) with the time of
each one's first operator message; the counts and the percentiles are then made in Python, the
same on SQLite (which has no percentile function) and PostgreSQL. At a busy site's million
conversations a year, a month's report reads some 83,000 rows (docs/features.md says what it
costs). Each day also carries the site's visitors online, read by visitors/online_history.py
(one query more, two for a range of up to a week) and added at the end (`_with_online`)."""

import csv
import io
import math
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery

from visitors.models import Site
from visitors.online_history import site_online

from .models import Message, Room

# The longest range a report covers: a year, a leap day included.
MAX_DAYS = 366

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


def percentile(values: list[float], p: int) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


class _Bucket:
    def __init__(self):
        self.conversations = self.accepted = self.missed = 0
        self.accept: list[float] = []
        self.first_response: list[float] = []
        self.length: list[float] = []
        self.ratings: list[int] = []

    def add(self, *, created_at, accepted_at, ended_at, status, offline_at, pooled_at, routed, rating, first_reply):
        self.conversations += 1
        if accepted_at is not None:
            self.accepted += 1
        elif status == Room.Status.EXPIRED or offline_at is not None:
            # Ended without anyone accepting it, or left as an offline request.
            self.missed += 1
        # An operator's own start (neither pooled nor routed) asked no one to accept it.
        asked = routed or pooled_at is not None
        if asked:
            if (wait := _seconds(created_at, accepted_at)) is not None:
                self.accept.append(wait)
            if (reply := _seconds(created_at, first_reply)) is not None:
                self.first_response.append(reply)
        if (length := _seconds(accepted_at, ended_at)) is not None:
            self.length.append(length)
        if rating is not None:
            self.ratings.append(rating)

    def summary(self) -> dict:
        return {
            "conversations": self.conversations,
            "accepted": self.accepted,
            "missed": self.missed,
            "accept_p50": percentile(self.accept, 50),
            "accept_p95": percentile(self.accept, 95),
            "first_response_p50": percentile(self.first_response, 50),
            "first_response_p95": percentile(self.first_response, 95),
            "length_p50": percentile(self.length, 50),
            "ratings": len(self.ratings),
            "rating_avg": round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None,
        }


def site_report(*, site: Site, start: date, end: date, operator_id: int | None = None) -> dict:
    """The site's conversations made on the days from `start` up to `end` (excluded), each
    counted on its day in the site's time zone; with `operator_id`, only the rooms that were that
    operator's last (a missed request was no one's: 0). Durations are in seconds."""
    zone = ZoneInfo(site.timezone)
    since = datetime.combine(start, time(), tzinfo=zone)
    until = datetime.combine(end, time(), tzinfo=zone)
    rooms = Room.objects.filter(site=site, created_at__gte=since, created_at__lt=until)
    if operator_id is not None:
        rooms = rooms.filter(operator_id=operator_id)
    first_reply = Message.objects.filter(room=OuterRef("pk"), sender=Message.Sender.OPERATOR).order_by("at")
    rows = rooms.annotate(first_reply=Subquery(first_reply.values("at")[:1])).values_list(
        "created_at", "accepted_at", "ended_at", "status", "offline_at", "pooled_at", "routed", "rating", "first_reply"
    )
    days = {start + timedelta(days=n): _Bucket() for n in range((end - start).days)}
    total = _Bucket()
    for created_at, accepted_at, ended_at, status, offline_at, pooled_at, routed, rating, reply in rows.iterator(
        chunk_size=5000
    ):
        fields = {
            "created_at": created_at,
            "accepted_at": accepted_at,
            "ended_at": ended_at,
            "status": status,
            "offline_at": offline_at,
            "pooled_at": pooled_at,
            "routed": routed,
            "rating": rating,
            "first_reply": reply,
        }
        days[created_at.astimezone(zone).date()].add(**fields)
        total.add(**fields)
    distribution = Counter(total.ratings)
    report = {
        "site": site.pk,
        "timezone": site.timezone,
        "operator": operator_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": [{"date": day.isoformat(), **bucket.summary()} for day, bucket in days.items()],
        "totals": total.summary(),
        "ratings": {str(stars): distribution.get(stars, 0) for stars in range(1, 6)},
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
