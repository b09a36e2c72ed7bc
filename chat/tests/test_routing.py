"""Away, busy and fair routing (issue 23, part 7), over the real sockets and Redis: an operator's
status reaches their colleagues; a site may cap each operator's open chats, and may give each
new request to the available operator with the fewest chats instead of the pool."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Room
from chat.tests.test_rooms import chat_with, is_pool_request, room_frame
from tests.sockets import ask_to_chat, of_type, wait_closed

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def site_settings(site, **fields) -> None:
    for name, value in fields.items():
        setattr(site, name, value)
    site.save()


async def test_an_operators_status_reaches_their_colleagues_and_a_bad_one_is_refused(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    assert {o["id"]: o["status"] for o in peter_panel.snapshot["operators"]}[jane.pk] == "available"

    # Her own coming online may reach her panel after she asks (still "available"): the answer is
    # the frame that says "away".
    await jane_panel.ask(
        of_type("operator", operator__id=jane.pk, operator__status="away"), type="status", status="away"
    )
    seen = await peter_panel.expect(of_type("operator", operator__id=jane.pk, operator__status="away"))
    assert seen["operator"]["online"] is True
    fresh = await sockets.operator(peter)
    assert {o["id"]: o["status"] for o in fresh.snapshot["operators"]}[jane.pk] == "away"

    refused = await jane_panel.ask(of_type("error", **{"for": "status"}), type="status", status="asleep")
    assert refused["code"] == "invalid"


async def test_a_site_caps_the_chats_an_operator_has_open(sockets, site, peter):
    await site_settings(site, max_chats_per_operator=1)
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    await chat_with(linda, panel, peter)
    pending = (await ask_to_chat(mary, of_type("room", room__status="pending")))["room"]

    refused = await panel.ask(of_type("error", **{"for": "accept"}), type="accept", room=pending["id"])
    assert refused["code"] == "not_allowed"
    assert "1 chats open" in refused["detail"]
    started = await panel.ask(of_type("error", **{"for": "start"}), type="start", visitor=mary.welcome["visitor"])
    assert started["code"] == "not_allowed"
    assert (await database_sync_to_async(Room.objects.get)(pk=pending["id"])).status == Room.Status.PENDING


async def test_a_site_that_assigns_requests_gives_each_to_the_available_operator_with_fewest_chats(
    sockets, site, peter, jane, make_operator
):
    olaf = await database_sync_to_async(make_operator)("olaf", site, first_name="Olaf")
    await site_settings(site, routing="assign", max_chats_per_operator=2)
    panels = {op.pk: await sockets.operator(op) for op in (peter, jane, olaf)}
    await panels[olaf.pk].ask(of_type("operator", operator__id=olaf.pk), type="status", status="away")

    visitors = [await sockets.visitor() for _ in range(5)]
    given = []
    for visitor in visitors[:4]:
        room = (await ask_to_chat(visitor, of_type("room", room__status="active")))["room"]
        given.append(room["operator"]["id"])
        await panels[room["operator"]["id"]].expect(room_frame(room["id"], room__status="active", room__routed=True))
    # Round robin between the two available, never the one who is away.
    assert sorted(given) == sorted([peter.pk, jane.pk, peter.pk, jane.pk])
    assert given[0] != given[1]
    # Both at the site's cap: the next request waits in the pool, for anyone to take.
    last = (await ask_to_chat(visitors[4]))["room"]
    assert last["status"] == "pending"
    await panels[olaf.pk].expect(is_pool_request)


async def test_an_unanswered_question_of_an_operator_who_logs_out_goes_to_a_colleague_where_requests_are_assigned(
    sockets, client, site, peter, jane
):
    await site_settings(site, routing="assign")
    peter_panel = await sockets.operator(peter)
    await jane_panel_away(sockets, jane, "busy")
    linda = await sockets.visitor()
    room = (await ask_to_chat(linda, of_type("room", room__status="active")))["room"]
    assert room["operator"]["id"] == peter.pk  # Jane is busy: not given new chats
    await linda.ask("ack", type="message", body="Do you ship to Norway?", client_id="v-1")

    jane_panel = await sockets.operator(jane)
    await jane_panel.ask(of_type("operator", operator__id=jane.pk), type="status", status="available")
    await database_sync_to_async(client.force_login)(peter.user)
    await database_sync_to_async(client.post)("/operators/logout/")

    handed = await jane_panel.expect(of_type("room", room__status="active", room__routed=True))
    assert handed["room"]["operator"]["id"] == jane.pk
    assert handed["room"]["returned"] == {"reason": "operator_logout", "operator": "Peter"}
    pending = await database_sync_to_async(Room.objects.filter(status=Room.Status.PENDING).count)()
    assert pending == 0, "it went to Jane, not to the pool"
    assert await wait_closed(peter_panel) == 4001


async def jane_panel_away(sockets, jane, status: str) -> None:
    panel = await sockets.operator(jane)
    await panel.ask(of_type("operator", operator__id=jane.pk), type="status", status=status)
    await panel.close()
