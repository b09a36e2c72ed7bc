"""Case 3: a visitor reaches nothing but their own conversation, whatever ids or tokens they
send; tokens are unguessable, stay out of everything operators see, and can be rotated.
(Foreign and forged tokens: visitors/tests/test_consumers.py; operators: case 4, below.)"""

import base64

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.owners import admin_client, make_staff
from tests.sockets import ask_to_chat, of_type
from visitors.models import Visitor
from visitors.services import page_views_flush

pytestmark = pytest.mark.django_db(transaction=True)


async def conversation(sockets, panel, visitor, *bodies: str) -> int:
    """The visitor asks to chat, the operator accepts and writes: the room's id."""
    pending = (await ask_to_chat(visitor, of_type("room", room__status="pending")))["room"]
    await panel.ask(of_type("room", room__id=pending["id"], room__status="active"), type="accept", room=pending["id"])
    for n, body in enumerate(bodies):
        await panel.ask(
            of_type("ack", client_id=f"op{n}"), type="message", room=pending["id"], body=body, client_id=f"op{n}"
        )
    return pending["id"]


async def test_visitor_cannot_read_or_write_another_visitors_room_by_id(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room_id = await conversation(sockets, panel, linda, "Your order 1234 ships to 5 Elm Street")
    secret = await database_sync_to_async(Message.objects.get)(body__startswith="Your order")
    mallory = await sockets.visitor()

    # Every id Mallory can think of, in every field: she gets her own (empty) history.
    for guess in ({"room": room_id}, {"visitor": linda.welcome["visitor"]}, {"message": secret.pk}):
        answer = await mallory.ask("history", type="history", after=0, **guess)
        assert (answer["messages"], answer["room"]) == ([], None)
    answer = await mallory.ask("history", type="history", after=secret.pk - 1, room=room_id)
    assert answer["messages"] == []
    # Writing "into" Linda's room opens a request of her own instead; Linda sees nothing.
    await mallory.ask("ack", type="message", body="hi Linda", room=room_id, client_id="m1")
    mallorys = await panel.expect(of_type("room", room__visitor=mallory.welcome["visitor"], room__status="pending"))
    assert mallorys["room"]["id"] != room_id
    await linda.expect_none(of_type("message", message__body="hi Linda"), within=0.3)
    # A visitor id is not a token.
    guessed = await sockets.visitor(token=str(linda.welcome["visitor"]))
    assert guessed.welcome["visitor"] != linda.welcome["visitor"]
    await mallory.expect_none(lambda frame: "5 Elm Street" in str(frame), within=0.1)


async def test_tokens_are_random_256_bit_and_only_their_digest_is_stored(sockets, site):
    tokens = [(await sockets.visitor()).welcome["token"] for _ in range(20)]
    assert len(set(tokens)) == 20
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16  # >= 128 bits
    stored = await database_sync_to_async(lambda: list(Visitor.objects.values_list("token_hash", flat=True)))()
    assert not set(tokens) & set(stored)


async def test_token_is_never_shown_to_operators_owners_or_the_api(sockets, site, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    token = linda.welcome["token"]
    await linda.send(type="page", url="http://shop.test/cart", title="Cart", referrer="")
    await conversation(sockets, panel, linda, "hello")
    await linda.ask("ack", type="message", body="thanks", client_id="l1")
    await panel.expect(of_type("message", message__body="thanks"))

    def pages() -> list[str]:
        from tests.api import client_for

        owner = make_staff("owner", site)
        admin = admin_client(owner)
        visitor_id = linda.welcome["visitor"]
        return [
            client_for(peter.user).get("/api/visitors/").content.decode(),
            client_for(peter.user).get("/api/rooms/").content.decode(),
            admin.get("/admin/visitors/visitor/").content.decode(),
            admin.get(f"/admin/visitors/visitor/{visitor_id}/change/").content.decode(),
            admin.get("/admin/chat/room/").content.decode(),
        ]

    seen = [str(frame) for frame in panel.frames] + [str(panel.snapshot)] + await database_sync_to_async(pages)()
    fresh = await sockets.operator(peter)
    seen.append(str(fresh.snapshot))
    assert all(token not in text for text in seen)
    assert any(f"Visitor {linda.welcome['visitor']}" in text for text in seen[-6:])  # the pages did show her


async def test_rotated_token_keeps_the_visitor_and_the_old_one_names_nobody(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    other_tab = await sockets.visitor(token=linda.welcome["token"])
    room_id = await conversation(sockets, panel, linda, "hello")
    old = linda.welcome["token"]

    new = (await linda.ask("token", type="rotate"))["token"]
    assert new != old
    assert len(new) >= 22

    stolen = await sockets.visitor(token=old)
    assert stolen.welcome["visitor"] != linda.welcome["visitor"]
    assert stolen.welcome["room"] is None
    assert (await stolen.ask("history", type="history", after=0))["messages"] == []

    again = await sockets.visitor(token=new)
    assert again.welcome["visitor"] == linda.welcome["visitor"]
    assert again.welcome["room"]["id"] == room_id
    # Tabs already open stay hers: the operator's next message reaches them all.
    ack = await panel.ask("ack", type="message", room=room_id, body="still there?", client_id="op-after")
    for tab in (linda, other_tab, again):
        await tab.expect(of_type("message", message__id=ack["id"]))
    await stolen.expect_none(of_type("message"), within=0.3)


async def test_a_rotated_token_this_process_remembers_names_nobody_on_a_page_load(sockets, peter):
    # The snippet's hello carries its page: a token the process has identified before skips
    # the read of the visitor, and the arrival's statement checks it (visitors/identities.py).
    panel = await sockets.operator(peter)
    landing, cart = {"url": "http://shop.test/"}, {"url": "http://shop.test/cart"}
    first_page = await sockets.visitor(hello=False)
    old = (await first_page.ask("welcome", type="hello", token=None, page=landing))["token"]
    linda = await sockets.visitor(hello=False)
    welcome = await linda.ask("welcome", type="hello", token=old, page=cart)
    room_id = await conversation(sockets, panel, linda, "hello")
    new = (await linda.ask("token", type="rotate"))["token"]

    stolen = await sockets.visitor(hello=False)
    got = await stolen.ask("welcome", type="hello", token=old, page={"url": "http://shop.test/account"}, history=0)

    assert got["visitor"] != welcome["visitor"]
    assert (got["room"], got["messages"]) == (None, [])
    assert got["token"] not in (old, new)
    await database_sync_to_async(page_views_flush)(wait=True)  # the visit's pages wait in Redis
    linda_now = await database_sync_to_async(Visitor.objects.get)(pk=welcome["visitor"])
    assert (linda_now.url, linda_now.pages) == ("http://shop.test/cart", 2)  # not the stolen page
    ack = await panel.ask("ack", type="message", room=room_id, body="still there?", client_id="op-after")
    await linda.expect(of_type("message", message__id=ack["id"]))
    await stolen.expect_none(of_type("message"), within=0.3)


# Case 4: operators ----------------------------------------------------------------------


async def test_operator_reads_and_acts_alike_over_socket_and_api(sockets, peter, jane, olga):
    """One rule on both doors: an operator reads every room of the sites they serve, acts only
    on their own, and another site's room does not exist for them."""
    from tests.api import client_for

    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room_id = await conversation(sockets, jane_panel, linda, "Jane here")
    peter_panel, olga_panel = await sockets.operator(peter), await sockets.operator(olga)

    def over_api(user, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        response = getattr(client_for(user), method)(path, body, format="json")
        return response.status_code, response.json()

    # Peter, a colleague on the site: reads, may not write.
    on_socket = await peter_panel.ask("history", type="history", room=room_id, after=0)
    status, on_api = await database_sync_to_async(over_api)(peter.user, "get", f"/api/rooms/{room_id}/messages/")
    assert status == 200
    said = ["Hello?", "Jane joined the chat", "Jane here"]
    assert [m["body"] for m in on_socket["messages"]] == [m["body"] for m in on_api["results"]] == said
    error = await peter_panel.ask("error", type="message", room=room_id, body="psst", client_id="p")
    status, body = await database_sync_to_async(over_api)(
        peter.user, "post", f"/api/rooms/{room_id}/messages/", {"body": "psst"}
    )
    assert (error["code"], status, body["error"]["code"]) == ("not_allowed", 403, "not_allowed")

    # Olga, on another site: nothing there, whatever she asks.
    for action in ("history", "message", "close", "reopen", "accept"):
        error = await olga_panel.ask("error", type=action, room=room_id, body="x", after=0)
        assert error["code"] == "not_found", action
    for method, path in (("get", f"/api/rooms/{room_id}/"), ("get", f"/api/rooms/{room_id}/messages/")):
        assert (await database_sync_to_async(over_api)(olga.user, method, path))[0] == 404
    assert all(linda.welcome["visitor"] != v["id"] for v in olga_panel.snapshot["visitors"])
    await olga_panel.expect_none(lambda frame: "Jane here" in str(frame), within=0.2)
    await linda.expect_none(of_type("message", message__body="psst"), within=0.2)
