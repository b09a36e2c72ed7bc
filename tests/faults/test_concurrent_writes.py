"""Issue 8: writes that meet in the database, one of them slow to commit.

Another transaction is played by a thread of the test calling the real service and
committing late, as a busy database or a slow process would. Its events go to the
test's own channel layer, not to the stack's: the clients learn of its changes from
the database only. On PostgreSQL these are real row-lock races; on SQLite, where
every write waits for the one before, they must come out the same."""

import asyncio
import time

import pytest
from django.conf import settings
from django.db import connection, transaction

from chat.services import message_send_by_operator, room_accept
from tests.faults.conversation import eventually, rooms_of
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


def slow_transaction(seconds: float, action) -> None:
    """Run the action in a transaction that commits `seconds` later."""
    with transaction.atomic():
        action()
        time.sleep(seconds)
    connection.close()


async def test_history_after_the_last_id_seen_misses_no_message_that_committed_late(faults, live_sockets, peter):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    started = await panel.ask(of_type("room", room__status="active"), type="start", visitor=linda.welcome["visitor"])
    room_id = started["room"]["id"]

    # Peter's message is being stored, slowly, as Linda writes hers.
    peter_writes = asyncio.create_task(asyncio.to_thread(
        slow_transaction, 1.5,
        lambda: message_send_by_operator(room_id=room_id, operator=peter, body="Let me check.", client_id="p-1"),
    ))  # fmt: skip
    await asyncio.sleep(0.3)
    await linda.ask(of_type("ack", client_id="l-1"), timeout=10, type="message", body="Hello?", client_id="l-1")

    # The snippet resumes from the last id it saw: it must not have jumped past Peter's.
    seen = (await linda.ask("history", type="history", after=0))["messages"]
    await peter_writes
    resumed = (await linda.ask("history", type="history", after=max(m["id"] for m in seen)))["messages"]
    assert sorted(m["body"] for m in seen + resumed) == ["Hello?", "Let me check.", "Peter joined the chat"]


async def test_visitor_leaving_as_their_request_is_accepted_leaves_no_room_open(faults, live_sockets, peter):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    linda_id = linda.welcome["visitor"]
    room_id = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]["id"]
    await linda.close()

    # Peter's accept commits late, holding the room's row across Linda's leave deadline and sweeps.
    holding = settings.WP_VISITOR_TIMEOUT + 2 * settings.WP_SWEEP_INTERVAL + 1
    await asyncio.sleep(settings.WP_VISITOR_TIMEOUT / 2)
    peter_accepts = asyncio.create_task(
        asyncio.to_thread(slow_transaction, holding, lambda: room_accept(room_id=room_id, operator=peter))
    )
    await panel.expect(of_type("visitor_gone", visitor=linda_id), timeout=holding + settings.WP_SWEEP_INTERVAL + 5)
    await peter_accepts

    # Linda left: the room she left behind ends, though Peter took it meanwhile.
    async def ended():
        return await rooms_of(linda_id) == [(room_id, "expired", "visitor_left")]

    await eventually(ended, timeout=settings.WP_SWEEP_INTERVAL + 5, what=lambda: "the room stays open")
