"""The end of an operator's shift (R10, R11): logging out, or the panel gone for
OPERATOR_TIMEOUT, ends all their rooms and opens their visitors to everyone."""

import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from chat.models import Room
from tests.sockets import ask_to_chat, of_type, wait_closed

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_LOGGED_OUT = 4001


def post_logout(user) -> int:
    """Peter clicks "log out" in the panel: a POST with his session and CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/panel/")  # the panel page sets the CSRF cookie, as in the browser
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post("/operators/logout/", HTTP_X_CSRFTOKEN=token)
    return response.status_code


def room_states(room_ids: list[int]) -> list[tuple[str, str]]:
    return [(room.status, room.reason) for room in Room.objects.filter(pk__in=room_ids).order_by("pk")]


def from_now_on(client, match):
    """Matches only frames the client receives from now on (the backlog holds older news,
    such as the visitor's arrival with no room)."""
    seen = {id(frame) for frame in client.frames}
    return lambda frame: id(frame) not in seen and match(frame)


async def chat_with(
    visitor, panel, operator, *, asking: str = "Hello?", answer: str = "Hello! How can I help?"
) -> dict:
    """The visitor asks (opens the window and writes: the request, R4), this operator takes it
    and answers: nothing is left unanswered, so the end of a shift frees the visitor (R10)
    rather than putting a question back in the pool (R14)."""
    pending = (await ask_to_chat(visitor, of_type("room", room__status="pending"), body=asking))["room"]
    accepted = await panel.ask(
        of_type("room", room__id=pending["id"], room__operator__id=operator.pk), type="accept", room=pending["id"]
    )
    await visitor.expect(of_type("room", room__id=pending["id"], room__status="active"))
    client_id = f"answer-{pending['id']}"
    await panel.ask(
        of_type("ack", client_id=client_id), type="message", room=pending["id"], body=answer, client_id=client_id
    )
    await visitor.expect(of_type("message", message__body=answer))
    return accepted["room"]


# R10: logout ---------------------------------------------------------------------


async def test_logout_ends_operator_rooms_at_once_and_frees_their_visitors(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    peter_second_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    linda_room = await chat_with(linda, peter_panel, peter)
    mary_room = await chat_with(mary, peter_panel, peter)
    closing = of_type("room", room__id=mary_room["id"], room__status="closing")
    await peter_panel.ask(closing, type="close", room=mary_room["id"])
    peter_offline = from_now_on(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False))
    linda_free = from_now_on(jane_panel, of_type("visitor", visitor__id=linda.welcome["visitor"], visitor__room=None))
    mary_free = from_now_on(jane_panel, of_type("visitor", visitor__id=mary.welcome["visitor"], visitor__room=None))

    started = time.monotonic()
    status = await database_sync_to_async(post_logout)(peter.user)
    answered = time.monotonic() - started

    assert status == 302
    # Done by the request itself, not by a later sweep: the rooms have ended when it answers.
    assert await database_sync_to_async(room_states)([linda_room["id"], mary_room["id"]]) == [
        ("expired", "operator_logout"),
        ("expired", "operator_logout"),
    ]
    assert answered < settings.WP_OPERATOR_TIMEOUT
    for visitor, room in ((linda, linda_room), (mary, mary_room)):
        ended = await visitor.expect(of_type("room", room__id=room["id"], room__status="expired"))
        assert ended["room"]["reason"] == "operator_logout"
    await jane_panel.expect(peter_offline)
    for free in (linda_free, mary_free):
        shown = await jane_panel.expect(free)
        assert shown["visitor"]["online"] is True
    assert await wait_closed(peter_panel) == CLOSE_LOGGED_OUT
    assert await wait_closed(peter_second_panel) == CLOSE_LOGGED_OUT

    # Open to the public: Linda's next request goes to the pool, Jane starts with Mary.
    request = from_now_on(linda, of_type("room", room__visitor_in_room=True))
    again = (await ask_to_chat(linda, request))["room"]
    assert again["status"] == "pending"
    assert again["id"] != linda_room["id"]
    assert again["operator"] is None
    await jane_panel.expect(of_type("room", room__id=again["id"], room__status="pending"))
    mary_id = mary.welcome["visitor"]
    start_answer = from_now_on(
        jane_panel, lambda f: f["type"] == "error" or (f["type"] == "room" and f["room"]["visitor"] == mary_id)
    )
    started_by_jane = await jane_panel.ask(start_answer, type="start", visitor=mary_id)
    assert started_by_jane["type"] == "room", started_by_jane
    assert started_by_jane["room"]["status"] == "active"
    assert started_by_jane["room"]["operator"] == {"id": jane.pk, "name": "Jane"}
    await mary.expect(of_type("room", room__id=started_by_jane["room"]["id"], room__operator__id=jane.pk))


async def test_logout_events_arrive_well_before_a_sweep_could_act(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)

    peter_offline = from_now_on(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False))

    started = time.monotonic()
    await database_sync_to_async(post_logout)(peter.user)
    await linda.expect(of_type("room", room__id=room["id"], room__status="expired"))
    await jane_panel.expect(peter_offline)
    elapsed = time.monotonic() - started

    # The panel's own timeout (R11) would take OPERATOR_TIMEOUT; logout must not wait for anything.
    assert elapsed < settings.WP_OPERATOR_TIMEOUT / 2, f"logout took {elapsed:.2f}s to reach the others"


