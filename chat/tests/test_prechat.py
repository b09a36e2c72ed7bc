"""The pre-chat form (issue 23, part 3): a site may ask for a name and email before a first
message. Required, the server holds to it: no request and no message until they are left."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message, Room
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def prechat(site, mode: str) -> None:
    site.prechat = mode
    site.save()


async def test_a_required_form_holds_the_first_message_until_name_and_email_are_left(sockets, site, peter):
    await prechat(site, "required")
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    assert linda.welcome["site"]["prechat"] == "required"

    opened = await linda.ask("room", type="open")
    assert opened["room"] is None
    refused = await linda.ask(of_type("error", **{"for": "message"}), type="message", body="Hi!", client_id="v-1")
    assert refused["code"] == "details_required"
    assert await database_sync_to_async(Room.objects.count)() == 0
    assert await database_sync_to_async(Message.objects.count)() == 0
    await panel.expect_none(of_type("room"), within=0.3)

    await linda.ask("details", type="details", name="Linda", email="linda@example.com")
    ack = await linda.ask(of_type("ack", client_id="v-1"), type="message", body="Hi!", client_id="v-1")
    request = await panel.expect(of_type("room", room__status="pending"))
    assert request["room"]["contact"] == {"name": "Linda", "email": "linda@example.com"}
    assert ack["id"]


async def test_an_optional_form_or_none_lets_the_visitor_write_at_once(sockets, site, peter):
    await sockets.operator(peter)
    for mode in ("optional", "off"):
        await prechat(site, mode)
        visitor = await sockets.visitor()
        assert visitor.welcome["site"]["prechat"] == mode
        # Her first message is the request, no form in the way.
        asked = await ask_to_chat(visitor)
        assert asked["room"]["status"] == "pending"
