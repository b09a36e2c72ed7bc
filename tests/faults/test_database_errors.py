"""Issue 8, fault 6: the database goes away under a daphne process, or is slow.

A frame that needs it is answered with `unavailable` and logged; the socket lives
on, and the same frame sent again once the database is back goes through. A hello
that waits for a busy database is answered, however long it takes: the socket is
not closed as one that never said hello."""

import asyncio
import time

import pytest
from django.conf import settings
from django.db import connection, transaction

from conftest import SITE_ORIGIN
from tests.faults.conversation import eventually, transcript
from tests.sockets import LiveClient, of_type
from visitors.models import Visitor

pytestmark = pytest.mark.django_db(transaction=True)


def refused(kind: str):
    return of_type("error", code="unavailable", **{"for": kind})


async def test_database_errors_get_an_error_frame_and_a_log_line_and_the_sockets_live_on(
    faults, flaky_database, live_sockets, peter
):
    daphne, database = flaky_database
    panel = await live_sockets.operator(daphne.base, peter)
    linda = await live_sockets.visitor(daphne.base)
    started = await panel.ask(of_type("room", room__status="active"), type="start", visitor=linda.welcome["visitor"])
    room_id = started["room"]["id"]

    database.cut()
    error = await linda.ask(refused("message"), type="message", body="Is anyone there?", client_id="linda-1")
    assert error["client_id"] == "linda-1"
    error = await panel.ask(refused("message"), type="message", room=room_id, body="Yes, Peter here.",
                            client_id="peter-1")  # fmt: skip
    assert (error["client_id"], error["room"]) == ("peter-1", room_id)
    await linda.ask(refused("page"), type="page", url=f"{SITE_ORIGIN}/cart", title="Cart", referrer="")
    await panel.ask(refused("history"), type="history", room=room_id, after=0)
    # A page opening now is let in (the process knows the site from Linda's handshake), and
    # its hello, which needs the visitor's row, is refused: the snippet says hello again later.
    newcomer = LiveClient(f"ws://{daphne.base}/ws/visitor/?site=shop", origin=SITE_ORIGIN)
    assert await newcomer.connect()
    await newcomer.ask(refused("hello"), type="hello")
    await newcomer.close()

    # The sockets live on (what needs no database still works), and the server logged why.
    await linda.ask("pong", type="ping")
    await panel.ask("pong", type="ping")
    await eventually(
        lambda: (
            "storage error handling a VisitorConsumer frame" in daphne.output()
            and "storage error handling a OperatorConsumer frame" in daphne.output()
        ),
        timeout=5,
        what="the database errors were not logged",
    )
    assert "OperationalError" in daphne.output()

    # The database is back: the same frames go through, each message stored once.
    database.restore()
    await linda.ask(of_type("ack", client_id="linda-1"), type="message", body="Is anyone there?", client_id="linda-1")
    await panel.ask(of_type("ack", client_id="peter-1"), type="message", room=room_id, body="Yes, Peter here.",
                    client_id="peter-1")  # fmt: skip
    await linda.expect(of_type("message", message__body="Yes, Peter here."))
    said = ["Peter joined the chat", "Is anyone there?", "Yes, Peter here."]
    assert [body for _, _, body in await transcript(room_id)] == said
    history = await panel.ask(of_type("history", room=room_id), type="history", room=room_id, after=0)
    assert [m["body"] for m in history["messages"]] == said
    welcomed = await live_sockets.visitor(daphne.base)
    assert welcomed.welcome["visitor"]


def hold_the_visitors_table(seconds: float) -> None:
    """Another transaction keeps new visitors waiting, as a busy database does."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Visitor._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        else:
            Visitor.objects.filter(pk=0).update(online=False)  # SQLite: holds the write lock
        time.sleep(seconds)
    connection.close()


async def test_hello_that_waits_for_a_busy_database_is_welcomed_not_closed_as_silent(faults, site):
    waits = 2 * settings.WP_HELLO_TIMEOUT
    busy = asyncio.create_task(asyncio.to_thread(hold_the_visitors_table, waits))
    await asyncio.sleep(0.2)  # the table is held
    linda = LiveClient(f"ws://{faults.bases[0]}/ws/visitor/?site=shop", origin=SITE_ORIGIN)
    assert await linda.connect()
    started = time.monotonic()
    welcome = await linda.ask("welcome", timeout=waits + 10, type="hello", token=None)
    assert welcome["visitor"]
    assert time.monotonic() - started > settings.WP_HELLO_TIMEOUT, "the database was not busy"
    await busy
    await linda.close()
