"""Fault fixtures: a whole White Panel of real processes that the tests may break.

The `stack` runs on a Redis server of its own (never the shared one, never the
session's): two daphne processes, a Celery worker and one Celery beat, all pointed
at it through REDIS_URL, on the test database. A test kills, stops and restarts
any of them; before the next test, `faults` starts again whatever is down and
waits for a sweep, so every test begins with the whole stack up.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings

from conftest import free_port, test_database_url
from tests.faults import clients
from whitepanel import launch

START_TIMEOUT = 60.0


def wait_until(check, *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")
        time.sleep(interval)


class RedisServer:
    """A redis-server without persistence: a restart loses every key, as in production without AOF/RDB."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.directory / "redis.log"
        with log.open("a") as out:
            self.process = subprocess.Popen(
                launch.redis_server_command(self.port, self.directory),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        launch.wait_for_redis(self.process, self.port, log)

    def answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            return self.client(timeout=0.5).info("server")["process_id"] == self.process.pid
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)


class Proc(launch.Process):
    """One child process of the stack, on the stack's Redis; its output goes to a log file."""

    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict[str, str]):
        super().__init__(name, [sys.executable, *args], env=env, log=log_dir / f"{name}.log")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        super().stop(sig, timeout=15)


class Daphne(Proc):
    def __init__(self, name: str, log_dir: Path, env: dict[str, str]):
        self.port = free_port()
        super().__init__(name, launch.daphne_args(self.port), log_dir, env)

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        self.check_alive()
        try:
            with urllib.request.urlopen(f"http://{self.base}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start(self) -> None:
        # The same port again: a restarted process comes back where its clients reconnect.
        super().start()
        launch.wait_until_healthy(self.base, check=self.check_alive, timeout=START_TIMEOUT)


class Stack:
    """Redis, two daphne processes, a Celery worker and beat: everything a deployment runs."""

    def __init__(self, directory: Path, timings: dict[str, float] | None = None):
        self.directory = directory
        self.redis = RedisServer(directory)
        self.timings = {name: float(value) for name, value in (timings or {}).items()}
        self.env = {
            **os.environ,
            **{name: str(value) for name, value in self.timings.items()},
            # The emulated clients write and reconnect faster than people do: rate limits
            # (tests/security proves them) would refuse what these tests must see stored.
            **{name: "1000000/60" for name in dir(settings) if name.startswith("WP_RATE_")},
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": self.redis.url,
            "PYTHONUNBUFFERED": "1",
        }
        self.daphnes = [Daphne(f"daphne-{n}", directory, self.env) for n in (1, 2)]
        self.worker = self.celery("worker-1")
        self.beat = self.beat_process("beat-1")
        self.extra: list[Proc] = []  # second beats and workers a test starts

    def celery(self, name: str) -> Proc:
        args = launch.celery_worker_args(solo=True, name=name, heartbeat=False)
        return Proc(name, args, self.directory, self.env)

    def beat_process(self, name: str) -> Proc:
        args = launch.celery_beat_args(schedule=self.directory / f"{name}-schedule")
        return Proc(name, args, self.directory, self.env)

    def start_extra(self, proc: Proc) -> Proc:
        self.extra.append(proc)
        proc.start()
        return proc

    @property
    def bases(self) -> list[str]:
        return [daphne.base for daphne in self.daphnes]

    # Redis keys of this run, on the stack's own server ---------------------

    @property
    def epoch_key(self) -> str:
        return f"{settings.WP_REDIS_PREFIX}:visitor:epoch"

    def clean(self) -> None:
        client = self.redis.client()
        keys = list(client.scan_iter(match=f"{settings.WP_REDIS_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)

    def wait_for_sweep(self, timeout: float = START_TIMEOUT) -> None:
        """Until a sweep ran: the first one after the epoch key is gone sets it again."""
        client = self.redis.client()
        client.delete(self.epoch_key)

        def swept() -> bool:
            self.worker.check_alive()
            self.beat.check_alive()
            return bool(client.exists(self.epoch_key))

        wait_until(swept, timeout=timeout, what="the stack's Celery worker and beat did not sweep")

    # Whole stack --------------------------------------------------------------

    def ensure(self) -> None:
        """Everything up again after whatever the last test broke."""
        for proc in self.extra:
            proc.stop()
        self.extra.clear()
        if not self.redis.running:
            self.redis.start()
        for daphne in self.daphnes:
            if not daphne.running:
                daphne.start()
        for proc in (self.worker, self.beat):
            if not proc.running:
                proc.start()
        self.clean()
        self.wait_for_sweep()
        for daphne in self.daphnes:
            wait_until(daphne.healthy, timeout=START_TIMEOUT, what=f"{daphne.name} did not answer /healthz")

    def start(self) -> None:
        self.redis.start()
        for daphne in self.daphnes:
            daphne.start()
        self.worker.start()
        self.beat.start()
        self.wait_for_sweep()

    def setting(self, name: str) -> float:
        """A timing as this stack's processes have it."""
        return self.timings.get(name, getattr(settings, name))

    def stop(self) -> None:
        for proc in [*self.extra, self.beat, self.worker, *self.daphnes]:
            with contextlib.suppress(Exception):
                proc.stop()
        self.redis.stop()

    def logs(self) -> str:
        parts = []
        for proc in [*self.daphnes, self.worker, self.beat, *self.extra]:
            parts.append(f"----- {proc.name} -----\n{proc.output()[-4000:]}")
        return "\n".join(parts)


def pytest_collection_modifyitems(session, config, items):
    """Fault tests first: the root conftest's `sweeper` sweeps the same database from the shared
    Redis, where this stack's sockets are not; running beside it, it would see them all as gone.
    It sweeps only during the tests that ask for it, and before them its worker is not running.
    (Under pytest-xdist, `make test`, the other process is a run of its own, its own database and
    Redis prefix: its sweeper never sees this stack.)"""
    here = Path(__file__).parent
    items.sort(key=lambda item: not item.path.is_relative_to(here))


def assert_no_other_sweeper() -> None:
    shared = redis.Redis.from_url(settings.REDIS_URL)
    epoch = f"{settings.WP_REDIS_PREFIX}:visitor:epoch"
    shared.delete(epoch)
    time.sleep(2 * settings.WP_SWEEP_INTERVAL + 0.5)
    if shared.exists(epoch):
        raise RuntimeError("a Celery sweeper on the shared Redis sweeps the test database: run tests/faults first")


class TcpProxy:
    """A TCP relay to a server (PostgreSQL) that a test can cut: every connection through it
    drops, and new ones are closed at once, as when the database goes away."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.closed = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.cut_off.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, target)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self.lock:
                self.sockets.discard(sock)

    def cut(self) -> None:
        self.cut_off.set()
        with self.lock:
            sockets = list(self.sockets)
        self._drop(*sockets)

    def restore(self) -> None:
        self.cut_off.clear()

    def close(self) -> None:
        self.closed.set()
        self.cut()
        self.listener.close()


class DatabaseLink:
    """The way a daphne process reaches the test database, so a test can take it away:
    through a TCP relay for PostgreSQL, through a symlink for an SQLite file."""

    def __init__(self, directory: Path):
        url = test_database_url()
        self.proxy: TcpProxy | None = None
        if url.startswith("sqlite"):
            self.target = Path(urlsplit(url).path)
            self.link = directory / "database-link.sqlite3"
            self._point_at(self.target)
            self.url = f"sqlite:///{self.link}"
        else:
            parts = urlsplit(url)
            self.proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
            self.url = parts._replace(netloc=f"{parts.netloc.rsplit('@', 1)[0]}@127.0.0.1:{self.proxy.port}").geturl()

    def _point_at(self, path: Path) -> None:
        # Swapped in one rename: a connection opening meanwhile sees the old or the new target.
        temporary = self.link.with_suffix(".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(path)
        temporary.replace(self.link)

    def cut(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self._point_at(self.link.parent / "gone" / self.target.name)

    def restore(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        else:
            self._point_at(self.target)

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()


@pytest.fixture
def flaky_database(faults, tmp_path, django_db_blocker):
    """A third daphne process on the stack whose database the test can take away: (daphne, link)."""
    link = DatabaseLink(tmp_path)
    daphne = Daphne("daphne-flaky", faults.directory, {**faults.env, "DATABASE_URL": link.url})
    try:
        with django_db_blocker.unblock():
            daphne.start()
        yield daphne, link
    finally:
        link.restore()
        daphne.stop()
        link.close()


@pytest.fixture(scope="package")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """The fault stack, started once for tests/faults (starting it takes seconds)."""
    assert_no_other_sweeper()
    stack = Stack(tmp_path_factory.mktemp("faults"))
    try:
        with django_db_blocker.unblock():
            stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
async def _stop_emulated_clients():
    """Emulated clients a test left running (it failed midway, say) stop with it."""
    yield
    await asyncio.gather(*(client.stop() for client in list(clients.running)))


@pytest.fixture
def faults(stack, request):
    """The stack, whole and swept, for one test; what the test broke is mended before the next."""
    stack.ensure()
    yield stack
    print_logs_if_failed(stack, request)


def print_logs_if_failed(stack: Stack, request) -> None:
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(stack.logs())  # shown with the failure


# Timings in production's proportions (60/60/60/5/30/10 s), scaled down: the tests' own
# 2-second timeouts are shorter than a reconnect storm takes on a busy two-core machine.
SOAK_TIMINGS = {
    "WP_VISITOR_TIMEOUT": 8,
    "WP_ROOM_EXPIRY": 8,
    "WP_OPERATOR_TIMEOUT": 8,
    "WP_SWEEP_INTERVAL": 1,
    "WP_PRESENCE_LEASE": 6,
    "WP_HELLO_TIMEOUT": 10,
}


@pytest.fixture
def soak_stack(stack, tmp_path_factory, django_db_blocker, request):
    """A stack of its own for the soak, with SOAK_TIMINGS."""
    # The package stack's sweeper sweeps the same database: it rests meanwhile (`faults` restarts it).
    stack.beat.stop()
    stack.worker.stop()
    soak = Stack(tmp_path_factory.mktemp("soak"), timings=SOAK_TIMINGS)
    try:
        with django_db_blocker.unblock():
            soak.start()
        yield soak
        print_logs_if_failed(soak, request)
    finally:
        soak.stop()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
