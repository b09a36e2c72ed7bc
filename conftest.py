"""Test fixtures on the real components: the Redis channel layer, a real database
(PostgreSQL or SQLite file), real Celery worker and beat, real daphne processes.

`make test` (whitepanel/launch.py) starts an embedded Redis when REDIS_URL is
unset and gives the run its own WP_REDIS_PREFIX, so keys, pub/sub channels and
Celery queues never meet another run's.
"""

import functools
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.test import TransactionTestCase

from infra.db import close_connections
from integrations import services as webhook_services
from tests.sockets import CommunicatorClient, LiveClient, whole_snapshot
from whitepanel import launch
from whitepanel.celery import app as celery_app

ROOT = Path(__file__).resolve().parent

# Timings shrunk so expiry tests take seconds (SPEC §4 settings, same names).
TEST_TIMINGS = {
    "WP_VISITOR_TIMEOUT": "2",
    "WP_ROOM_EXPIRY": "2",
    "WP_OPERATOR_TIMEOUT": "2",
    "WP_SWEEP_INTERVAL": "0.5",
    "WP_PRESENCE_LEASE": "3",
    "WP_HELLO_TIMEOUT": "1",
    "WP_RECONNECT_GRACE": "0.3",
    "WP_POOL_TIMEOUT": "3",
}

# Webhooks (issue 25): the tests' receivers listen on 127.0.0.1; attempts and pauses shrunk. Which
# sites have webhooks is kept for the whole test (_no_webhooks_yet): a read in the middle would
# add a query to the tests that count them. A webhook is heard of at once in the process that
# made it, so tests make the events they want delivered in their own process.
TEST_WEBHOOKS = {
    "WP_WEBHOOK_ALLOW_PRIVATE": True,
    "WP_WEBHOOK_TIMEOUT": 1.0,
    "WP_WEBHOOK_BACKOFF": 0.5,
    "WP_WEBHOOK_MAX_ATTEMPTS": 3,
    "WP_WEBHOOK_CACHE_SECONDS": 3600.0,
}

# Every test client comes from 127.0.0.1 (or no address at all, in process): limits per IP
# address would make tests with many visitors refuse each other. tests/security sets them back.
TEST_IP_LIMITS = {name: "1000000/60" for name in ("WP_RATE_IP_MESSAGES", "WP_RATE_IP_OPENS", "WP_RATE_IP_PAGES",
                                                 "WP_RATE_IP_HELLOS", "WP_RATE_IP_LOGINS", "WP_RATE_IP_UPLOADS",
                                                 "WP_RATE_IP_PASSWORD_RESETS",
                                                 # and tests send frames faster than people do
                                                 "WP_RATE_SOCKET_FRAMES", "WP_RATE_PANEL_FRAMES")}  # fmt: skip
# The same for sockets open at once per address: counted (the check runs), never refused.
TEST_SOCKET_CAPS = {"WP_MAX_SOCKETS_PER_IP": 1_000_000}

SITE_ORIGIN = "http://shop.test"
OTHER_ORIGIN = "http://other.test"
PASSWORD = "operator-password-1"


def mail_dir() -> Path:
    """Where the tests' child processes (the Celery worker above all) write the mails they send,
    one file per connection (Django's file backend, WP_EMAIL_FILE_PATH): this process's own
    mails are in django.core.mail.outbox instead."""
    return Path(settings.VAR_DIR) / f"test_mail-{settings.WP_REDIS_PREFIX}"


def pytest_configure(config):
    # Settings are loaded already; child processes read the same values from the environment.
    os.environ["WP_EMAIL_FILE_PATH"] = str(mail_dir())
    # Files sent in chats (issue 23) go to a folder of this run's, removed at its end: none is
    # left in var/. The `media_root` fixture gives a test one of its own.
    media = tempfile.mkdtemp(prefix="wp-test-media-")
    config.wp_media_root = media
    os.environ["WP_MEDIA_ROOT"] = media
    settings.MEDIA_ROOT = media
    for name, value in TEST_TIMINGS.items():
        os.environ[name] = value
        setattr(settings, name, float(value))
    for name, value in TEST_WEBHOOKS.items():
        os.environ[name] = ("1" if value else "") if isinstance(value, bool) else str(value)
        setattr(settings, name, value)
    for name, value in (TEST_IP_LIMITS | TEST_SOCKET_CAPS).items():
        os.environ[name] = str(value)
        setattr(settings, name, value)
    # Async tests run their ORM calls in worker threads whose connections nobody closes at
    # the end: kept open (CONN_MAX_AGE), they would keep the test database from being
    # dropped. Only this process: daphne and Celery children keep their connections.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.exit(f"Redis at {settings.REDIS_URL} does not answer ({error}); `make test` starts one", returncode=2)


