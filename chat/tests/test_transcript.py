"""R15 (issue 22): the transcript records who was there when, as `system` lines stored with the
conversation: joined, closed, reopened, transferred, the visitor's window, leaving the site, and
how each room ended. Each is written once; operators see them all; the visitor sees only those
about the operator side, by no path the others; the sweep writes thousands in one statement."""

import asyncio
import secrets
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import services, shifts
from chat.models import Message, Room
from chat.visiting import visitors_leave
from tests.owners import make_visitor
from tests.sockets import ask_to_chat, of_type
from visitors.models import Visitor, hash_token
from visitors.presence import operator_presence

# What the visitor never sees: their own window and leaving, and the pool's workings.
OPERATORS_ONLY = {"window_opened", "window_closed", "left_site", "returned", "reopened_by_visitor"}


def lines(room: Room) -> list[tuple[str, str, str]]:
    """The room's system lines, in order: (event, name, body)."""
    return list(room.messages.filter(sender=Message.Sender.SYSTEM).values_list("event", "name", "body"))


def transcript(*rooms: Room) -> list[tuple[str, str]]:
    """Everything stored in these rooms, in order: (event or sender, body)."""
    messages = Message.objects.filter(room__in=rooms).order_by("id")
    return [(m.event or m.sender, m.body) for m in messages]


def online_now(operator) -> None:
    """A panel of theirs is connected (transfers go only to operators online)."""
    asyncio.run(operator_presence.connected(operator.pk, f"panel-{operator.pk}", now=time.time()))


# Each event writes its line, once ----------------------------------------------------------


def test_each_action_on_a_room_writes_its_line_once_in_order(site, peter, jane):
    linda = make_visitor(site)
    online_now(jane)
    # Her first message is her request (R4).
    room = services.message_send_by_visitor(visitor_id=linda.pk, body="Do you have these shoes?").room
    name = f"Visitor {linda.pk}"

    # Each action twice: the second changes nothing, and writes nothing.
    for _ in range(2):
        services.room_accept(room_id=room.pk, operator=peter)
    for _ in range(2):
        services.room_leave_window(visitor_id=linda.pk)
    for _ in range(2):
        services.room_open(visitor_id=linda.pk)
    for _ in range(2):
        services.room_close(room_id=room.pk, operator=peter)
    for _ in range(2):
        services.room_reopen(room_id=room.pk, operator=peter)
    services.room_close(room_id=room.pk, operator=peter)
    services.message_send_by_visitor(visitor_id=linda.pk, body="Wait, in XL?", client_id="v-1")
    services.message_send_by_visitor(visitor_id=linda.pk, body="Wait, in XL?", client_id="v-1")  # a resend
    services.room_transfer(room_id=room.pk, operator=peter, to_operator_id=jane.pk)
    services.room_transfer(room_id=room.pk, operator=jane, to_operator_id=None)
    services.room_accept(room_id=room.pk, operator=peter)
    closing = services.room_close(room_id=room.pk, operator=peter)
    for _ in range(2):
        services.rooms_expire_due(now=closing.expires_at + timedelta(seconds=1))

    assert transcript(room) == [
        ("visitor", "Do you have these shoes?"),
        ("joined", "Peter joined the chat"),
        ("window_closed", "The visitor closed the chat window"),
        ("window_opened", "The visitor opened the chat window"),
        ("closed", "Peter closed the chat"),
        ("reopened", "Peter reopened the chat"),
        ("closed", "Peter closed the chat"),
        ("reopened_by_visitor", "The visitor wrote again: the chat is open again"),
        ("visitor", "Wait, in XL?"),
        ("transferred", "Peter transferred the chat to Jane"),
        ("joined", "Jane joined the chat"),
        ("transferred", "Jane transferred the chat to the team"),
        ("joined", "Peter joined the chat"),
        ("closed", "Peter closed the chat"),
        ("expired", "The chat has ended"),
    ]
    # Whom each line is about: the operator (by name and as a record), or the visitor.
    stored = list(room.messages.filter(sender=Message.Sender.SYSTEM).values_list("event", "name", "operator"))
    assert stored[:3] == [("joined", "Peter", peter.pk), ("window_closed", name, None), ("window_opened", name, None)]
    assert ("joined", "Jane", jane.pk) in stored
    assert not room.messages.filter(sender=Message.Sender.SYSTEM).exclude(client_id="").exists()


