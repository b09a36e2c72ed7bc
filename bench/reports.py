"""Scenario r: the owners' reports on a year of a busy site (issue 25), in this process, on the
bench's database.

A year of conversations (`report_rooms`: a million at full scale) is stored in bulk, spread
over the 365 days up to now with a few operators and realistic times (accepts, first replies,
lengths, ratings); then a month's report and a year's are timed with no rollup stored (cold:
the first report of a range computes its settled days), again with them (warm), and the beat
task's rollup of every day from none."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta


def seed_year(*, rooms: int, operators: int, say: Callable[[str], None]) -> tuple:
    """The site, its operators and `rooms` rooms over the last 365 days (the newest a minute
    old), with their first replies; how long the storing took."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bench.seed import ORIGIN
    from chat.models import Room
    from operators.models import Operator
    from visitors.models import Site, Visitor

    site = Site.objects.create(key="reports", name="Reports", allowed_origins=ORIGIN, timezone="Europe/Paris")
    team = []
    for n in range(operators):
        user = get_user_model().objects.create(username=f"reports-op-{n}", first_name=f"Op{n}")
        operator = Operator.objects.create(user=user)
        operator.sites.set([site])
        team.append(operator.pk)
    now = timezone.now()
    # Ended rooms only: a visitor may have any number of them (one live room each, R7).
    Visitor.objects.bulk_create(
        Visitor(site=site, token_hash=f"r{i:063d}", first_seen=now, since=now, last_seen=now) for i in range(1000)
    )
    visitors = list(Visitor.objects.filter(site=site).values_list("id", flat=True))
    say(f"r: storing {rooms} rooms over a year")
    started = time.monotonic()
    rng = random.Random(25)
    year = 365 * 24 * 3600
    batch: list[Room] = []
    for i in range(rooms):
        created = now - timedelta(seconds=60 + rng.random() * year)
        kind = rng.random()
        routed, pooled = kind < 0.1, kind >= 0.2  # a tenth routed, a tenth started by an operator
        fields: dict = {"routed": routed, "pooled_at": created if pooled else None}
        if (not pooled and not routed) or rng.random() < 0.88:
            accepted = created if not pooled else created + timedelta(seconds=rng.expovariate(1 / 25))
            ended = accepted + timedelta(seconds=rng.expovariate(1 / 420))
            fields |= {
                "operator_id": rng.choice(team),
                "accepted_at": accepted,
                "first_reply_at": accepted + timedelta(seconds=rng.expovariate(1 / 12)),
                "ended_at": ended,
                "rating": rng.choices((1, 2, 3, 4, 5), (2, 2, 5, 20, 40))[0] if rng.random() < 0.3 else None,
            }
        else:
            # Missed: ended in the pool, some as offline requests.
            ended = created + timedelta(seconds=rng.expovariate(1 / 300))
            offline = created + timedelta(seconds=120) if rng.random() < 0.5 else None
            fields |= {"ended_at": ended, "offline_at": offline}
        batch.append(
            Room(
                site=site,
                visitor_id=visitors[i % len(visitors)],
                status="expired",
                reason="operator_closed",
                created_at=created,
                **fields,
            )
        )
        if len(batch) == 5000:
            Room.objects.bulk_create(batch)
            batch = []
    Room.objects.bulk_create(batch)
    return site, team, round(time.monotonic() - started, 1)


def timed(call: Callable[[], object]) -> tuple[object, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - started
    return result, round(seconds, 3), len(queries.captured_queries)


def measure(site, team: list[int], *, say: Callable[[str], None]) -> dict:
    """The reports' times, cold and warm, and the beat task's rollup of every day."""
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from chat import reports
    from chat.models import ReportDay

    today = timezone.now().astimezone(ZoneInfo(site.timezone)).date()
    end = today + timedelta(days=1)
    ranges = {"month": (end - timedelta(days=30), end), "year": (end - timedelta(days=365), end)}
    out: dict = {"timings": []}

    def report(name: str, state: str, operator_id: int | None = None) -> None:
        start, stop = ranges[name]
        body, seconds, queries = timed(
            lambda: reports.site_report(site=site, start=start, end=stop, operator_id=operator_id)
        )
        row = {
            "report": name + (" (one operator)" if operator_id else ""),
            "state": state,
            "seconds": seconds,
            "queries": queries,
            "conversations": body["totals"]["conversations"],
        }
        say(f"r: {row}")
        out["timings"].append(row)

    for name in ("month", "year"):
        ReportDay.objects.all().delete()
        report(name, "cold")
    report("year", "warm")
    report("month", "warm")
    report("year", "warm", operator_id=team[0])

    ReportDay.objects.all().delete()
    started = time.perf_counter()
    runs = days = 0
    while computed := reports.rollup_settled(now=timezone.now()):
        runs, days = runs + 1, days + computed
    out["rollup"] = {"seconds": round(time.perf_counter() - started, 2), "runs": runs, "days": days}
    out["rollup"]["rows"] = ReportDay.objects.count()
    say(f"r: beat rollup {out['rollup']}")
    report("year", "after the beat task")
    return out


def scenario_r(cfg: dict, *, say: Callable[[str], None]) -> dict:
    site, team, fill = seed_year(rooms=cfg["report_rooms"], operators=cfg["report_operators"], say=say)
    return {"rooms": cfg["report_rooms"], "operators": len(team), "fill_seconds": fill} | measure(site, team, say=say)
