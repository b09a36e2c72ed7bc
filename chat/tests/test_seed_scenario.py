"""The "Shop with Your Visitors" story of shared/seed/shop-with-your-visitors.txt, end to
end on the real parts: the operators' panels and the visitors' pages are sockets on the
Redis channel layer, logout is the HTTP view, and Linda leaving is the Celery sweep.

Each step quotes the story; the rules it shows are SPEC R3-R8, R10, R12."""

import time

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from chat.models import Message
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "http://shop.test"


def fresh(client, match):
    """Only frames the client has not received yet: what the next action causes, not an
    older frame that looks the same."""
    seen = {id(frame) for frame in client.frames}
    match = of_type(match) if isinstance(match, str) else match
    return lambda frame: id(frame) not in seen and match(frame)


def on_page(visitor_id: int, path: str):
    return of_type("visitor", visitor__id=visitor_id, visitor__url=SHOP + path, visitor__online=True)


def message(body: str):
    return of_type("message", message__body=body)


def in_room(room_id: int, **fields):
    return of_type("room", room__id=room_id, **{f"room__{name}": value for name, value in fields.items()})


async def browse(visitor, path: str, title: str) -> None:
    await visitor.send(type="page", url=SHOP + path, title=title, referrer="")


class Conversation:
    """Sends messages both ways, checks each reaches the other side, and keeps what was
    said, room by room, to compare with the stored transcript."""

    def __init__(self):
        self.said: dict[int, list[tuple[str, str]]] = {}
        self.visitor_acks: list[int] = []

    async def operator_says(self, panel, visitor, room_id: int, body: str, *, operator_name: str) -> None:
        client_id = f"op-{sum(map(len, self.said.values()))}"
        await panel.ask(
            of_type("ack", client_id=client_id), type="message", room=room_id, body=body, client_id=client_id
        )
        received = await visitor.expect(message(body))
        assert received["message"]["room"] == room_id
        assert (received["message"]["sender"], received["message"]["name"]) == ("operator", operator_name)
        self.said.setdefault(room_id, []).append(("operator", body))

    async def visitor_says(self, visitor, panel, room_id: int, body: str) -> None:
        client_id = f"visitor-{len(self.visitor_acks)}"
        ack = await visitor.ask(of_type("ack", client_id=client_id), type="message", body=body, client_id=client_id)
        self.visitor_acks.append(ack["id"])
        received = await panel.expect(message(body))
        assert (received["message"]["room"], received["message"]["sender"]) == (room_id, "visitor")
        self.said.setdefault(room_id, []).append(("visitor", body))


def log_out(user):
    client = Client()
    client.force_login(user)
    return client.post("/operators/logout/")


@database_sync_to_async
def transcript(room_id: int) -> list[tuple[str, str]]:
    """What people said in the room, in order (the system lines apart: `system_lines`)."""
    messages = Message.objects.filter(room_id=room_id).exclude(sender=Message.Sender.SYSTEM)
    return list(messages.order_by("id").values_list("sender", "body"))


@database_sync_to_async
def system_lines(room_id: int) -> list[tuple[str, str]]:
    """Who was there when (R15): the room's system lines, in order, as (event, name)."""
    lines = Message.objects.filter(room_id=room_id, sender=Message.Sender.SYSTEM)
    return list(lines.order_by("id").values_list("event", "name"))


@database_sync_to_async
def visitor_message_ids(visitor_id: int) -> list[int]:
    messages = Message.objects.filter(room__visitor_id=visitor_id, sender=Message.Sender.VISITOR)
    return list(messages.order_by("id").values_list("id", flat=True))