def test_an_operator_starting_a_chat_joins_it(site, peter, jane):
    linda, mary = make_visitor(site), make_visitor(site)
    started = services.room_start(visitor_id=linda.pk, operator=peter)
    services.room_start(visitor_id=linda.pk, operator=peter)  # already his: nothing new
    # A visitor waiting in the pool is taken from it: joined once, too.
    waiting = services.message_send_by_visitor(visitor_id=mary.pk, body="Hello?").room
    services.room_start(visitor_id=mary.pk, operator=jane)

    assert lines(started) == [("joined", "Peter", "Peter joined the chat")]
    assert lines(waiting) == [("joined", "Jane", "Jane joined the chat")]


def question_waiting(site, operator, *, online: bool = True) -> Room:
    """An active room of this operator's with the visitor's question unanswered."""
    visitor = make_visitor(site, online=online)
    room = services.room_start(visitor_id=visitor.pk, operator=operator)
    services.message_send_by_visitor(visitor_id=visitor.pk, body="Anyone?")
    return room


@pytest.mark.parametrize(
    ("end", "event", "body"),
    [
        ("logout", "logged_out", "Peter logged out"),
        ("timeout", "timed_out", "Peter lost the connection"),
        ("admin", "ended_by_admin", "The chat was ended by the site's team"),
    ],
)
def test_a_room_ending_under_a_waiting_visitor_says_why_and_the_request_after_it_says_it_came_back(
    site, peter, end, event, body
):
    room = question_waiting(site, peter)
    for _ in range(2):
        if end == "logout":
            shifts.operator_logout(operator=peter)
        elif end == "timeout":
            Operator = type(peter)
            Operator.objects.filter(pk=peter.pk).update(online=True)
            shifts.operator_timeout(operator_id=peter.pk, now=timezone.now())
        else:
            services.rooms_end(room_ids=[room.pk], now=timezone.now())

    assert lines(room) == [("joined", "Peter", "Peter joined the chat"), (event, "Peter", body)]
    returned = Room.objects.get(visitor=room.visitor, status=Room.Status.PENDING)
    assert [line[0] for line in lines(returned)] == ["returned"]
    assert lines(returned)[0][2] == "The visitor's question is back in the pool, unanswered"


def test_a_visitor_leaving_the_site_ends_their_room_with_a_line_saying_so(site, peter):
    room = question_waiting(site, peter)
    pending = services.message_send_by_visitor(visitor_id=make_visitor(site).pk, body="Hello?").room
    for _ in range(2):
        visitors_leave(visitor_ids=[room.visitor_id, pending.visitor_id], now=timezone.now())

    assert lines(room)[-1] == ("left_site", f"Visitor {room.visitor_id}", "The visitor left the site")
    assert lines(pending) == [("left_site", f"Visitor {pending.visitor_id}", "The visitor left the site")]
    assert not Room.objects.filter(status=Room.Status.PENDING).exists(), "nobody to answer: nothing comes back"


def test_system_lines_are_not_the_last_word_of_r14(site, peter):
    """A system line after the visitor's question (they closed the window, Peter closed the room)
    leaves it unanswered: the question still comes back when the room ends."""
    room = question_waiting(site, peter)
    services.room_leave_window(visitor_id=room.visitor_id)
    closing = services.room_close(room_id=room.pk, operator=peter)
    services.rooms_expire_due(now=closing.expires_at)

    assert Room.objects.filter(
        visitor=room.visitor, status=Room.Status.PENDING, return_reason="operator_closed"
    ).exists()


# Thousands at once: one statement ----------------------------------------------------------


def leaving(site, peter, n: int) -> list[int]:
    """n visitors online with no socket, half chatting with Peter, half waiting in the pool."""
    now = timezone.now()
    visitors = Visitor.objects.bulk_create(
        Visitor(site=site, token_hash=hash_token(secrets.token_urlsafe(16)), first_seen=now, since=now, last_seen=now)
        for _ in range(n)
    )
    Visitor.objects.filter(pk__in=[visitor.pk for visitor in visitors]).update(online=True)
    Room.objects.bulk_create(
        Room(
            site=site,
            visitor=visitor,
            operator=peter if i % 2 else None,
            status=Room.Status.ACTIVE if i % 2 else Room.Status.PENDING,
            created_at=now,
        )
        for i, visitor in enumerate(visitors)
    )
    return [visitor.pk for visitor in visitors]


