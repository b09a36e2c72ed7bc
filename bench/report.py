"""The report: docs/benchmarks.md (tables, targets met or not) and its plots, from one run's results.

bench/analysis.md, written by hand after a full run, is copied into the page under "Analysis"."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
PLOTS = {"presence": "img/bench-presence.png", "relay": "img/bench-relay.png", "panel": "img/bench-panel.png"}


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(fmt(cell) if not isinstance(cell, str) else cell for cell in row) + " |" for row in rows
    ]
    return "\n".join(lines)


def best_rate(levels: list[dict], limit_ms: float = 50.0) -> float | None:
    """The highest offered rate whose p99 stayed under the limit with (nearly) every message delivered."""
    ok = [lv["rate"] for lv in levels if lv["p99"] is not None and lv["p99"] < limit_ms and lv["delivered"] >= 0.99]
    return max(ok, default=None)


def level_at(levels: list[dict], rate: float) -> dict | None:
    return next((lv for lv in levels if lv["rate"] == rate), None)


# Plots ---------------------------------------------------------------------------------------------


def save(fig, axes: list, path: Path, **legend) -> None:
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, **legend)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def think_words(cfg: dict) -> str:
    """How the report names the generator's think time (bench/load.py's think_time)."""
    if cfg.get("think", "even") == "even":
        return f"each stay on a page {0.9 * cfg['nav']:.0f}-{1.1 * cfg['nav']:.0f} s"
    return f"each stay on a page drawn from an exponential distribution of mean {cfg['nav']:.0f} s"


def latency(step: dict) -> dict:
    """A ramp step's verdict latency: from the page opening (runs before 2026-11-26 18:00 UTC
    measured from the `page` frame, after the hello, and have no "navigation")."""
    return step.get("navigation") or step["page"]


def plot_presence(results: dict, path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("a", "d"):
        steps = results.get(key, {}).get("steps", [])
        label = f"{results.get(key, {}).get('daphne', 1)} daphne"
        if not steps:
            continue
        xs = [s["visitors"] for s in steps]
        left.plot(xs, [latency(s)["p95"] for s in steps], "o-", label=f"navigation→panel p95, {label}")
        left.plot(xs, [latency(s)["p50"] for s in steps], "o--", label=f"navigation→panel p50, {label}")
        right.plot(xs, [s["cpu_daphne"] for s in steps], "o-", label=f"daphne CPU %, {label}")
        right.plot(xs, [s["cpu_machine"] for s in steps], "s--", label=f"machine CPU % (of 200), {label}")
    left.axhline(500, color="red", linewidth=0.8, label="500 ms limit")
    left.set(xlabel="visitors online", ylabel="ms", title="Presence: page opened → operator's visitor event")
    if results.get("a", {}).get("steps"):
        left.set_yscale("log")
    right.set(xlabel="visitors online", ylabel="% of one core", title="CPU")
    save(fig, [left, right], path)


def plot_relay(results: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, label, style in (("b", "White Panel", "-"), ("e", "bare Channels", "--")):
        levels = results.get(key, {}).get("levels", [])
        if not levels:
            continue
        xs = [lv["rate"] for lv in levels]
        for q, marker in (("p50", "o"), ("p95", "s"), ("p99", "^")):
            ax.plot(xs, [lv[q] for lv in levels], marker=marker, linestyle=style, label=f"{label} {q}")
    ax.axhline(50, color="red", linewidth=0.8, label="50 ms")
    ax.set(xlabel="messages per second (both ways)", ylabel="ms, send → other side", title="Relay latency")
    if results.get("b") or results.get("e"):
        ax.set_xscale("log")
        ax.set_yscale("log")
    save(fig, [ax], path, ncol=2)


def plot_panel(results: dict, path: Path) -> None:
    c = results.get("c", {})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    snaps = c.get("snapshot", [])
    left.plot([s["visitors"] for s in snaps], [s["ms"] for s in snaps], "o-")
    left.axhline(300, color="red", linewidth=0.8, label="300 ms target at 5,000")
    left.set(xlabel="visitors online", ylabel="ms", title="Operator snapshot (build + JSON)")
    sweeps = c.get("sweep_rooms", [])
    right.plot([max(1, s["due"]) for s in sweeps], [s["ms"] for s in sweeps], "o-", label="rooms due")
    leaves = c.get("sweep_visitors", [])
    right.plot([max(1, s["due"]) for s in leaves], [s["ms"] for s in leaves], "s-", label="visitors leaving")
    right.set(xlabel="items due (0 plotted at 1)", ylabel="ms", title=f"Sweep over {c.get('stored', 0):,} rooms")
    if sweeps or leaves:
        right.set_xscale("log")
        right.set_yscale("log")
    save(fig, [left, right], path)


# Page ---------------------------------------------------------------------------------------------


def targets(results: dict) -> list[list]:
    rows = []

    def row(target: str, measured, met: bool | None, note: str = "") -> None:
        verdict = "-" if met is None else ("met" if met else "**not met**")
        rows.append([target, measured if isinstance(measured, str) else fmt(measured), verdict, note])

    a = results.get("a")
    if a:
        # The machine's ceiling: one daphne process (a) or two (d), whichever held more.
        best = max((r for r in (a, results.get("d")) if r), key=lambda r: r["held"])
        row(
            "≥ 5,000 visitor sockets at p95 < 500 ms",
            f"{best['held']:,} held",
            best["held"] >= 5000,
            f"{best['daphne']} daphne process(es); ramp stopped by {best.get('stopped_by', 'its last step')}",
        )
        # At the most sockets the process kept up with: the largest sample that is still a steady state.
        held = next((s for s in a["steps"] if s["visitors"] == a["held"]), a["steps"][-1] if a["steps"] else None)
        per_socket = held["rss_per_socket_kb"] if held else None
        row(
            "≤ 50 KB server memory per visitor socket",
            f"{fmt(per_socket)} KB",
            per_socket is not None and per_socket <= 50,
            f"daphne RSS growth / sockets at {held['visitors']:,} (fresh process)" if held else "",
        )
    p = results.get("p")
    if p:
        bare = p_latency(p.get("bare"))
        database, embedded = p_latency(p.get("database")), p_latency(p.get("embedded"))
        kind = {"pg": "PostgreSQL", "sqlite": "SQLite"}.get(p.get("database", {}).get("kind"), "the run's database")
        load = (
            f"{p_visitors(p):,} visitors x a page frame every {results['config'].get('page_nav', 5):.0f} s, one daphne"
        )
        for name, value in ((kind, database), ("the embedded default (SQLite, own Redis)", embedded)):
            ratio = value / bare if value and bare else None
            row(
                f"page→panel p95 on {name} ≤ 1.5x the bare relay's",
                f"{ratio:.2f}x ({fmt(value)} vs {fmt(bare)} ms)" if ratio else "not measured",
                ratio is not None and ratio <= 1.5,
                load,
            )
        unpatched, redis_py = p_latency(p.get("unpatched")), p_latency(p.get("redis_py"))
        if database and unpatched:
            row(
                "the patches of other projects stay only if they gain ≥ 5 %",
                f"{1 - database / unpatched:+.0%} (p95 {fmt(database)} vs {fmt(unpatched)} ms without)",
                None,
                f"daphne CPU {p_cpu(p.get('database'))} vs {p_cpu(p.get('unpatched'))} % without",
            )
        if database and redis_py:
            row(
                "the pipelined Redis client stays only if redis-py is > 10 % slower",
                f"redis-py {redis_py / database - 1:+.0%} (p95 {fmt(redis_py)} vs {fmt(database)} ms)",
                None,
                f"daphne CPU {p_cpu(p.get('redis_py'))} vs {p_cpu(p.get('database'))} % pipelined",
            )
        if kind == "PostgreSQL" and database and embedded:
            row(
                "the embedded default within 1.25x of PostgreSQL",
                f"{embedded / database:.2f}x",
                embedded / database <= 1.25,
                f"page→panel p95 {fmt(embedded)} vs {fmt(database)} ms",
            )
    d = results.get("d")
    if d:
        row(
            "scenario d holds ≥ 10,000 visitors at p95 < 500 ms",
            f"{d['held']:,} held",
            d["held"] >= 10_000,
            f"{d['daphne']} daphne processes; stopped by {d.get('stopped_by', 'its last step')}",
        )
    b = results.get("b")
    # 200 msg/s: issue 9's target; 400: the record before issue 20, which may not get worse.
    for rate in (200, 400) if b else ():
        level = level_at(b["levels"], rate)
        p99 = level["p99"] if level else None
        row(
            f"relay p99 < 50 ms at {rate} msg/s",
            f"{fmt(p99)} ms" if level else "not measured",
            p99 < 50 if level and p99 is not None else None,
        )
    c = results.get("c")
    if c:
        snap = next((s for s in c["snapshot"] if s["visitors"] == 5000), None)
        row(
            "snapshot of 5,000 visitors < 300 ms",
            f"{fmt(snap['ms'])} ms" if snap else "not measured",
            snap["ms"] < 300 if snap else None,
        )
        zero = next((s for s in c["sweep_rooms"] if s["due"] == 0), None)
        row(
            f"sweep over {c['stored']:,} rows < 100 ms, proportional to what is due",
            f"{fmt(zero['ms'])} ms with nothing due" if zero else "-",
            zero["ms"] < 100 if zero and c["stored"] >= 100_000 else None,
            ", ".join(f"{s['due']:,} due: {fmt(s['ms'])} ms" for s in c["sweep_rooms"]),
        )
    e = results.get("e")
    if b and e:
        wp, bare = best_rate(b["levels"]), best_rate(e["levels"])
        ratio = wp / bare if wp and bare else None
        row(
            "relay throughput ≥ 50 % of the bare consumer",
            f"{ratio:.0%}" if ratio else "-",
            ratio is not None and ratio >= 0.5,
            f"highest rate with p99 < 50 ms: {fmt(wp)} vs {fmt(bare)} msg/s (the bare run stops at "
            f"{fmt(e['levels'][-1]['rate'])} msg/s, its last level)",
        )
    if b and b.get("expiry"):
        late = b["expiry"]["p99"]
        row(
            "expiry ≤ 1 s late at p99 under load",
            f"{fmt(late)} s",
            late is not None and late <= 1,
            f"sweep every {b['expiry']['sweep_interval']} s",
        )
    return rows


def render(results: dict) -> str:
    env = results.get("environment", {})
    cfg = results["config"]
    out = [
        "# Benchmarks",
        "",
        "How far one machine goes with White Panel: visitors held online, relay latency, panel and sweep "
        "costs, measured by `make bench` (`bench/`), which starts the production configuration itself "
        "(PostgreSQL, its own Redis, daphne with `whitepanel/launch.py`'s flags, a Celery worker and beat) "
        "and load generators (asyncio websocket clients) in separate processes.",
        "",
        "**The load generators run on the same 2 cores as the server**: every figure below includes "
        "their cost (their CPU use is in the tables). A dedicated client machine would show more headroom.",
        "",
        "This page is generated by the benchmark from the run(s) named below; the *Analysis* section is "
        "written by hand (`bench/analysis.md`). Each run leaves its numbers in `results.json` (this page's: "
        "`img/bench-results.json`); `python -m bench --report-from RUN1 RUN2 --out docs` rewrites the page "
        "from several runs, each scenario from the last run that measured it. `--set key=value` changes a "
        "size (`python -m bench --help`).",
        "",
        "```sh",
        "make bench                    # BENCH_SCALE=full: the run below (about 40 minutes)",
        "make bench BENCH_SCALE=smoke  # about a minute, tiny sizes: what tests/test_bench.py runs",
        "```",
        "",
        runs_line(results),
        "",
        "## Machine, versions, settings",
        "",
        table(
            ["", ""],
            [
                ["CPU", f"{env.get('cpu', '?')}, {env.get('cores', '?')} cores, {env.get('memory_gb', '?')} GB"],
                ["OS", f"Linux {env.get('kernel', '?')}, Python {env.get('python', '?')}"],
                ["database", env.get("database", "?")],
                ["Redis", f"{env.get('redis', '?')} (own server for the run)"],
                ["packages", ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())],
                ["daphne", "1 process (2 in scenario d), `whitepanel.launch.daphne_args`"],
                ["channel layer", "`chat.layers.ResyncingPubSubChannelLayer` (RedisPubSubChannelLayer)"],
                ["timings", ", ".join(f"{k}={v}" for k, v in cfg["timings"].items())],
                [
                    "clients",
                    "visitors `bench/lean.py` (a browser socket's frames), operators `websockets`; no per-message "
                    "compression; navigation = close + reconnect + a hello carrying the page and asking for the "
                    "history, as the snippet sends it",
                ],
            ],
        ),
        "",
        "## Targets",
        "",
        table(["target (2 cores, generator included)", "measured", "", "note"], targets(results)),
        "",
    ]
    a = results.get("a")
    if a:
        out += [
            "## a. Presence ramp",
            "",
            "One daphne process"
            + (" behind nginx (`deploy/nginx.conf`, TLS left out). " if a.get("via") == "nginx" else ". ")
            + f"{cfg['operators']} operators connected; visitors added in steps, each connecting (a hello "
            f"carrying the page, as the snippet sends it), navigating every ~{cfg['nav']:.0f} s (reconnect + "
            f"hello; {think_words(cfg)}) and pinging "
            "every 25 s. After each step's burst of arrivals, a pause of "
            f"{min(10.0, cfg['ramp_window'] / 3):.0f} s and then until no page load waits for a "
            "generator's connection slot any more (the arrivals' queue: the burst's connects and the "
            "navigations that came in behind them; the table says when it was gone), then "
            f"{cfg['ramp_window']:.0f} s measured. Latency (the verdict, < 500 ms at p95): from a page "
            "opening (the generator starting the navigation: its wait for one of its 32 connection slots, "
            "connect, the hello with its page) to the `visitor` event at each operator, what an operator "
            "watching the visitor notices; page→panel counts from the hello only. CPU in % of one "
            "core (the machine has 200 %).",
            "",
            f"![presence ramp]({PLOTS['presence']})",
            "",
            ramp_table(a),
            "",
        ]
    p = results.get("p")
    if p:
        legs = [(name, p[key]) for key, name in P_LEGS if p.get(key, {}).get("steps")]
        kind = {"pg": "PostgreSQL", "sqlite": "SQLite"}.get(p.get("database", {}).get("kind"), "the run's database")
        out += [
            "## p. Page events at a fixed load (issue 20)",
            "",
            f"{p_visitors(p):,} visitors, each reporting a page every ~{cfg.get('page_nav', 5):.0f} s on their open "
            "socket (a `page` frame, as the snippet sends one for each navigation of a single-page shop; the "
            "first page comes with the hello), one operator watching, one daphne process, measured for "
            f"{cfg.get('page_window', 30):.0f} s; three ways on the same machine, one after the other: the bare relay "
            f"of the same frames (`bench/bare.py`: a hello answered and sent to the operator's group, nothing else), "
            f"White Panel on {kind}, and White Panel as `make run` gives it (SQLite, a Redis server of its own, a "
            "Celery worker and beat).",
            "",
            ramp_table(
                {"steps": [leg["steps"][0] for _, leg in legs]},
                label="server",
                labels=[name.replace("the run's database", kind) for name, _ in legs],
            ),
            "",
        ]
    for key, title in (("b", "b. Relay (White Panel)"), ("e", "e. Baseline: bare Channels consumer")):
        r = results.get(key)
        if not r:
            continue
        out += [f"## {title}", ""]
        if key == "b":
            out += [
                f"{cfg['relay_visitors']:,} visitors online, {cfg['relay_rooms']} active rooms over "
                f"{cfg['relay_operators']} operators; messages both ways (half each), round-robin over the rooms, "
                f"{cfg['relay_seconds']:.0f} s per rate. Latency: `message` frame sent → `message` event on the "
                "other side. Highest rate with p99 < 50 ms and all delivered: "
                f"**{fmt(best_rate(r['levels']))} msg/s**.",
                "",
                f"![relay]({PLOTS['relay']})",
                "",
            ]
        else:
            out += [
                "`bench/bare.py`: the same sockets and message flow (ack, then the message to both sides' groups) "
                "with no database, checks or presence, on the same daphne flags, channel layer and Redis. Highest "
                f"rate with p99 < 50 ms: **{fmt(best_rate(r['levels']))} msg/s**.",
                "",
            ]
        out += [relay_table(r["levels"]), ""]
        if key == "b" and r.get("expiry"):
            x = r["expiry"]
            out += [
                f"Expiry under load: {x['rooms']} rooms closed by their operator while the other rooms kept "
                f"talking; lateness of the `expired` event after `expires_at`: p50 {fmt(x['p50'])} s, "
                f"p99 {fmt(x['p99'])} s, max {fmt(x['max'])} s (n = {x['n']}; the sweep runs every "
                f"{x['sweep_interval']} s, and R13 allows up to interval + 2 s).",
                "",
            ]
    c = results.get("c")
    if c:
        out += [
            "## c. Panel and sweep",
            "",
            f"In the benchmark process, on the bench database holding {c['stored']:,} visitors and as many "
            f"rooms (plus a pool of 100 requests); the sweep runs with {c['online']:,} visitors online. "
            f"Filling took {c['fill_seconds']} s.",
            "",
            f"![panel and sweep]({PLOTS['panel']})",
            "",
            table(
                ["snapshot of", "time (median of 3, build + JSON)", "queries", "frame size"],
                [
                    [f"{s['visitors']:,} visitors", f"{fmt(s['ms'])} ms", s["queries"], f"{s['bytes'] / 1024:,.0f} KB"]
                    for s in c["snapshot"]
                ],
            ),
            "",
            table(
                ["sweep with", "time", "queries"],
                [[f"{s['due']:,} rooms due", f"{fmt(s['ms'])} ms", s["queries"]] for s in c["sweep_rooms"]]
                + [[f"{s['due']:,} visitors leaving", f"{fmt(s['ms'])} ms", s["queries"]] for s in c["sweep_visitors"]],
            ),
            "",
            "Database queries per socket event (`CaptureQueriesContext` around the service the frame calls):",
            "",
            table(["event", "queries"], [[q["event"], q["queries"]] for q in c["queries"]]),
            "",
        ]
    r = results.get("r")
    if r:
        out += [
            "## r. Owners' reports (issue 25)",
            "",
            f"In the benchmark process, on the bench database: a year of a busy site, {r['rooms']:,} conversations "
            f"over 365 days with {r['operators']} operators (stored in {r['fill_seconds']} s), in Europe/Paris. "
            "Cold: no day rolled up yet (the report computes and stores its settled days); warm: the rollups "
            "there (only today and yesterday read from the rooms).",
            "",
            table(
                ["report", "rollups", "time", "queries", "conversations"],
                [
                    [t["report"], t["state"], f"{t['seconds']:.3f} s", t["queries"], f"{t['conversations']:,}"]
                    for t in r["timings"]
                ],
            ),
            "",
            f"Celery beat's rollup of every settled day from none (`chat.tasks.reports_rollup`): "
            f"{r['rollup']['days']} days in {r['rollup']['runs']} runs, {r['rollup']['rows']:,} rows, "
            f"{r['rollup']['seconds']} s.",
            "",
        ]
    d = results.get("d")
    out += ["## d. Scale-out", ""]
    if d:
        out += [
            f"The presence ramp again with {d.get('daphne', 2)} daphne processes "
            f"{'behind nginx' if d.get('via') == 'nginx' else ''} "
            f"(`deploy/nginx.conf`: {d.get('balance', '`least_conn`')}, TLS left out) and the channel layer "
            f"sharded over {d.get('layer_shards', 1)} Redis servers (`bench/sharded_settings.py`); Celery, "
            "presence and rate limits on the first Redis. Held: "
            f"**{d['held']:,} visitors** (1 daphne: {results.get('a', {}).get('held', 0):,}).",
            "",
            f"![scale-out]({PLOTS['presence']})",
            "",
            ramp_table(d),
            "",
        ]
    else:
        out += ["Not measured in this run (`python -m bench --scenarios d`); see *Analysis*.", ""]
    analysis = HERE / "analysis.md"
    if analysis.exists():
        out += ["## Analysis", "", analysis.read_text().strip(), ""]
    return "\n".join(out)


def runs_line(results: dict) -> str:
    fields = ("started", "load_before", "load_after", "speed_before", "speed_after")
    runs = results.get("runs") or [{k: results.get(k) for k in fields}]
    said = [
        f"{run['started']}"
        + (f" (scenarios {', '.join(run['scenarios'])})" if run.get("scenarios") else "")
        + f", load average (1, 5, 15 min) before {run['load_before']}, after {run.get('load_after') or '-'}"
        + (
            f", speed probe before {run['speed_before']} ms, after {run.get('speed_after') or '-'} ms"
            if run.get("speed_before")
            else ""
        )
        for run in runs
    ]
    return (
        f"Scale `{results['scale']}`. Run{'s' if len(runs) > 1 else ''}: "
        + "; ".join(said)
        + ". The machine is shared with other developers' test runs: the load average says how busy it was."
        + " Its speed varies too: the speed probe (`bench.stack.python_speed`, a fixed Python loop, lower is"
        + " faster) took 38-166 ms on machines of the same kind on 2026-11-26 and 27; figures are comparable only"
        + " next to it. In runs from 2026-12-07 on, the CPU columns end with a figure in brackets: the time the"
        + " hypervisor took from this machine's cores for other guests during the window (steal, in % of one"
        + " core); that day it took 27-50 % of the machine whenever a benchmark loaded it."
    )


P_LEGS = (
    ("bare", "bare relay"),
    ("database", "White Panel, the run's database"),
    ("unpatched", "the same, WP_PATCHES=0 (no patch of other projects)"),
    ("redis_py", "the same, WP_REDIS_CLIENT=redis-py"),
    ("embedded", "White Panel, embedded"),
)


def p_latency(leg: dict | None) -> float | None:
    """Scenario p's verdict for one leg: page opened → panel, p95 ms."""
    steps = (leg or {}).get("steps") or []
    return steps[0]["page"]["p95"] if steps else None


