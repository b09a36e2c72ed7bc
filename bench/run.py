"""The benchmark: starts the production configuration and the load generators, runs the scenarios
and writes the report (docs/benchmarks.md and its plots).

    python -m bench --scale full --out docs        # what `make bench` runs (several minutes)
    python -m bench --scale smoke --out /tmp/b     # seconds; tests/test_bench.py runs this

Order: c (panel, sweep, queries: in this process, on the bench database, before anything else
runs on it), r (the owners' reports on a year of a busy site, bench/reports.py, in this process
too), then e (bare relay), b (White Panel relay, expiry), a (presence ramp). Everything
runs on a Redis server and a database of the run's own, all stopped (and dropped) at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.reports import scenario_r
from bench.seed import ORIGIN, SITE, seed_operators
from bench.stack import (
    NGINX,
    PYTHON,
    Stack,
    bench_database,
    cpu_seconds,
    load_average,
    machine_cpu,
    nginx_balance,
    pids_with_cmdline,
    python_speed,
    rss_bytes,
    work_dir,
)

SCALES = {
    "smoke": {
        "ramp_steps": [6, 12],
        "ramp_window": 2.0,
        "nav": 1.0,
        "think": "exponential",
        "visitor_gens": 1,
        "operators": 2,
        "page_visitors": 10,
        "page_nav": 1.0,
        "page_window": 2.0,
        "relay_visitors": 8,
        "relay_rooms": 3,
        "relay_operators": 2,
        "relay_rates": [10, 30],
        "relay_seconds": 1.0,
        "scaleout_daphne": 2,
        "layer_shards": 2,
        "stored": 400,
        "online": 200,
        "snapshot_sizes": [20, 100],
        "sweep_due": [0, 10, 50],
        "leaves_due": [0, 10],
        "expiry_rooms": 2,
        "report_rooms": 3000,
        "report_operators": 3,
        "timings": {
            "WP_VISITOR_TIMEOUT": "2",
            "WP_ROOM_EXPIRY": "1",
            "WP_OPERATOR_TIMEOUT": "5",
            "WP_SWEEP_INTERVAL": "0.5",
        },
    },
    "full": {
        # Up to issue 20's 10,000 (scenario d); fewer small steps than before keep the run near 45 minutes.
        "ramp_steps": [500, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10_000],
        "ramp_window": 30.0,
        "nav": 30.0,
        # How long a visitor stays on a page, `nav` on average: bench/load.py's think_time.
        "think": "exponential",
        "visitor_gens": 2,
        "operators": 3,
        # Scenario p: the page event at a fixed load (issue 20), on White Panel over PostgreSQL, on the
        # embedded default (SQLite and a Redis of its own, as `make run` starts) and on the bare relay.
        "page_visitors": 3000,
        "page_nav": 5.0,
        "page_window": 30.0,
        "relay_visitors": 1000,
        "relay_rooms": 100,
        "relay_operators": 4,
        "relay_rates": [25, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1600],
        "relay_seconds": 15.0,
        # Scenario d's daphne processes (the machine has 2 cores).
        "scaleout_daphne": 2,
        # Scenario d's channel layer: sharded over this many Redis servers (the first is REDIS_URL's).
        "layer_shards": 2,
        "stored": 100_000,
        "online": 10_000,
        "snapshot_sizes": [1000, 5000, 10_000],
        "sweep_due": [0, 100, 10_000],
        "leaves_due": [0, 100, 1000],
        "expiry_rooms": 50,
        # A year of a busy site: a million conversations (bench/reports.py).
        "report_rooms": 1_000_000,
        "report_operators": 8,
        # SPEC §4 defaults, except the room expiry: 10 s instead of 60 keeps the probe short.
        "timings": {
            "WP_VISITOR_TIMEOUT": "60",
            "WP_ROOM_EXPIRY": "10",
            "WP_OPERATOR_TIMEOUT": "60",
            "WP_SWEEP_INTERVAL": "5",
        },
    },
}

# Rate limits (infra/ratelimit.py) the benchmark lifts, as WP_RATE_<name>.
LIFTED_LIMITS = (
    "VISITOR_MESSAGES",
    "IP_MESSAGES",
    "VISITOR_OPENS",
    "IP_OPENS",
    "VISITOR_PAGES",
    "IP_PAGES",
    "IP_HELLOS",
    "SOCKET_FRAMES",
    # A panel's frame budget: the relay's four operators write 100-800 messages a second.
    "PANEL_FRAMES",
)

# Where a ramp stops (scenario a): the limit.
P95_LIMIT_MS = 500.0
ERROR_LIMIT = 0.01


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


# Load generator processes -----------------------------------------------------------


class Gen:
    """A bench/load.py process; `ask` sends one command and waits for its one-line answer."""

    def __init__(self, stack: Stack, name: str):
        self.name = name
        self.proc = stack.spawn(name, "generator", [PYTHON, "-m", "bench.load"], piped=True)

    def send(self, cmd: str, **args) -> None:
        self.proc.process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.process.stdin.flush()

    def answer(self) -> dict:
        line = self.proc.process.stdout.readline()
        if not line:
            self.proc.check()
            raise RuntimeError(f"{self.name} said nothing")
        answer = json.loads(line)
        if "failed" in answer:
            raise RuntimeError(f"{self.name}: {answer['failed']}\n{self.proc.log.read_text()[-2000:]}")
        return answer

    def ask(self, cmd: str, **args) -> dict:
        self.send(cmd, **args)
        return self.answer()


def ask_all(gens: list[Gen], cmd: str, args: list[dict] | None = None) -> list[dict]:
    """The same command to several generators at once (they work in parallel)."""
    for i, gen in enumerate(gens):
        gen.send(cmd, **(args[i] if args else {}))
    return [gen.answer() for gen in gens]


def merged(drains: list[dict]) -> dict:
    out: dict = {"latencies": {}, "errors": {}, "counts": {}, "raw": {}}
    for drain in drains:
        for kind, values in drain.get("raw", {}).items():
            out["raw"].setdefault(kind, []).extend(values)
        for kind, values in drain["latencies"].items():
            out["latencies"].setdefault(kind, []).extend(values)
        for key in ("errors", "counts"):
            for kind, n in drain[key].items():
                out[key][kind] = out[key].get(kind, 0) + n
    return out


def wait_quiet(gens: list[Gen], *, quiet: float = 2.0, longest: float = 60.0) -> None:
    """Until nothing new arrives for `quiet` seconds: a queue left behind by a rate the server could not
    keep up with is measured in its own level (late, not lost) and does not spill into the next."""
    deadline = time.monotonic() + longest
    last, still = -1, 0.0
    while time.monotonic() < deadline and still < quiet:
        n = sum(answer["n"] for answer in ask_all(gens, "received"))
        still = still + 0.5 if n == last else 0.0
        last = n
        time.sleep(0.5)


def quit_all(stack: Stack, gens: list[Gen]) -> None:
    for gen in gens:
        if gen.proc.alive():
            try:
                gen.ask("quit")
            except (RuntimeError, OSError):
                pass
    stack.stop([gen.proc for gen in gens])


# Process measurements -------------------------------------------------------------------


class Meter:
    """CPU use of each group of processes (and of the machine) over a window, in % of one core."""

    def __init__(self, stack: Stack, db_name: str):
        self.stack = stack
        self.db_name = db_name

    def pids(self) -> dict[str, list[int]]:
        groups = {g: self.stack.group_pids(g) for g in ("daphne", "nginx", "celery", "redis", "generator")}
        groups["postgres"] = pids_with_cmdline(self.db_name) if self.db_name else []
        return groups

    def start(self) -> None:
        self.started = time.monotonic()
        # Per process: a PostgreSQL backend that ends inside the window takes its CPU with it,
        # which a group's sums before and after would count as negative.
        self.cpu0 = {g: {p: cpu_seconds(p) for p in pids} for g, pids in self.pids().items()}
        self.machine0 = machine_cpu()

    def stop(self) -> dict:
        wall = time.monotonic() - self.started
        used = {
            g: {p: max(0.0, cpu_seconds(p) - self.cpu0.get(g, {}).get(p, 0.0)) for p in pids}
            for g, pids in self.pids().items()
        }
        busy, total, stolen = machine_cpu()
        out = {f"cpu_{g}": round(100 * sum(by_pid.values()) / wall, 1) for g, by_pid in used.items()}
        # Each daphne process's part (how evenly the proxy spreads the visitors).
        out["cpu_daphne_each"] = [round(100 * c / wall, 1) for c in used["daphne"].values()]
        out["cpu_machine"] = round(100 * os.cpu_count() * (busy - self.machine0[0]) / max(1, total - self.machine0[1]))
        # A shared host's hypervisor may run another guest on these cores: the part of the
        # window it took (in % of one core, like the rest) says how far the run was slowed.
        out["cpu_stolen"] = round(100 * os.cpu_count() * (stolen - self.machine0[2]) / max(1, total - self.machine0[1]))
        out["load"] = load_average()
        return out

    def daphne_rss(self) -> int:
        return sum(rss_bytes(p) for p in self.stack.group_pids("daphne"))


# Scenario c: panel, sweep, queries (in this process) ------------------------------------


def scenario_c(cfg: dict) -> dict:
    from asgiref.sync import async_to_sync
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from chat import selectors, services, visiting
    from chat.expiry import sweep
    from chat.models import Room
    from operators.models import Operator
    from visitors import services as visitor_services
    from visitors.models import Site, Visitor
    from visitors.presence import visitor_presence
    from visitors.visits import visits

    out: dict = {"stored": cfg["stored"], "online": cfg["online"]}
    site = Site.objects.create(key="panel", name="Panel", allowed_origins=ORIGIN)
    user = get_user_model().objects.create(username="panel-op", first_name="Paula")
    operator = Operator.objects.create(user=user)
    operator.sites.set([site])
    operator = Operator.objects.select_related("user").get(pk=operator.pk)

    say(f"c: storing {cfg['stored']} visitors and rooms")
    now = timezone.now()
    started = time.monotonic()
    Visitor.objects.bulk_create(
        (
            Visitor(
                site=site,
                token_hash=f"c{i:063d}",
                first_seen=now,
                since=now - timedelta(seconds=i),
                last_seen=now,
                url=f"{ORIGIN}/products/{i}",
                title=f"Product {i}",
                pages=3,
            )
            for i in range(cfg["stored"])
        ),
        batch_size=5000,
    )
    ids = list(Visitor.objects.filter(site=site).order_by("id").values_list("id", flat=True))
    Room.objects.bulk_create(
        (
            Room(site=site, visitor_id=v, status="expired", reason="visitor_left", created_at=now, ended_at=now)
            for v in ids
        ),
        batch_size=5000,
    )
    # A pool of 100 requests, as a busy site has.
    Room.objects.bulk_create(Room(site=site, visitor_id=v, status="pending", created_at=now) for v in ids[:100])
    out["fill_seconds"] = round(time.monotonic() - started, 1)

    out["snapshot"] = []
    for size in cfg["snapshot_sizes"]:
        Visitor.objects.filter(site=site).update(online=False)
        Visitor.objects.filter(pk__in=ids[:size]).update(online=True)
        times = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                frame = json.dumps(selectors.operator_snapshot(operator=operator), separators=(",", ":"))
                times.append((time.perf_counter() - t0) * 1000)
        out["snapshot"].append(
            {"visitors": size, "ms": round(statistics.median(times), 1), "queries": len(queries), "bytes": len(frame)}
        )
        say(f"c: snapshot of {size} visitors: {out['snapshot'][-1]}")

    # Sweeps, with cfg["online"] visitors online and none of them due. The first sweep finds
    # Redis without presence state and gives every online visitor a deadline: done once, untimed.
    Visitor.objects.filter(site=site).update(online=False)
    Visitor.objects.filter(pk__in=ids[: cfg["online"]]).update(online=True)
    sweep(now=timezone.now())
    redis = visitor_presence._redis()
    redis.delete(visitor_presence._absent_key)
    out["sweep_rooms"] = []
    # Rooms due from the offline visitors' rooms; visitors leaving from the online ones.
    pool = iter(ids[cfg["online"] :])
    leaving = iter(reversed(ids[100 : cfg["online"]]))

    def timed_sweep(what: str, due: int) -> dict:
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            result = sweep(now=timezone.now())
            ms = (time.perf_counter() - t0) * 1000
        done = result.rooms_expired if what == "rooms due" else result.visitors_left
        assert done == due, (result, due)
        say(f"c: sweep with {due} {what}: {ms:.1f} ms")
        return {"due": due, "ms": round(ms, 1), "queries": len(queries)}

    for due in cfg["sweep_due"]:
        picked = [next(pool) for _ in range(due)]
        Room.objects.filter(visitor_id__in=picked).update(status="closing", expires_at=timezone.now() - timedelta(1))
        out["sweep_rooms"].append(timed_sweep("rooms due", due))
    out["sweep_visitors"] = []
    for due in cfg["leaves_due"]:
        picked = [next(leaving) for _ in range(due)]
        if picked:
            redis.zadd(visitor_presence._absent_key, {str(v): time.time() - 1 for v in picked})
        out["sweep_visitors"].append(timed_sweep("visitors leaving", due))
    # The live scenarios must not inherit these: offline, and no deadlines left in Redis.
    Visitor.objects.filter(site=site).update(online=False)
    redis.delete(visitor_presence._absent_key)

    # Database queries per socket event (the service each socket frame calls).
    qsite = Site.objects.create(key="queries", name="Queries", allowed_origins=ORIGIN)
    operator.sites.add(qsite)
    operator = Operator.objects.select_related("user").get(pk=operator.pk)
    counts = []

    def count(event: str, call):
        with CaptureQueriesContext(connection) as queries:
            value = call()
        counts.append({"event": event, "queries": len(queries)})
        return value

    visitor, token = count(
        "hello (new visitor)",
        lambda: (
            v := visitor_services.visitor_identify(site=qsite, token=None),
            visiting.visitor_arrive(visitor=v[0]),
        )[0],
    )
    count(
        "hello (same visitor, new tab)",
        lambda: visiting.visitor_arrive(visitor=visitor_services.visitor_identify(site=qsite, token=token)[0]),
    )
    count(
        "hello with its page and history (the snippet's)",
        lambda: visiting.visitor_welcome(
            visitor=visitor_services.visitor_identify(site=qsite, token=token)[0],
            page={"url": ORIGIN, "title": "", "referrer": ""},
            history=0,
        ),
    )
    count(
        "hello with its page and history, its token known to the process (the snippet's, next page)",
        lambda: visiting.visitor_welcome_known(
            visitor_id=visitor.pk, token=token, page={"url": ORIGIN, "title": "", "referrer": ""}, history=0
        ),
    )
    count(
        "page, by the database (a visit's first page, or one Redis lost)",
        lambda: visiting.visitor_page_view(visitor_id=visitor.pk, url=ORIGIN, title="", referrer=""),
    )
    page = {"url": ORIGIN, "title": "", "referrer": ""}
    count(
        "page of a visit in progress (Redis only)",
        lambda: async_to_sync(visits.page)(visitor.pk, page=page, now=timezone.now()),
    )

    async def pages(n: int) -> None:
        for _ in range(n):
            await visits.page(visitor.pk, page=page, now=timezone.now())

    async_to_sync(pages)(999)
    count("page views flushed to the database, 1,000 at once", visitor_services.page_views_flush)
    count("open (the chat window, no room yet)", lambda: services.room_open(visitor_id=visitor.pk))
    room = count(
        "first message (the chat request)",
        lambda: services.message_send_by_visitor(visitor_id=visitor.pk, body="hello"),
    ).room
    count("accept", lambda: services.room_accept(room_id=room.pk, operator=operator))
    count("message (visitor)", lambda: services.message_send_by_visitor(visitor_id=visitor.pk, body="hi"))
    count(
        "message (operator)", lambda: services.message_send_by_operator(room_id=room.pk, operator=operator, body="yo")
    )
    count("close (operator)", lambda: services.room_close(room_id=room.pk, operator=operator))
    count("history (visitor)", lambda: selectors.visitor_history(visitor_id=visitor.pk, after=0))
    for size in (10, 1000):
        Visitor.objects.filter(site=site).update(online=False)
        Visitor.objects.filter(pk__in=ids[:size]).update(online=True)
        count(f"snapshot, {size} visitors online", lambda: selectors.operator_snapshot(operator=operator))
    Visitor.objects.filter(site=site).update(online=False)
    out["queries"] = counts
    return out


# The live scenarios ------------------------------------------------------------------------


def relay(stack: Stack, meter: Meter, cfg: dict, *, protocol: str, bases: list[str], cookies: list[str]) -> dict:
    """Scenarios b and e: idle visitors online, rooms of chatting visitors, messages both ways."""
    rooms = cfg["relay_rooms"]
    ops = Gen(stack, f"gen-{protocol}-operators")
    chat = Gen(stack, f"gen-{protocol}-chatters")
    idle = Gen(stack, f"gen-{protocol}-idle")
    gens = [ops, chat, idle]
    out: dict = {"protocol": protocol, "levels": []}
    try:
        idle.ask("visitors", bases=bases, n=cfg["relay_visitors"] - rooms, site=SITE, protocol=protocol, nav=0)
        room_ids = list(range(1, rooms + 1))
        if protocol == "wp":
            # The operators online first: the chatters' first messages are live chat requests, as
            # on a staffed site, not offline ones (R16: asked while nobody was online), whose
            # every reply also checks whether it is to be mailed.
            ops.ask("operators", bases=bases, cookies=cookies, protocol=protocol, rooms=[[] for _ in cookies])
            time.sleep(2)
        opened = chat.ask("chatters", bases=bases, rooms=room_ids, site=SITE, protocol=protocol)["rooms"]
        if protocol != "wp":
            per_op = [opened[i :: len(cookies)] for i in range(len(cookies))]
            ops.ask("operators", bases=bases, cookies=cookies, protocol=protocol, rooms=per_op)
        if protocol == "wp":
            accepted = ops.ask("accept", rooms=opened)["accepted"]
            if accepted != len(opened):
                raise RuntimeError(f"only {accepted} of {len(opened)} rooms accepted")
        time.sleep(1)
        ask_all(gens, "drain")
        for rate in cfg["relay_rates"]:
            meter.start()
            ask_all(
                [chat, ops],
                "relay",
                [{"side": side, "rate": rate / 2, "seconds": cfg["relay_seconds"]} for side in ("visitor", "operator")],
            )
            wait_quiet(gens)
            cpu = meter.stop()
            drain = merged(ask_all(gens, "drain"))
            if os.environ.get("BENCH_RAW"):
                Path(stack.work / f"raw-{protocol}-{rate}.json").write_text(json.dumps(drain.get("raw")))
            latencies = drain["latencies"].get("relay:visitor", []) + drain["latencies"].get("relay:operator", [])
            sent = rate * cfg["relay_seconds"]
            level = {
                "rate": rate,
                **summary(latencies),
                "delivered": round(len(latencies) / sent, 3),
                "delivered_per_s": round(len(latencies) / cfg["relay_seconds"], 1),
                "errors": sum(drain["errors"].values()),
                "error_kinds": drain["errors"],
                **cpu,
            }
            out["levels"].append(level)
            say(
                f"{protocol} relay {rate}/s: p50 {level['p50']} p95 {level['p95']} p99 {level['p99']} ms, "
                f"delivered {level['delivered']:.0%}, errors {level['errors']}, cpu {cpu}"
            )
            # Far past saturation: the next, higher rates would only take longer to say the same.
            if level["delivered"] < 0.5 or (level["p50"] or 0) > 1000:
                break
        if protocol == "wp" and cfg["expiry_rooms"]:
            expiry = float(stack.env["WP_ROOM_EXPIRY"])
            chat.ask("forget", rooms=ops.ask("close_rooms", n=cfg["expiry_rooms"])["closing"])
            wait = expiry + float(stack.env["WP_SWEEP_INTERVAL"]) + 3
            # Under load: the other rooms go on talking (both ways, at the lowest rate) while these expire.
            ask_all(
                [chat, ops],
                "relay",
                [
                    {"side": side, "rate": cfg["relay_rates"][0] / 2, "seconds": wait}
                    for side in ("visitor", "operator")
                ],
            )
            wait_quiet(gens, quiet=3.0)
            drain = merged(ask_all(gens, "drain"))
            late = [ms / 1000 for ms in drain["latencies"].get("expiry_late", [])]
            out["expiry"] = {
                "rooms": cfg["expiry_rooms"],
                **summary(late),
                "sweep_interval": stack.env["WP_SWEEP_INTERVAL"],
            }
            say(f"expiry lateness (s): {out['expiry']}")
    finally:
        quit_all(stack, gens)
    return out


def step_verdict(step: dict) -> str:
    """Why a ramp step is past the limit ("" if it is not)."""
    # What the operator notices: from the page opening (connect, the hello carrying the page) to the panel.
    if step["navigation"]["n"] == 0 or (step["navigation"]["p95"] or 0) > P95_LIMIT_MS:
        return "p95"
    if (step["page_events_delivered"] or 0) < 1 - ERROR_LIMIT:
        return "late or lost page events"
    if step["errors"] > ERROR_LIMIT * step["visitors"]:
        return "errors"
    return ""


def settle(gens: list[Gen], *, limit: float) -> float | None:
    """Seconds until no page load waits for a handshake slot in any of these generators; None if
    the queue is still there after `limit` seconds (the window that follows then shows it)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if sum(answer["waiting"] for answer in ask_all(gens, "backlog")) == 0:
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    return None