def _flush_retried_after_deadlock(flush):
    """A transactional test's database is emptied in one transaction (on PostgreSQL a DELETE per
    table, below) while a daphne process of the test may still be writing (a page the test closed
    lets its visitor go). PostgreSQL may end the flush as a deadlock (the two take the tables'
    locks in another order), or, at its commit, as a foreign key violation (a message committed
    after the flush deleted the messages, in a room it deleted later: the keys are checked at the
    commit). Ended either way, the flush changed nothing: it is run again, after a moment for the
    writer to finish. Once failed, the next test found the last one's rows and failed too."""

    @functools.wraps(flush)
    def _fixture_teardown(self):
        for attempt in range(5):
            try:
                return flush(self)
            except CommandError as error:
                cause = getattr(error.__cause__, "__cause__", None)
                # deadlock_detected, foreign_key_violation
                if attempt == 4 or getattr(cause, "sqlstate", None) not in {"40P01", "23503"}:
                    raise
                time.sleep(0.2)

    return _fixture_teardown


TransactionTestCase._fixture_teardown = _flush_retried_after_deadlock(TransactionTestCase._fixture_teardown)


def _flush_by_delete(sql_flush):
    """On PostgreSQL, a transactional test's tables are emptied with a DELETE each, not one
    TRUNCATE of them all: TRUNCATE gives every table a new file, 50-80 ms for our few rows, after
    each of the suite's ~800 transactional tests (a minute of the run); the DELETEs take a few ms.
    The flush runs in one transaction and Django's foreign keys are deferred to its commit, so
    the order of the tables does not matter. Sequences are not reset either way."""

    @functools.wraps(sql_flush)
    def sql_flush_by_delete(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return sql_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        # The tables are Django's own list of its tables, each quoted: nothing from outside.
        deletes = [f"DELETE FROM {self.quote_name(table)}" for table in tables]  # noqa: S608
        return ["SET CONSTRAINTS ALL DEFERRED", *deletes]

    return sql_flush_by_delete


PostgresOperations.sql_flush = _flush_by_delete(PostgresOperations.sql_flush)

# `make test` runs the suite in two processes (pytest-xdist, `--dist loadfile
# --no-loadscope-reorder`): each file whole in one process, files handed out in collection
# order. The longest file starts first, so that neither process is left running it alone at the
# end (xdist's own order, files with the most tests first, put it last: 1.5 minutes of one
# process waiting on the other).
LONGEST_FILES = ("tests/test_bench.py",)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """After tests/faults/conftest.py's (those first): the longest file before all the rest."""
    longest = {ROOT / name for name in LONGEST_FILES}
    items.sort(key=lambda item: item.path not in longest)


def pytest_unconfigure(config):
    """A run leaves nothing behind in var/: its files, its mails, and on SQLite its test database's
    write-ahead log and shared memory files (the database itself is destroyed by pytest-django)."""
    media = getattr(config, "wp_media_root", None)
    if media:
        shutil.rmtree(media, ignore_errors=True)
    shutil.rmtree(mail_dir(), ignore_errors=True)
    test_db = settings.DATABASES["default"]["TEST"]["NAME"]
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        for leftover in Path(test_db).parent.glob(f"{Path(test_db).name}*"):
            leftover.unlink(missing_ok=True)


@pytest.fixture
def media_root(settings, tmp_path):
    """Files stored by this test (in this process) land in a folder of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def _clean_redis_state() -> None:
    """Presence of one test must not leak into the next (keys under this run's prefix).

    The epoch keys stay: without them, the next sweep (the test's own, or `sweeper`'s) takes
    Redis for restarted and gives every visitor this test makes online a leave deadline
    (WP_VISITOR_TIMEOUT, two seconds), ending their rooms mid-test. Tests of that recovery
    delete them themselves."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [
        key
        for key in client.scan_iter(match=f"{settings.WP_REDIS_PREFIX}:*", count=1000)
        if not key.endswith(b":epoch")
    ]
    if keys:
        client.delete(*keys)


# Data ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_webhooks_yet() -> None:
    """Each test starts on a database without webhooks: this process knows it without asking."""
    webhook_services.sites_listening_known(frozenset())


@pytest.fixture
def make_site(db):
    from visitors.models import Site

    def make(key: str = "shop", origins: str = SITE_ORIGIN) -> Site:
        return Site.objects.create(key=key, name=key.title(), allowed_origins=origins)

    return make


@pytest.fixture
def site(make_site):
    return make_site()


@functools.cache
def password_hash() -> str:
    # Hashed once: the real hasher is slow on purpose, and daphne children must accept it.
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD)