def p_cpu(leg: dict | None) -> float | None:
    """Scenario p's daphne CPU for one leg, % of one core."""
    steps = (leg or {}).get("steps") or []
    return steps[0]["cpu_daphne"] if steps else None


def p_visitors(p: dict) -> int:
    steps = next((leg["steps"] for leg in p.values() if isinstance(leg, dict) and leg.get("steps")), [])
    return steps[0]["visitors"] if steps else 0


def ramp_table(run: dict, *, label: str = "visitors", labels: list[str] | None = None) -> str:
    return table(
        [
            label,
            "navigation→panel p50 / p95 / p99 ms",
            "page→panel p95 ms",
            "hello p95 ms",
            "arrivals' queue gone after",
            "navigations",
            "page events delivered",
            "errors",
            "daphne RSS",
            "per socket",
            "CPU daphne / nginx / celery / redis / postgres / generators / machine % (stolen)",
        ],
        [
            [
                labels[i] if labels else s["visitors"],
                f"{fmt(latency(s)['p50'])} / {fmt(latency(s)['p95'])} / {fmt(latency(s)['p99'])}",
                fmt(s["page"]["p95"]),
                fmt(s["hello"]["p95"]),
                settled(s),
                s["navigations"],
                f"{s['page_events_delivered']:.0%}" if s.get("page_events_delivered") is not None else "-",
                s["errors"],
                f"{fmt(s['daphne_rss_mb'])} MB",
                f"{fmt(s['rss_per_socket_kb'])} KB",
                f"{daphne_cpu(s)} / {s['cpu_nginx']} / {s['cpu_celery']} / {s['cpu_redis']} / {s['cpu_postgres']} / "
                f"{s['cpu_generator']} / {s['cpu_machine']}{stolen(s)}",
            ]
            for i, s in enumerate(run["steps"])
        ],
    )