def presence_ramp(
    stack: Stack,
    meter: Meter,
    cfg: dict,
    *,
    bases: list[str],
    cookies: list[str],
    daphne: int = 1,
    protocol: str = "wp",
    name: str = "",
) -> dict:
    """Scenario a: more and more visitors, each navigating every `nav` seconds, until p95 from a
    page event to the operators' `visitor` event passes P95_LIMIT_MS or errors appear."""
    name = name or f"ramp{daphne}"
    ops = Gen(stack, f"gen-{name}-operators")
    visitors = [Gen(stack, f"gen-{name}-visitors-{i + 1}") for i in range(cfg["visitor_gens"])]
    out: dict = {"daphne": daphne, "steps": []}
    try:
        ops.ask("operators", bases=bases, cookies=cookies, protocol=protocol, rooms=[])
        time.sleep(1)
        base_rss = meter.daphne_rss()
        out["daphne_rss_base"] = base_rss
        held = 0
        for target in cfg["ramp_steps"]:
            add = target - held
            shares = [add // len(visitors) + (1 if i < add % len(visitors) else 0) for i in range(len(visitors))]
            started = time.monotonic()
            ask_all(
                visitors,
                "visitors",
                [
                    {
                        "bases": bases,
                        "n": n,
                        "site": SITE,
                        "protocol": protocol,
                        "nav": cfg["nav"],
                        "think": cfg["think"],
                        "mode": cfg.get("visitor_mode", "navigate"),
                    }
                    for n in shares
                ],
            )
            ramp_seconds = time.monotonic() - started
            held = target
            # The burst of connections leaves a queue behind; the window measures the steady state
            # after it. The queue: the generators' page loads waiting for a handshake slot, the new
            # visitors' and the navigations of those already there that came in behind them.
            time.sleep(min(10.0, cfg["ramp_window"] / 3))
            settle_seconds = settle(visitors, limit=cfg.get("settle_limit", 120.0))
            ask_all([ops, *visitors], "drain")
            meter.start()
            window = (time.time(), time.time() + cfg["ramp_window"])
            time.sleep(cfg["ramp_window"])
            cpu = meter.stop()
            rss = meter.daphne_rss()
            # Only pages sent inside the window count, late ones too: they get a grace period to arrive.
            time.sleep(min(10.0, cfg["ramp_window"] / 3))
            since, until = window
            drain = merged(ask_all([ops, *visitors], "drain", [{"since": since, "until": until}] * (1 + len(visitors))))
            errors = sum(drain["errors"].values())
            if os.environ.get("BENCH_RAW"):
                Path(stack.work / f"raw-{target}.json").write_text(json.dumps(drain.get("raw")))
            expected = drain["counts"].get("pages_sent", 0) * len(cookies)
            received = len(drain["latencies"].get("page", []))
            step = {
                "visitors": target,
                "connect_seconds": round(ramp_seconds, 1),
                "settle_seconds": settle_seconds,
                "navigation": summary(drain["latencies"].get("navigation", [])),
                "page": summary(drain["latencies"].get("page", [])),
                "hello": summary(drain["latencies"].get("hello", [])),
                # Where a navigation's time went before its hello: a generator's handshake slot, the connect.
                "slot": summary(drain["latencies"].get("slot", [])),
                "connect": summary(drain["latencies"].get("connect", [])),
                "navigations": drain["counts"].get("navigations", 0),
                "page_events_delivered": round(received / expected, 3) if expected else None,
                "errors": errors,
                "error_kinds": drain["errors"],
                "daphne_rss_mb": round(rss / 2**20, 1),
                "rss_per_socket_kb": round((rss - base_rss) / target / 1024, 1),
                **cpu,
            }
            out["steps"].append(step)
            say(
                f"{name} {target} visitors (queue gone after {settle_seconds} s): "
                f"navigation p95 {step['navigation']['p95']} ms, "
                f"page p95 {step['page']['p95']} ms, hello p95 "
                f"{step['hello']['p95']} ms, slot p95 {step['slot']['p95']} ms, connect p95 "
                f"{step['connect']['p95']} ms, errors {errors}, rss/socket {step['rss_per_socket_kb']} KB, {cpu}"
            )
            verdict = step_verdict(step)
            if verdict:
                out["stopped_by"] = verdict
                break
        good = [s for s in out["steps"] if not step_verdict(s)]
        out["held"] = max((s["visitors"] for s in good), default=0)
    finally:
        quit_all(stack, [ops, *visitors])
    return out


# Scenario p: the page event at a fixed load, three ways ----------------------------------------


# Scenario p's legs on the run's database: as shipped, and with one choice of issue 20 undone.
P_VARIANTS = (
    ("database", {}),
    ("unpatched", {"WP_PATCHES": "0"}),
    ("redis_py", {"WP_REDIS_CLIENT": "redis-py"}),
)


def page_events(stack: Stack, meter: Meter, cfg: dict, *, cookies: list[str], work: Path) -> dict:
    """`page_visitors` visitors each reporting a page every `page_nav` seconds on their open socket
    (a `page` frame), one operator watching, on one daphne process: the bare relay of the same frames
    (bench/bare.py), White Panel on the run's database, and White Panel as `make run` gives it
    (SQLite, a Redis of its own). Latency: the `page` frame sent → the operator's `visitor` event."""
    fixed = {**cfg, "ramp_steps": [cfg["page_visitors"]], "nav": cfg["page_nav"], "ramp_window": cfg["page_window"]}
    # Each page a `page` frame on the visitor's open socket, as the issue measured it: the generators'
    # connection slots (a new socket each page, as in a) would cap 3,000 visitors' 600 pages a second.
    fixed["visitor_mode"] = "frames"
    out: dict = {}
    settle = float(cfg["timings"]["WP_VISITOR_TIMEOUT"]) + 2 * float(cfg["timings"]["WP_SWEEP_INTERVAL"])

    bare = stack.start_daphne(app="bench.bare:application", name="daphne-bare")
    out["bare"] = presence_ramp(
        stack, meter, fixed, bases=[bare], cookies=[""], protocol="bare-presence", name="p-bare"
    )
    stack.stop([p for p in stack.procs if p.group == "daphne"])
    stack.daphne_bases.clear()

    # White Panel as configured, then without the patches of other projects' internals, then
    # with redis-py's client in place of the pipelined one: what each of those buys (issue 20).
    stack.start_celery()
    for key, changes in P_VARIANTS:
        saved = dict(stack.env)
        stack.env.update(changes)
        try:
            base = stack.start_daphne()
            out[key] = presence_ramp(stack, meter, fixed, bases=[base], cookies=cookies[:1], name=f"p-{key}")
            out[key]["settings"] = changes
        finally:
            stack.env = saved
            stack.stop([p for p in stack.procs if p.group == "daphne"])
            stack.daphne_bases.clear()
        # Its visitors leave the site (the sweep) before anything else is measured.
        say(f"settling {settle:.0f} s")
        time.sleep(settle)
    stack.stop([p for p in stack.procs if p.group == "celery"])

    # The embedded default: a SQLite file and a Redis server of the leg's own.
    saved = dict(stack.env)
    sqlite = work / "embedded.sqlite3"
    stack.env = {**stack.env, "DATABASE_URL": f"sqlite:///{sqlite}", "REDIS_URL": stack.start_redis()}
    stack.env["WP_REDIS_PREFIX"] = stack.env["WP_REDIS_PREFIX"] + "-embedded"
    try:
        seeded = subprocess.run(
            [PYTHON, "-m", "bench.seed", "1"], env=stack.env, check=True, capture_output=True, text=True
        )
        embedded_cookies = json.loads(seeded.stdout)
        stack.start_celery()
        base = stack.start_daphne()
        out["embedded"] = presence_ramp(stack, meter, fixed, bases=[base], cookies=embedded_cookies, name="p-embedded")
    finally:
        stack.stop([p for p in stack.procs if p.group in ("daphne", "celery")])
        stack.daphne_bases.clear()
        stack.env = saved
    return out


# Machine and versions --------------------------------------------------------------------------


def environment(database_url: str, redis_url: str) -> dict:
    from importlib.metadata import version

    import redis
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("select sqlite_version()")
            db = f"SQLite {cursor.fetchone()[0]}"
    packages = ["django", "channels", "channels-redis", "daphne", "celery", "redis", "hiredis", "psycopg", "websockets"]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(mem) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "database": db,
        "redis": "Redis " + redis.Redis.from_url(redis_url).info("server")["redis_version"],
        "packages": {name: version(name) for name in packages},
    }