async def test_shop_with_your_visitors(sockets, peter, jane, sweeper):
    chat = Conversation()

    # "If Peter and Jane, both are operators, and Linda and Mary, who is visitors."
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    assert {"id": peter.pk, "name": "Peter", "online": True, "status": "available"} in jane_panel.snapshot["operators"]
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    linda_id, mary_id = linda.welcome["visitor"], mary.welcome["visitor"]
    await browse(linda, "/shoes", "Shoes")
    await browse(mary, "/hats", "Hats")
    # Both operators see both visitors browsing, page by page (R1).
    for panel in (peter_panel, jane_panel):
        await panel.expect(on_page(linda_id, "/shoes"))
        await panel.expect(on_page(mary_id, "/hats"))

    # "Peter start a conversation with Linda" (R12)
    started = await peter_panel.ask(of_type("room", room__visitor=linda_id), type="start", visitor=linda_id)
    linda_room = started["room"]["id"]
    assert started["room"]["status"] == "active"
    assert started["room"]["operator"] == {"id": peter.pk, "name": "Peter"}
    await linda.expect(in_room(linda_room, status="active"))
    await jane_panel.expect(of_type("visitor", visitor__id=linda_id, visitor__room__operator__id=peter.pk))

    # "Linda talk to peter for a while"
    await chat.operator_says(
        peter_panel, linda, linda_room, "Hello Linda, can I help with the shoes?", operator_name="Peter"
    )
    back_in_room = fresh(peter_panel, in_room(linda_room, visitor_in_room=True))
    opened = await linda.ask(fresh(linda, in_room(linda_room, visitor_in_room=True)), type="open")
    assert opened["room"]["operator"]["id"] == peter.pk
    await peter_panel.expect(back_in_room)
    await chat.visitor_says(linda, peter_panel, linda_room, "Do you have these in red?")
    await chat.operator_says(peter_panel, linda, linda_room, "Yes, in every size.", operator_name="Peter")
    await chat.visitor_says(linda, peter_panel, linda_room, "Great, that answers all my questions.")

    # "and she think all her questions has been answered, so she close the Chat Window.
    # Peter see a signal saids Linda is no longer in the Chat Room." (R5)
    left_window = fresh(peter_panel, in_room(linda_room, visitor_in_room=False))
    await linda.ask(fresh(linda, in_room(linda_room, visitor_in_room=False)), type="close")
    signal = await peter_panel.expect(left_window)
    assert signal["room"]["status"] == "active"  # the room stays open

    # "Now, Peter keeps the Chat Room Open and use the different chat room to talk to other people."
    started = await peter_panel.ask(of_type("room", room__visitor=mary_id), type="start", visitor=mary_id)
    mary_room = started["room"]["id"]
    assert mary_room != linda_room
    await chat.operator_says(peter_panel, mary, mary_room, "Hi Mary, looking for a summer hat?", operator_name="Peter")
    await mary.ask(fresh(mary, in_room(mary_room, visitor_in_room=True)), type="open")
    await chat.visitor_says(mary, peter_panel, mary_room, "Yes, something with a wide brim.")

    # "Peter can still see Linda in the control panel and she is watching something in the website." (R5)
    await browse(linda, "/socks", "Socks")
    seen = await peter_panel.expect(on_page(linda_id, "/socks"))
    assert seen["visitor"]["room"]["id"] == linda_room
    assert seen["visitor"]["room"]["visitor_in_room"] is False

    # "If Peter now type in conversation with Linda in the Chat Room (but Linda has already
    # close the chat window), Linda will see the message through the Website (Message will
    # only delivered to Linda, not other visitors)." (R6)
    await chat.operator_says(
        peter_panel, linda, linda_room, "Linda, matching socks are 20% off today!", operator_name="Peter"
    )
    await mary.expect_none(lambda frame: frame.get("type") == "message" and frame["message"]["room"] != mary_room)

    # "Now, if Linda wants to ask a new questions, she click on the Chat Request again, it
    # will automatically get back to the original Chat Room with Peter." (R7)
    back_in_room = fresh(peter_panel, in_room(linda_room, visitor_in_room=True))
    reopened = await linda.ask(fresh(linda, of_type("room", room__visitor_in_room=True)), type="open")
    assert reopened["room"]["id"] == linda_room
    assert reopened["room"]["operator"] == {"id": peter.pk, "name": "Peter"}
    assert reopened["room"]["status"] == "active"
    await peter_panel.expect(back_in_room)
    # Not a request in the general pool: Jane is never offered Linda.
    await jane_panel.expect_none("room")

    # "After a couple of conversations, Linda received all the answers and she close the
    # chat room again, Peter can still see Linda is still on the website and is watching
    # the particular page."
    await chat.visitor_says(linda, peter_panel, linda_room, "Can I return the shoes if they don't fit?")
    await chat.operator_says(peter_panel, linda, linda_room, "Of course, within 30 days.", operator_name="Peter")
    await chat.visitor_says(linda, peter_panel, linda_room, "Perfect, thank you!")
    left_window = fresh(peter_panel, in_room(linda_room, visitor_in_room=False))
    await linda.ask(fresh(linda, in_room(linda_room, visitor_in_room=False)), type="close")
    await peter_panel.expect(left_window)
    await browse(linda, "/checkout", "Checkout")
    seen = await peter_panel.expect(on_page(linda_id, "/checkout"))
    assert seen["visitor"]["room"]["id"] == linda_room
    await jane_panel.expect(on_page(linda_id, "/checkout"))

    # "However, if Peter is now off duties and want to logout and go home, he close the all
    # the opened chat room (included Linda's) and logout from White Panel." (R10)
    open_to_public = fresh(jane_panel, of_type("visitor", visitor__id=linda_id, visitor__room=None))
    response = await database_sync_to_async(log_out)(peter.user)
    assert response.status_code == 302

    # "The system now indicate Peter is gone, and Linda is now open back to public."
    await jane_panel.expect(of_type("operator", operator__id=peter.pk, operator__online=False))
    ended = await linda.expect(in_room(linda_room, status="expired"))
    assert ended["room"]["reason"] == "operator_logout"
    await mary.expect(in_room(mary_room, status="expired", reason="operator_logout"))
    public = await jane_panel.expect(open_to_public)
    assert public["visitor"]["online"] is True
    with pytest.raises(AssertionError, match="socket closed"):
        await peter_panel.expect(lambda frame: False)
    assert peter_panel.closed_code == 4001

    # "Now Jane can be able to talk to Linda now and start a new conversation with Linda." (R12)
    started = await jane_panel.ask(
        of_type("room", room__visitor=linda_id, room__status="active"), type="start", visitor=linda_id
    )
    jane_room = started["room"]["id"]
    assert jane_room != linda_room
    assert started["room"]["operator"] == {"id": jane.pk, "name": "Jane"}
    await linda.expect(in_room(jane_room, status="active"))
    await chat.operator_says(jane_panel, linda, jane_room, "Hi Linda, I'm Jane. Anything else?", operator_name="Jane")
    opened = await linda.ask(fresh(linda, of_type("room", room__visitor_in_room=True)), type="open")
    assert opened["room"]["id"] == jane_room
    assert opened["room"]["operator"]["id"] == jane.pk

    # "Now, after couple of conversations, Linda finished what she asks and close the chat window."
    await chat.visitor_says(linda, jane_panel, jane_room, "Do you ship to Canada?")
    await chat.operator_says(jane_panel, linda, jane_room, "We do, in 5 working days.", operator_name="Jane")
    await chat.visitor_says(linda, jane_panel, jane_room, "Thanks Jane!")
    left_window = fresh(jane_panel, in_room(jane_room, visitor_in_room=False))
    await linda.ask(fresh(linda, in_room(jane_room, visitor_in_room=False)), type="close")
    signal = await jane_panel.expect(left_window)
    assert signal["room"]["status"] == "active"

    # "As usual, Jane do not close the Chat Room, and Jane can still see Linda is surfing
    # arround in the website."
    await browse(linda, "/shipping", "Shipping")
    seen = await jane_panel.expect(on_page(linda_id, "/shipping"))
    assert seen["visitor"]["room"]["id"] == jane_room

    # "Finally, Linda surf away from your website. After 1 minute, Jane see Linda is no
    # longer in the Website (Linda line is disappeared in the control panel), and at the
    # same time, The Chat Room used to talk to Linda is also expired (no matter Jane never
    # close the Chat Room)" (R3, R13)
    surfed_away = time.monotonic()
    await linda.close()
    within = settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 4
    expired = await jane_panel.expect(in_room(jane_room, status="expired"), timeout=within)
    await jane_panel.expect(of_type("visitor_gone", visitor=linda_id), timeout=within)
    gone_after = time.monotonic() - surfed_away
    assert expired["room"]["reason"] == "visitor_left"
    assert gone_after >= settings.WP_VISITOR_TIMEOUT - 0.05
    assert gone_after <= settings.WP_VISITOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 2
    # Mary is still shopping.
    await jane_panel.expect_none(of_type("visitor_gone", visitor=mary_id), within=0.2)

    # "within the whole conversation with Linda and Peter, all messages from Linda is
    # delivered to Peter" - and all are stored, in order, in the room they were sent to (R8).
    for room_id in (linda_room, mary_room, jane_room):
        assert await transcript(room_id) == chat.said[room_id]
    # And the transcript records who was there when (R15). Both ended with their question
    # unanswered when Peter logged out: Linda's came back to the pool (R14), where Jane took it.
    linda_name = f"Visitor {linda_id}"
    assert await system_lines(linda_room) == [
        ("joined", "Peter"),
        ("window_opened", linda_name),
        ("window_closed", linda_name),
        ("window_opened", linda_name),
        ("window_closed", linda_name),
        ("logged_out", "Peter"),
    ]
    assert await system_lines(mary_room) == [
        ("joined", "Peter"),
        ("window_opened", f"Visitor {mary_id}"),
        ("logged_out", "Peter"),
    ]
    assert await system_lines(jane_room) == [
        ("returned", linda_name),
        ("joined", "Jane"),
        ("window_opened", linda_name),
        ("window_closed", linda_name),
        ("left_site", linda_name),
    ]
    # Linda was told who joined and why Peter went, never what she did herself.
    told = [f["message"]["event"] for f in linda.frames if f["type"] == "message" and f["message"]["event"]]
    assert told == ["joined", "logged_out", "joined"]
    assert chat.visitor_acks == sorted(chat.visitor_acks)
    linda_and_mary_acks = await visitor_message_ids(linda_id) + await visitor_message_ids(mary_id)
    assert sorted(linda_and_mary_acks) == chat.visitor_acks