@pytest.fixture
def make_operator(db):
    from django.contrib.auth import get_user_model

    from operators.models import Operator

    # In an async test, call it through channels.db.database_sync_to_async.
    def make(username: str, *sites, first_name: str = "") -> Operator:
        user = get_user_model().objects.create(
            username=username, password=password_hash(), first_name=first_name or username.title()
        )
        operator = Operator.objects.create(user=user)
        operator.sites.set(sites)
        return operator

    return make


@pytest.fixture
def peter(site, make_operator):
    return make_operator("peter", site, first_name="Peter")


@pytest.fixture
def jane(site, make_operator):
    return make_operator("jane", site, first_name="Jane")


@pytest.fixture
def other_site(make_site):
    return make_site("other", OTHER_ORIGIN)


@pytest.fixture
def olga(other_site, make_operator):
    """An operator of the other site only."""
    return make_operator("olga", other_site, first_name="Olga")


def session_cookie_for(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# In-process sockets (WebsocketCommunicator on the real Redis channel layer) --


@pytest.fixture
async def sockets():
    """Factories for visitor and operator sockets; all are closed when the test ends."""
    opened: list = []

    class Factory:
        async def visitor(
            self, site_key="shop", *, origin=SITE_ORIGIN, hello=True, token=None, headers=(), address=None
        ) -> CommunicatorClient:
            headers = [*([(b"origin", origin.encode())] if origin else []), *headers]
            client = CommunicatorClient(f"/ws/visitor/?site={site_key}", headers)
            if address is not None:
                # The client's address, as daphne puts it in the scope.
                client.communicator.scope["client"] = (address, 50000 + len(opened))
            opened.append(client)
            assert await client.connect(), f"visitor socket refused ({client.closed_code})"
            if hello:
                client.welcome = await client.ask("welcome", type="hello", token=token)
            return client

        async def operator(self, operator, *, origin="http://testserver", host="testserver") -> CommunicatorClient:
            cookie = await database_sync_to_async(session_cookie_for)(operator.user)
            headers = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()), (b"host", host.encode())]
            if origin:
                headers.append((b"origin", origin.encode()))
            client = CommunicatorClient("/ws/operator/", headers)
            opened.append(client)
            assert await client.connect(), f"operator socket refused ({client.closed_code})"
            client.snapshot = await whole_snapshot(client)
            return client

        async def refused(self, path: str, headers: list[tuple[bytes, bytes]]) -> bool:
            client = CommunicatorClient(path, headers)
            opened.append(client)
            return not await client.connect()

    yield Factory()
    for client in opened:
        try:
            await client.close()
        except Exception:  # noqa: S110 - already closed by the test or the server
            pass


# Real processes ---------------------------------------------------------------


# How each process is started and stopped is whitepanel/launch.py's, as for `make run`.
free_port = launch.free_port