# Main ----------------------------------------------------------------------------------------------


RUN_FIELDS = ("started", "load_before", "load_after", "speed_before", "speed_after")


def merge_runs(runs: list[dict]) -> dict:
    """One report from several runs: each scenario from the last run that measured it."""
    merged: dict = {**runs[-1], "runs": []}
    for i, run in enumerate(runs):
        scenarios = [key for key in "abcdepr" if key in run and not any(key in later for later in runs[i + 1 :])]
        merged.update({key: run[key] for key in scenarios})
        # A report's own results are merged already: the runs they came from are named, not the last of them.
        parts = run.get("runs") or [{k: run.get(k) for k in RUN_FIELDS} | {"scenarios": scenarios}]
        for part in parts:
            kept = [key for key in part["scenarios"] if key in scenarios]
            if kept:
                merged["runs"].append(part | {"scenarios": kept})
    return merged


def checkpoint(work: Path, results: dict) -> None:
    """What is measured so far, so a run that fails late still leaves its numbers (--report-from)."""
    (work / "results.json").write_text(json.dumps(results, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("BENCH_SCALE", "smoke"))
    parser.add_argument("--out", type=Path, required=True, help="directory for benchmarks.md and img/bench-*.png")
    parser.add_argument("--database", choices=["pg", "sqlite"], default=os.environ.get("BENCH_DATABASE", "pg"))
    parser.add_argument("--scenarios", default="crepbad", help="which to run, in this order (default: crepbad)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=JSON", help='change one size, e.g. ramp_steps="[500,1000]"'
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        help="only write the report, from runs' results.json (scenarios of later files replace earlier ones)",
    )
    args = parser.parse_args(argv)
    if args.report_from:
        from bench.report import write_report

        write_report(merge_runs([json.loads(path.read_text()) for path in args.report_from]), args.out)
        return 0
    cfg = dict(SCALES[args.scale])
    for change in args.set:
        key, value = change.split("=", 1)
        if key not in cfg:
            parser.error(f"unknown size {key!r}: one of {', '.join(cfg)}")
        cfg[key] = json.loads(value)

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets; children inherit it
    tag = secrets.token_hex(3)
    work = work_dir()
    stack = Stack(work)
    results: dict = {"scale": args.scale, "config": cfg, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    results["load_before"], results["speed_before"] = load_average(), python_speed()
    say(f"{args.scale} run, logs in {work} (kept if the run fails, or with BENCH_KEEP=1)")
    try:
        redis_url = stack.start_redis()
        with bench_database(args.database, work, tag) as database_url:
            # Production settings: none of the caller's (a test run's shrunk timings, its database).
            inherited = {k: v for k, v in os.environ.items() if not k.startswith("WP_") and k != "DATABASE_URL"}
            stack.env = {
                **inherited,
                **cfg["timings"],
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "WP_REDIS_PREFIX": f"wpbench-{tag}",
                "WP_VAR_DIR": str(work / "var"),
                "SECRET_KEY": secrets.token_urlsafe(40),
                "DJANGO_SETTINGS_MODULE": "whitepanel.settings",
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING",
                # All the load comes from one address (127.0.0.1) and the relay's visitors write faster
                # than people do: the limits are lifted, the check itself still runs on every frame.
                **{f"WP_RATE_{name}": "100000000/60" for name in LIFTED_LIMITS},
                # Every visitor from the one address: the cap is counted, never reached.
                "WP_MAX_SOCKETS_PER_IP": "1000000000",
            }
            os.environ.update(stack.env)
            import django

            django.setup()
            from django.core.management import call_command

            call_command("migrate", "--noinput", verbosity=0)
            results["environment"] = environment(database_url, redis_url)
            db_name = database_url.rsplit("/", 1)[1] if args.database == "pg" else ""
            meter = Meter(stack, db_name)
            if "c" in args.scenarios:
                results["c"] = scenario_c(cfg)
                checkpoint(work, results)
            if "r" in args.scenarios:
                results["r"] = scenario_r(cfg, say=say)
                checkpoint(work, results)
            cookies = seed_operators(max(cfg["operators"], cfg["relay_operators"]), "op")
            # Connections opened by this process are not needed by the live scenarios.
            from django.db import connections

            connections.close_all()
            if "e" in args.scenarios:
                bare = stack.start_daphne(app="bench.bare:application", name="daphne-bare")
                results["e"] = relay(
                    stack, meter, cfg, protocol="bare", bases=[bare], cookies=cookies[:1] * cfg["relay_operators"]
                )
                checkpoint(work, results)
                stack.stop([p for p in stack.procs if p.name == "daphne-bare"])
                stack.daphne_bases.clear()
            if "p" in args.scenarios:
                results["p"] = page_events(stack, meter, cfg, cookies=cookies, work=work)
                results["p"]["database"]["kind"] = args.database
                checkpoint(work, results)
            stack.start_celery()
            base = stack.start_daphne()
            if "b" in args.scenarios:
                results["b"] = relay(
                    stack, meter, cfg, protocol="wp", bases=[base], cookies=cookies[: cfg["relay_operators"]]
                )
                checkpoint(work, results)
                # The relay's visitors leave after VISITOR_TIMEOUT; the ramp starts once the sweep is done with them.
                settle = float(cfg["timings"]["WP_VISITOR_TIMEOUT"]) + 2 * float(cfg["timings"]["WP_SWEEP_INTERVAL"])
                say(f"settling {settle:.0f} s")
                time.sleep(settle)
            # a and d go through nginx as deployed (deploy/nginx.conf), when it is installed.
            proxied = os.access(NGINX, os.X_OK)
            if "a" in args.scenarios:
                # A fresh process: the relay's sockets left memory behind that would hide the ramp's growth.
                stack.stop([p for p in stack.procs if p.group == "daphne"])
                base = stack.start_daphne()
                front = stack.start_nginx([base]) if proxied else base
                results["a"] = presence_ramp(stack, meter, cfg, bases=[front], cookies=cookies[: cfg["operators"]])
                results["a"].update(via="nginx" if proxied else "direct", layer_shards=1)
                checkpoint(work, results)
            if "d" in args.scenarios:
                # Scale-out: `scaleout_daphne` daphne processes behind nginx, the layer on `layer_shards` Redis servers.
                stack.stop([p for p in stack.procs if p.group in ("daphne", "celery", "nginx")])
                settle = float(cfg["timings"]["WP_VISITOR_TIMEOUT"]) + 2 * float(cfg["timings"]["WP_SWEEP_INTERVAL"])
                layer_hosts = [redis_url] + [stack.start_redis() for _ in range(cfg["layer_shards"] - 1)]
                stack.env = {
                    **stack.env,
                    "DJANGO_SETTINGS_MODULE": "bench.sharded_settings",
                    "BENCH_LAYER_HOSTS": ",".join(layer_hosts),
                }
                stack.start_celery()
                say(f"settling {settle:.0f} s")
                time.sleep(settle)
                bases = [stack.start_daphne() for _ in range(cfg["scaleout_daphne"])]
                front = stack.start_nginx(bases) if proxied else bases
                results["d"] = presence_ramp(
                    stack,
                    meter,
                    cfg,
                    bases=[front] if proxied else bases,
                    cookies=cookies[: cfg["operators"]],
                    daphne=len(bases),
                )
                results["d"].update(
                    via="nginx" if proxied else "direct", layer_shards=len(layer_hosts), balance=nginx_balance()
                )
            results["load_after"], results["speed_after"] = load_average(), python_speed()
            for proc in stack.procs:
                proc.check()
            stack.stop()
            connections.close_all()
    finally:
        stack.stop()
    from bench.report import write_report

    write_report(results, args.out)
    say(f"wrote {args.out / 'benchmarks.md'}")
    # The logs stay only when something failed (above) or when asked for.
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
