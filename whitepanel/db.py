"""Database calls from the sockets: a pool of threads per process, each with its own connection.

Channels' `database_sync_to_async` runs every call of a process in one thread by
default (thread-sensitive mode), so a daphne process could wait on one database
round trip at a time: one slow commit held up every visitor's page event behind it.
Here calls run in WP_DB_THREADS threads. A socket still handles its frames one after
another; calls of different sockets overlap, and their consistency is the database's
business (row locks, conditional updates: docs/architecture.md). Each thread opens its
own connection, kept like any other (CONN_MAX_AGE), so a process holds at most
WP_DB_THREADS connections.
"""

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import connections

from chat import events

_executor: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=settings.WP_DB_THREADS, thread_name_prefix="database")
    return _executor


def database(func):
    """`await database(f)(...)` runs `f(...)` in one of the process's database threads
    (old connections closed before and after, as channels does). Also a decorator.

    The events its commits publish (chat/events.py) are sent from the event loop when it
    returns, in the order they committed, before the caller answers its client."""

    @functools.wraps(func)
    async def call(*args, **kwargs):
        batch: list = []

        def keeping_events():
            token = events.deferred.set(batch)
            try:
                return func(*args, **kwargs)
            finally:
                events.deferred.reset(token)

        try:
            return await DatabaseSyncToAsync(keeping_events, thread_sensitive=False, executor=_threads())()
        finally:
            if batch:
                await events.publish_deferred(batch)

    return call


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