def test_database_url() -> str:
    """The URL of the test database pytest-django created, for child processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def child_env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1"}


class Child(launch.Process):
    """A Python child process of the tests (on the test database), its output in a log file;
    started at once, stopped at the end."""

    def __init__(self, name: str, args: list[str], log_dir: Path):
        super().__init__(name, [sys.executable, *args], env=child_env(), log=log_dir / f"{name}.log")
        self.start()


def start_daphne(name: str, log_dir: Path) -> tuple[Child, str]:
    port = free_port()
    child = Child(name, launch.daphne_args(port), log_dir)
    base = f"127.0.0.1:{port}"
    try:
        launch.wait_until_healthy(base, check=child.check_alive)
    except launch.LaunchError as error:
        child.stop()
        raise RuntimeError(f"{name}: {error}:\n{child.output()[-3000:]}") from None
    return child, base


@pytest.fixture(scope="session", autouse=True)
def _database_threads_closed(django_db_setup, django_db_blocker):
    """The sockets of this process run their database calls in threads of their own
    (infra/db.py): their connections close before the test database is dropped.
    On PostgreSQL, any other session still on it (a thread this run lost track of) is
    ended too, or the drop fails and the database is left behind."""
    yield
    close_connections()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker on the test database, started once: it runs what the processes of the
    tests queue (mails, webhooks), and the sweeps of `sweeper`'s beat while a test has one."""
    log_dir = tmp_path_factory.mktemp("celery")
    name = f"{settings.WP_REDIS_PREFIX}-worker"
    with django_db_blocker.unblock():
        child = Child("celery", launch.celery_worker_args(solo=True, name=name), log_dir)
    child.celery_name = name = f"{name}@{socket.gethostname()}"
    deadline = time.monotonic() + 60
    while not celery_app.control.ping(destination=[name], timeout=0.5):
        child.check_alive()
        if time.monotonic() > deadline:
            child.stop()
            raise RuntimeError(f"the celery worker did not answer:\n{child.output()[-3000:]}")
    yield child
    child.stop()


@pytest.fixture
def sweeper(celery_worker, tmp_path):
    """A real Celery beat for this test alone, sweeping every WP_SWEEP_INTERVAL through the worker
    (tests using it must be transactional: the worker sees only committed data).

    For this test alone: a beat left running swept the presence and the committed rows of the
    tests after it, which call sweep() themselves and count what it did (a sweep in the
    background let 200 of a test's 450 visitors go before the test's own sweep did)."""
    # The first sweep marks presence as started: proof that beat and the worker both run.
    client = redis.Redis.from_url(settings.REDIS_URL)
    epoch = f"{settings.WP_REDIS_PREFIX}:visitor:epoch"
    client.delete(epoch)
    beat = Child("celery-beat", launch.celery_beat_args(schedule=tmp_path / "beat-schedule"), tmp_path)
    deadline = time.monotonic() + 60
    while not client.exists(epoch):
        beat.check_alive()
        celery_worker.check_alive()
        if time.monotonic() > deadline:
            beat.stop()
            raise RuntimeError(f"celery beat and worker did not sweep:\n{beat.output()[-3000:]}")
        time.sleep(0.1)
    yield celery_worker
    beat.stop()
    # What beat queued last is swept before the test's database is emptied: the worker answers
    # between tasks, so an answer once the queue is empty means no sweep is still running.
    deadline = time.monotonic() + 30
    while client.llen(celery_app.conf.task_default_queue) or not celery_app.control.ping(
        destination=[celery_worker.celery_name], timeout=0.5
    ):
        celery_worker.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("the celery worker did not finish the sweeps queued")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def daphne_pair(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two daphne processes on the same Redis and database: [(child, "host:port"), ...]."""
    log_dir = tmp_path_factory.mktemp("daphne")
    with django_db_blocker.unblock():
        servers = [start_daphne(f"daphne-{n}", log_dir) for n in (1, 2)]
    yield servers
    for child, _ in servers:
        child.stop()


@pytest.fixture
async def live_sockets():
    """Real websocket clients against daphne processes; closed when the test ends."""
    opened: list[LiveClient] = []

    class Factory:
        async def visitor(self, base: str, site_key="shop", *, origin=SITE_ORIGIN, token=None) -> LiveClient:
            client = LiveClient(f"ws://{base}/ws/visitor/?site={site_key}", origin=origin)
            opened.append(client)
            assert await client.connect(), f"visitor socket refused ({client.closed_code})"
            client.welcome = await client.ask("welcome", type="hello", token=token)
            return client

        async def operator(self, base: str, operator) -> LiveClient:
            cookie = await database_sync_to_async(session_cookie_for)(operator.user)
            client = LiveClient(
                f"ws://{base}/ws/operator/", origin=f"http://{base}", cookies={settings.SESSION_COOKIE_NAME: cookie}
            )
            opened.append(client)
            assert await client.connect(), f"operator socket refused ({client.closed_code})"
            client.snapshot = await whole_snapshot(client)
            return client

    yield Factory()
    for client in opened:
        await client.close()