def queries_to_let_go(site, peter, n: int) -> tuple[list[str], list[str]]:
    """The statements that let n visitors go at once: (the INSERTs of messages, the others)."""
    ids = leaving(site, peter, n)
    with CaptureQueriesContext(connection) as queries:
        assert len(visitors_leave(visitor_ids=ids, now=timezone.now())) == n
    assert Message.objects.filter(room__visitor_id__in=ids, event="left_site").count() == n
    statements = [query["sql"] for query in queries]
    inserts = [sql for sql in statements if sql.upper().startswith("INSERT") and "chat_message" in sql]
    return inserts, [sql for sql in statements if sql not in inserts]


def test_the_lines_of_many_visitors_leaving_at_once_are_written_together_not_one_by_one(site, peter):
    few_inserts, few_others = queries_to_let_go(site, peter, 4)
    inserts, others = queries_to_let_go(site, peter, 200)  # the sweep's batch (chat.expiry.LEAVE_BATCH)

    assert len(few_inserts) == 1
    # One statement on PostgreSQL; on SQLite, one per 124 rows (999 variables a statement).
    assert len(inserts) <= 2, inserts
    assert len(others) == len(few_others), "as many other statements for 200 rooms as for 4"


# The visitor never hears of what is for operators only --------------------------------------


def events_of(frames: list[dict]) -> list[str]:
    """The system lines among the messages a client received, by any frame (events, history,
    welcome)."""
    found = []
    for frame in frames:
        messages = [frame["message"]] if frame.get("type") == "message" else frame.get("messages", [])
        found += [m["event"] for m in messages if m.get("event")]
    return found


