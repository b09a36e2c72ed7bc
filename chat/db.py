"""A service called from a socket: run in one of the process's database threads
(infra/db.py), its events published from the event loop when it returns."""

import functools

from infra.db import in_database_thread

from . import events


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
                # A pool the call changed: its queue read and sent once, with the call's events.
                with events.queues_together():
                    return func(*args, **kwargs)
            finally:
                events.deferred.reset(token)

        try:
            return await in_database_thread(keeping_events)
        finally:
            if batch:
                await events.publish_deferred(batch)

    return call