# R11: the panel is gone ------------------------------------------------------------


async def test_operator_without_panel_for_timeout_is_logged_out(sockets, peter, jane, sweeper):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    timeout = settings.WP_OPERATOR_TIMEOUT

    peter_offline = from_now_on(jane_panel, of_type("operator", operator__id=peter.pk, operator__online=False))
    linda_free = from_now_on(jane_panel, of_type("visitor", visitor__id=linda.welcome["visitor"], visitor__room=None))

    deadline = time.monotonic() + timeout
    await peter_panel.close()  # the laptop lid closes

    is_expired = of_type("room", room__id=room["id"], room__status="expired")
    await linda.expect_none(is_expired, within=timeout - 0.5)
    assert await database_sync_to_async(room_states)([room["id"]]) == [("active", "")]
    expired = await linda.expect(is_expired, timeout=settings.WP_SWEEP_INTERVAL + 2.5)
    arrived = time.monotonic()

    assert arrived >= deadline - 0.05, f"timed out {deadline - arrived:.2f}s early"
    assert arrived <= deadline + settings.WP_SWEEP_INTERVAL + 2, f"timed out {arrived - deadline:.2f}s late"
    assert expired["room"]["reason"] == "operator_timeout"
    await jane_panel.expect(peter_offline)
    await jane_panel.expect(linda_free)


async def test_operator_back_within_timeout_keeps_rooms(sockets, peter, jane, sweeper):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    timeout = settings.WP_OPERATOR_TIMEOUT

    is_expired = of_type("room", room__id=room["id"], room__status="expired")
    await peter_panel.close()  # a page reload of the panel
    await linda.expect_none(is_expired, within=timeout / 2)
    peter_panel = await sockets.operator(peter)

    assert [r["id"] for r in peter_panel.snapshot["rooms"]] == [room["id"]]
    past_deadline = timeout / 2 + settings.WP_SWEEP_INTERVAL + 1
    await linda.expect_none(is_expired, within=past_deadline)
    await jane_panel.expect_none(of_type("operator", operator__id=peter.pk, operator__online=False), within=0.1)
    assert await database_sync_to_async(room_states)([room["id"]]) == [("active", "")]
    await peter_panel.ask("ack", type="message", room=room["id"], body="Sorry, my laptop slept", client_id="o-1")
    await linda.expect(of_type("message", message__body="Sorry, my laptop slept"))