@pytest.mark.django_db(transaction=True)
async def test_the_visitor_sees_the_operator_side_and_never_the_lines_about_themselves(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    token, linda_id = linda.welcome["token"], linda.welcome["visitor"]
    pending = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
    room_id = pending["id"]
    await panel.ask(of_type("room", room__id=room_id, room__status="active"), type="accept", room=room_id)
    joined = await linda.expect(of_type("message", message__event="joined"))
    assert (joined["message"]["sender"], joined["message"]["name"], joined["message"]["body"]) == (
        "system",
        "Peter",
        "Peter joined the chat",
    )
    assert joined["message"]["client_id"] is None

    # Her window, shut and opened again; Peter closes the room and she writes in it.
    await linda.ask(of_type("room", room__visitor_in_room=False), type="close")
    await linda.ask(of_type("room", room__visitor_in_room=True), type="open")
    await panel.ask(of_type("room", room__status="closing"), type="close", room=room_id)
    await linda.ask(of_type("ack", client_id="v-1"), type="message", body="One more thing", client_id="v-1")
    for event in ("window_closed", "window_opened", "closed", "reopened_by_visitor"):
        await panel.expect(of_type("message", message__room=room_id, message__event=event))
    await panel.expect(of_type("message", message__body="One more thing"))
    await linda.expect(of_type("message", message__event="closed", message__body="Peter closed the chat"))

    # Every path that gives her messages: the history frame, and each way a hello is answered
    # (without a page; with one, the visit not in Redis yet; with one, the visit in Redis).
    seen = [(await linda.ask("history", type="history", after=0))["messages"]]
    tabs = [linda]
    for hello in ({}, {"page": {"url": "http://shop.test/a"}}, {"page": {"url": "http://shop.test/b"}}):
        tabs.append(await sockets.visitor(hello=False))
        seen.append((await tabs[-1].ask("welcome", type="hello", token=token, history=0, **hello))["messages"])
    for messages in seen:
        assert [(m["event"], m["body"]) for m in messages] == [
            (None, "Hello?"),
            ("joined", "Peter joined the chat"),
            ("closed", "Peter closed the chat"),
            (None, "One more thing"),
        ]

    # She leaves the site: operators are told; she, back later, is not.
    for tab in tabs:
        await tab.close()
    await database_sync_to_async(visitors_leave)(visitor_ids=[linda_id], now=timezone.now())
    await panel.expect(of_type("message", message__room=room_id, message__event="left_site"))
    back = await sockets.visitor(hello=False)
    welcome = await back.ask("welcome", type="hello", token=token, history=0, page={"url": "http://shop.test/"})
    assert [m["event"] for m in welcome["messages"]] == [None, "joined", "closed", None]

    received = [event for tab in [*tabs, back] for event in events_of(tab.frames)]
    assert received
    assert not OPERATORS_ONLY & set(received), received
    assert {"window_closed", "window_opened", "reopened_by_visitor", "left_site"} <= set(events_of(panel.frames))


# Admin and the API show the conversation as the panel does --------------------------------


def handed_over(site, peter, jane) -> tuple[Room, Room]:
    """Linda asked Peter, who logged out with her question unanswered; Jane took it from the pool."""
    first = question_waiting(site, peter)
    shifts.operator_logout(operator=peter)
    second = Room.objects.get(visitor=first.visitor, status=Room.Status.PENDING)
    services.room_accept(room_id=second.pk, operator=jane)
    services.message_send_by_operator(room_id=second.pk, operator=jane, body="Jane here: yes, we are open.")
    return first, second


def test_the_api_gives_system_lines_with_sender_system_and_their_event(site, peter, jane):
    from tests.api import client_for

    first, second = handed_over(site, peter, jane)

    answer = client_for(jane.user).get(f"/api/rooms/{first.pk}/messages/").json()["results"]
    assert [(m["sender"], m["event"], m["name"], m["body"]) for m in answer] == [
        ("system", "joined", "Peter", "Peter joined the chat"),
        ("visitor", None, f"Visitor {first.visitor_id}", "Anyone?"),
        ("system", "logged_out", "Peter", "Peter logged out"),
    ]
    answer = client_for(jane.user).get(f"/api/rooms/{second.pk}/messages/").json()["results"]
    assert [(m["sender"], m["event"]) for m in answer] == [
        ("system", "returned"),
        ("system", "joined"),
        ("operator", None),
    ]
    assert all(m["client_id"] is None for m in answer if m["sender"] == "system")


def test_admin_shows_the_visitors_conversation_with_who_was_there_when(site, peter, jane):
    from tests.owners import admin_client, make_staff

    peter.user.first_name = "<b>Peter</b>"  # a name is text, never markup
    peter.user.save()
    first, second = handed_over(site, peter, jane)
    services.rooms_end(room_ids=[second.pk], now=timezone.now())

    page = admin_client(make_staff("owner", site)).get(f"/admin/chat/room/{second.pk}/change/").content.decode()

    # The earlier room's lines first (dimmed, linked to their room), then this room's, in order.
    order = [
        "&lt;b&gt;Peter&lt;/b&gt; joined the chat",
        "Anyone?",
        "&lt;b&gt;Peter&lt;/b&gt; logged out",
        "The visitor&#x27;s question is back in the pool, unanswered",
        "Jane joined the chat",
        "Jane here: yes, we are open.",
        "The chat was ended by the site&#x27;s team",
    ]
    positions = [page.index(text) for text in order]
    assert positions == sorted(positions)
    assert page.count('class="wp-line wp-system wp-earlier" data-sender="system"') == 2
    assert page.count('class="wp-line wp-system" data-sender="system"') == 3
    assert f'href="/admin/chat/room/{first.pk}/change/"' in page
    assert "chat/admin-transcript.css" in page
    assert "<b>Peter</b>" not in page


@pytest.mark.django_db(transaction=True)
async def test_the_csv_export_has_the_system_lines_with_their_event(site, peter, jane):
    from chat.tests.test_admin import export
    from tests.owners import make_staff

    first, _ = await database_sync_to_async(handed_over)(site, peter, jane)
    root = await database_sync_to_async(make_staff)("root", superuser=True)

    rows = await export(root, [first.pk])

    assert [(row["sender"], row["event"], row["body"]) for row in rows] == [
        ("system", "joined", "Peter joined the chat"),
        ("visitor", "", "Anyone?"),
        ("system", "logged_out", "Peter logged out"),
    ]
