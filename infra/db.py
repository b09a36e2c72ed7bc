"""Database calls from the sockets: a pool of threads per process, each with its own connection
(chat.db.database runs a service in it, with its events).

Channels' `database_sync_to_async` runs every call of a process in one thread by
default (thread-sensitive mode), so a daphne process could wait on one database
round trip at a time: one slow commit held up every visitor's page event behind it.
Here calls run in WP_DB_THREADS threads. A socket still handles its frames one after
another; calls of different sockets overlap, and their consistency is the database's
business (row locks, conditional updates: docs/architecture.md). Each thread opens its
own connection, kept like any other (CONN_MAX_AGE), so a process holds at most
WP_DB_THREADS connections.

Django checks a kept connection before each use (CONN_HEALTH_CHECKS: a `SELECT 1`, one
more round trip per call). A thread's connection that answered less than FRESH seconds
ago skips it: under load that is every call. A database that went away inside that
second fails the call (the client gets `unavailable` and tries again), and Django then
closes the connection, as after any error; the next call opens a new one.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections

_executor: ThreadPoolExecutor | None = None
FRESH = 1.0
_last_call = threading.local()


class _DatabaseCall(SyncToAsync):
    """Channels' DatabaseSyncToAsync, without the health check of a connection that just answered."""

    def thread_handler(self, loop, *args, **kwargs):
        close_old_connections()
        if time.monotonic() - getattr(_last_call, "ended", float("-inf")) < FRESH:
            for connection in connections.all(initialized_only=True):
                connection.health_check_done = True
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()
            _last_call.ended = time.monotonic()


def _threads() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.WP_DB_THREADS, thread_name_prefix="database")
    return _executor


async def in_database_thread(func, *args, **kwargs):
    """`func(*args, **kwargs)` in one of the process's database threads, old connections closed
    before and after, as channels' database_sync_to_async does."""
    return await _DatabaseCall(func, thread_sensitive=False, executor=_threads())(*args, **kwargs)


def close_connections() -> None:
    """Close the connection of every database thread (the test run, before it drops its
    database). Each thread takes one of the tasks, since each task waits for all the others."""
    if _executor is None:
        return
    threads = len(_executor._threads)
    if not threads:
        return
    barrier = threading.Barrier(threads, timeout=10)

    def close() -> None:
        connections.close_all()
        barrier.wait()

    for future in [_executor.submit(close) for _ in range(threads)]:
        future.result()
