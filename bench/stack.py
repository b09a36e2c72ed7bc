"""The production configuration, started by the benchmark itself: its own Redis server(s), its own
database (PostgreSQL or an SQLite file), N daphne processes and a Celery worker and beat, as
whitepanel/launch.py starts them. Plus what the report needs to know about processes: CPU time
and resident memory, read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from whitepanel import launch

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


# /proc readings ----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except OSError:
        return 0


def children_of(pid: int) -> list[int]:
    """Direct children (Celery's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def pids_with_cmdline(fragment: str) -> list[int]:
    """Processes whose command line holds this text (the PostgreSQL backends of our database)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if fragment in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
    return found


def machine_cpu() -> tuple[float, float, float]:
    """(busy, total, stolen) jiffies of the whole machine, from /proc/stat. Stolen: time the
    hypervisor gave this machine's cores to another (counted in busy, not in any process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values), values[7]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def nginx_balance() -> str:
    """How deploy/nginx.conf's upstream picks a process (its balancing line), for the report."""
    text = NGINX_CONF.read_text()
    block = text[text.index("upstream whitepanel {") :]
    first = block.splitlines()[1].strip().rstrip(";")
    return f"`{first}`"


def python_speed() -> float:
    """Milliseconds this machine takes for a fixed loop of Python (best of 3; lower is faster).
    The machine's speed varies from run to run by as much as 1.7 times (shared cores): runs
    are comparable only next to this figure."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


# Processes -----------------------------------------------------------------------


class Proc(launch.Process):
    """A process the benchmark started (whitepanel/launch.py's), in a group its CPU is counted by."""

    def __init__(self, name: str, group: str, command: list[str], *, env: dict, log: Path, piped: bool = False):
        super().__init__(name, command, env=env, log=log, piped=piped)
        self.group = group  # daphne, celery, redis, nginx, generator

    def alive(self) -> bool:
        return self.running

    def check(self) -> None:
        self.check_alive()


@dataclass
class Stack:
    """Everything the benchmark started; `stop()` ends all of it (by pid, nothing else)."""

    work: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    redis_urls: list[str] = field(default_factory=list)
    daphne_bases: list[str] = field(default_factory=list)

    def spawn(self, name: str, group: str, args: list[str], *, env: dict | None = None, piped: bool = False) -> Proc:
        log = self.work / f"{name}.log"
        log.unlink(missing_ok=True)
        proc = Proc(name, group, args, env=env or self.env, log=log, piped=piped).start()
        self.procs.append(proc)
        return proc

    def start_redis(self) -> str:
        port = launch.free_port()
        name = f"redis-{len(self.redis_urls) + 1}"
        data = self.work / name
        data.mkdir()
        command = [*launch.redis_server_command(port, data), "--maxclients", "20000"]
        proc = self.spawn(name, "redis", command)
        launch.wait_for_redis(proc.process, port, proc.log)
        url = f"redis://127.0.0.1:{port}/0"
        self.redis_urls.append(url)
        return url

    def start_daphne(self, *, app: str = "whitepanel.asgi:application", name: str = "") -> str:
        port = launch.free_port()
        args = launch.daphne_args(port, app)
        proc = self.spawn(name or f"daphne-{len(self.daphne_bases) + 1}", "daphne", [PYTHON, *args])
        base = f"127.0.0.1:{port}"
        wait_http(proc, base, healthz=app.startswith("whitepanel"))
        self.daphne_bases.append(base)
        return base

    def start_nginx(self, upstreams: list[str]) -> str:
        """deploy/nginx.conf in front of these daphne processes, on a free port. Only TLS is left out
        (no certificate here, and the generators would pay for it on the same cores): the server block
        listens for plain HTTP with everything else (websocket proxying, headers, timeouts) as shipped."""
        directory = self.work / f"nginx-{len(upstreams)}"
        directory.mkdir()
        port = launch.free_port()
        site = NGINX_CONF.read_text()
        replacements = {
            "listen 80;": f"listen 127.0.0.1:{launch.free_port()};",
            "listen [::]:80;": "",
            "listen 443 ssl;": f"listen 127.0.0.1:{port};",
            "listen [::]:443 ssl;": "",
            "    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n": "".join(
                f"    server {u};\n" for u in upstreams
            ),
            "alias /var/lib/whitepanel/static/;": f"alias {directory}/;",
            # All the load comes from one address: nginx's per-address limits on sockets and
            # handshakes (issue 21) are lifted as the application's are; the checks still run.
            "limit_conn whitepanel_sockets 300;": "limit_conn whitepanel_sockets 60000;",
            "rate=20r/s;": "rate=1000000r/s;",
            "burst=100 nodelay;": "burst=1000000 nodelay;",
        }
        for old, new in replacements.items():
            if old not in site:
                raise RuntimeError(f"deploy/nginx.conf no longer contains {old!r}: update bench/stack.py")
            site = site.replace(old, new)
        site = "\n".join(line for line in site.splitlines() if not line.strip().startswith("ssl_"))
        (directory / "whitepanel.conf").write_text(site)
        temp = "".join(
            f"    {k}_temp_path {directory / k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        main = directory / "nginx.conf"
        # One nginx process (no master): it shares the 2 cores with everything else.
        main.write_text(
            f"daemon off;\nmaster_process off;\npid {directory / 'nginx.pid'};\nworker_rlimit_nofile 60000;\n"
            f"error_log {directory / 'error.log'} warn;\nevents {{ worker_connections 30000; }}\n"
            f"http {{\n    access_log off;\n{temp}    include {directory / 'whitepanel.conf'};\n}}\n"
        )
        proc = self.spawn(
            f"nginx-{len(upstreams)}",
            "nginx",
            [NGINX, "-p", str(directory), "-c", str(main), "-e", str(directory / "error.log")],
        )
        wait_http(proc, f"127.0.0.1:{port}", healthz=False, timeout=20)
        return f"127.0.0.1:{port}"

    def start_celery(self) -> None:
        # As `make run` runs them (whitepanel/launch.py): a worker with two pool processes, and one beat.
        self.spawn("celery-worker", "celery", [PYTHON, *launch.celery_worker_args(loglevel="WARNING")])
        beat = launch.celery_beat_args(loglevel="WARNING", schedule=self.work / "beat-schedule")
        self.spawn("celery-beat", "celery", [PYTHON, *beat])

    def group_pids(self, group: str) -> list[int]:
        pids = []
        for proc in self.procs:
            if proc.group == group and proc.alive():
                pids.append(proc.pid)
                pids.extend(children_of(proc.pid))
        return pids

    def stop(self, procs: list[Proc] | None = None) -> None:
        targets = [p for p in (procs if procs is not None else self.procs) if p.alive()]
        launch.stop_processes([p.process for p in targets])
        if procs is not None:
            self.procs = [p for p in self.procs if p not in procs]


def wait_http(proc: Proc, base: str, *, healthz: bool, timeout: float = 60) -> None:
    """Until /healthz answers 200 (or, without one, until the port accepts connections)."""
    try:
        launch.wait_until_healthy(base, check=proc.check_alive, timeout=timeout, path="/healthz" if healthz else "")
    except launch.LaunchError as error:
        raise RuntimeError(f"{proc.name} did not come up ({error}):\n{proc.output()[-3000:]}") from None


# Database --------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(kind: str, work: Path, tag: str):
    """A database of its own for the run: `pg` creates (and at the end drops) a PostgreSQL database
    on BENCH_PG (default postgres://postgres@127.0.0.1:5432); `sqlite` is a file in the work dir."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'bench.sqlite3'}"
        return
    import psycopg

    server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    name = f"whitepanel_bench_{tag}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="whitepanel-bench-"))