def settled(step: dict) -> str:
    """When the step's burst of arrivals had connected and the generators' queue of page loads was
    gone, after the first pause ("-" in runs from before it was measured)."""
    if "settle_seconds" not in step:
        return "-"
    return "still queued" if step["settle_seconds"] is None else f"{fmt(step['settle_seconds'])} s"


def stolen(measured: dict) -> str:
    """The hypervisor's share of the window, " (31)", where the run measured it."""
    return f" ({measured['cpu_stolen']})" if measured.get("cpu_stolen") is not None else ""


def daphne_cpu(step: dict) -> str:
    """daphne's CPU, and each process's part when there are several: "71.2 (36.0 + 35.2)"."""
    each = step.get("cpu_daphne_each") or []
    return f"{step['cpu_daphne']} ({' + '.join(str(c) for c in each)})" if len(each) > 1 else str(step["cpu_daphne"])


def relay_table(levels: list[dict]) -> str:
    return table(
        [
            "offered msg/s",
            "delivered",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "CPU daphne / nginx / celery / redis / postgres / generators / machine % (stolen)",
        ],
        [
            [
                lv["rate"],
                f"{lv['delivered']:.0%}",
                lv["p50"],
                lv["p95"],
                lv["p99"],
                lv["errors"],
                f"{lv['cpu_daphne']} / {lv['cpu_nginx']} / {lv['cpu_celery']} / {lv['cpu_redis']} / "
                f"{lv['cpu_postgres']} / {lv['cpu_generator']} / {lv['cpu_machine']}{stolen(lv)}",
            ]
            for lv in levels
        ],
    )


def write_report(results: dict, out: Path) -> None:
    (out / "img").mkdir(parents=True, exist_ok=True)
    plot_presence(results, out / PLOTS["presence"])
    plot_relay(results, out / PLOTS["relay"])
    plot_panel(results, out / PLOTS["panel"])
    (out / "benchmarks.md").write_text(render(results))
    (out / "img" / "bench-results.json").write_text(json.dumps(results, indent=1, default=str))
