"""Rooms and messages over the REST API: who sees which room, filters, pages, and sending
and closing through the same services as the operator socket."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chat import events, services
from chat.expiry import sweep
from chat.models import Message, Room
from tests.api import client_for, error_of, ids, make_message, make_room, make_user, make_visitor
from tests.sockets import of_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(site):
    return make_user("owner", staff=True, owns=(site,))


@pytest.fixture
def rooms(site, other_site, peter, jane, olga):
    """A room of each operator, one in the pool, an expired one; one room on the other site."""
    return {
        "peter": make_room(make_visitor(site), operator=peter),
        "jane": make_room(make_visitor(site), operator=jane),
        "pool": make_room(make_visitor(site)),
        "old": make_room(make_visitor(site, online=False), operator=peter, status=Room.Status.EXPIRED),
        "other": make_room(make_visitor(other_site), operator=olga),
    }


def site_room_ids(rooms) -> set[int]:
    return {room.pk for name, room in rooms.items() if name != "other"}


# Who sees which room ------------------------------------------------------------------


def test_operator_sees_every_room_of_the_sites_they_serve_and_no_other(rooms, peter, olga):
    assert set(ids(client_for(peter.user).get("/api/rooms/"))) == site_room_ids(rooms)
    assert ids(client_for(olga.user).get("/api/rooms/")) == [rooms["other"].pk]


def test_site_owner_sees_the_rooms_of_the_sites_they_own(rooms, owner):
    assert set(ids(client_for(owner).get("/api/rooms/"))) == site_room_ids(rooms)


def test_staff_user_who_owns_no_site_sees_no_room(rooms):
    staff = make_user("staff", staff=True)
    assert ids(client_for(staff).get("/api/rooms/")) == []
    assert client_for(staff).get(f"/api/rooms/{rooms['peter'].pk}/").status_code == 404


def test_owner_who_is_no_longer_staff_sees_nothing(rooms, site):
    former = make_user("former", staff=False, owns=(site,))
    assert ids(client_for(former).get("/api/rooms/")) == []


def test_superuser_sees_the_rooms_of_every_site(rooms):
    root = make_user("root", superuser=True)
    assert set(ids(client_for(root).get("/api/rooms/"))) == {room.pk for room in rooms.values()}


def test_anonymous_request_is_refused_with_401_and_an_error_body(rooms):
    response = client_for(None).get("/api/rooms/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


def test_unknown_token_is_refused_with_401(rooms):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = client.get("/api/rooms/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_room_of_a_site_one_does_not_serve_looks_the_same_as_no_room(rooms, olga):
    client = client_for(olga.user)
    foreign = client.get(f"/api/rooms/{rooms['peter'].pk}/")
    missing = client.get("/api/rooms/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert error_of(foreign)["code"] == "not_found"


def test_room_is_the_same_object_the_sockets_send(rooms, jane):
    room = rooms["peter"]
    response = client_for(jane.user).get(f"/api/rooms/{room.pk}/")
    assert response.status_code == 200
    assert response.json() == events.room_payload(Room.objects.select_related("operator__user").get(pk=room.pk))
    assert response.json()["operator"] == {"id": room.operator.pk, "name": "Peter"}


def test_huge_room_id_is_404(rooms, peter):
    response = client_for(peter.user).get(f"/api/rooms/{2**70}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# Filters and ordering ----------------------------------------------------------------------


def test_rooms_filter_by_status_and_several_statuses(rooms, peter):
    client = client_for(peter.user)
    assert ids(client.get("/api/rooms/?status=pending")) == [rooms["pool"].pk]
    assert set(ids(client.get("/api/rooms/?status=active&status=pending"))) == {
        rooms["peter"].pk,
        rooms["jane"].pk,
        rooms["pool"].pk,
    }


def test_rooms_filter_by_operator_and_visitor(rooms, peter, jane):
    client = client_for(peter.user)
    assert set(ids(client.get(f"/api/rooms/?operator={peter.pk}"))) == {rooms["peter"].pk, rooms["old"].pk}
    assert ids(client.get(f"/api/rooms/?operator={jane.pk}&status=active")) == [rooms["jane"].pk]
    assert ids(client.get(f"/api/rooms/?visitor={rooms['pool'].visitor_id}")) == [rooms["pool"].pk]


def test_rooms_filter_by_site_shows_nothing_of_a_site_one_cannot_see(rooms, site, other_site):
    root = client_for(make_user("root", superuser=True))
    assert ids(root.get(f"/api/rooms/?site={other_site.pk}")) == [rooms["other"].pk]
    owner = client_for(make_user("owner", staff=True, owns=(site,)))
    assert ids(owner.get(f"/api/rooms/?site={other_site.pk}")) == []
    assert set(ids(owner.get(f"/api/rooms/?site={site.pk}"))) == site_room_ids(rooms)


def test_rooms_filter_by_creation_date_range(site, peter):
    now = timezone.now()
    old = make_room(make_visitor(site), created_at=now - timedelta(days=10))
    recent = make_room(make_visitor(site), created_at=now - timedelta(days=2))
    today = make_room(make_visitor(site), created_at=now)
    client = client_for(peter.user)
    week_ago = (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    yesterday = (now - timedelta(days=1)).date().isoformat()
    assert set(ids(client.get(f"/api/rooms/?created_after={week_ago}"))) == {recent.pk, today.pk}
    assert ids(client.get(f"/api/rooms/?created_before={week_ago}")) == [old.pk]
    assert ids(client.get(f"/api/rooms/?created_after={week_ago}&created_before={yesterday}")) == [recent.pk]


def test_rooms_come_newest_first_unless_ordered_otherwise(site, peter):
    now = timezone.now()
    made = [make_room(make_visitor(site), created_at=now - timedelta(minutes=minutes)) for minutes in (5, 30, 1)]
    by_age = [room.pk for room in sorted(made, key=lambda room: room.created_at)]
    client = client_for(peter.user)
    assert ids(client.get("/api/rooms/")) == by_age[::-1]
    assert ids(client.get("/api/rooms/?ordering=created_at")) == by_age
    assert ids(client.get("/api/rooms/?ordering=-id")) == sorted(room.pk for room in made)[::-1]


@pytest.mark.parametrize(
    "query",
    ["status=open", "site=shop", "operator=-1", "created_after=yesterday", "ordering=name", f"visitor={2**64}"],
)
def test_bad_filter_is_400_invalid_naming_the_parameter(rooms, peter, query):
    response = client_for(peter.user).get(f"/api/rooms/?{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert query.split("=")[0] in error["fields"]


# Pagination -------------------------------------------------------------------------------


@pytest.fixture
def many_rooms(site):
    """205 expired rooms of one visitor (only live rooms are one per visitor)."""
    visitor = make_visitor(site)
    now = timezone.now()
    Room.objects.bulk_create(
        Room(site=site, visitor=visitor, status=Room.Status.EXPIRED, reason="visitor_left", created_at=now)
        for _ in range(205)
    )


def test_rooms_come_50_a_page_with_links_to_the_next(many_rooms, peter):
    client = client_for(peter.user)
    first = client.get("/api/rooms/").json()
    assert first["count"] == 205
    assert len(first["results"]) == 50
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 50
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


def test_page_size_may_be_chosen_up_to_200(many_rooms, peter):
    client = client_for(peter.user)
    assert len(client.get("/api/rooms/?page_size=7").json()["results"]) == 7
    assert len(client.get("/api/rooms/?page_size=1000").json()["results"]) == 200
    last = client.get("/api/rooms/?page_size=200&page=2").json()
    assert len(last["results"]) == 5
    assert last["next"] is None


def test_page_beyond_the_last_is_404(many_rooms, peter):
    response = client_for(peter.user).get("/api/rooms/?page=99")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# Messages -----------------------------------------------------------------------------------


def test_messages_come_oldest_first_and_resume_after_an_id(rooms, peter):
    room = rooms["peter"]
    sent = [make_message(room, f"message {n}") for n in range(5)]
    client = client_for(peter.user)
    everything = client.get(f"/api/rooms/{room.pk}/messages/").json()
    assert [m["body"] for m in everything["results"]] == [f"message {n}" for n in range(5)]
    assert everything["results"][0] == events.message_payload(sent[0])
    rest = client.get(f"/api/rooms/{room.pk}/messages/?after={sent[2].pk}").json()
    assert [m["id"] for m in rest["results"]] == [sent[3].pk, sent[4].pk]


def test_messages_are_paginated(rooms, peter):
    room = rooms["peter"]
    Message.objects.bulk_create(
        Message(room=room, sender="visitor", name="Visitor", body=f"m{n}", at=timezone.now()) for n in range(60)
    )
    client = client_for(peter.user)
    first = client.get(f"/api/rooms/{room.pk}/messages/?page_size=25").json()
    assert first["count"] == 60
    assert [m["body"] for m in first["results"]] == [f"m{n}" for n in range(25)]
    third = client.get(first["next"].replace("page=2", "page=3")).json()
    assert [m["body"] for m in third["results"]] == [f"m{n}" for n in range(50, 60)]


def test_site_owner_reads_any_transcript_of_their_site_and_others_get_404(rooms, owner, olga):
    room = rooms["jane"]
    make_message(room, "hello there")
    response = client_for(owner).get(f"/api/rooms/{room.pk}/messages/")
    assert [m["body"] for m in response.json()["results"]] == ["hello there"]
    assert client_for(olga.user).get(f"/api/rooms/{room.pk}/messages/").status_code == 404


def test_bad_after_is_400_invalid(rooms, peter):
    response = client_for(peter.user).get(f"/api/rooms/{rooms['peter'].pk}/messages/?after=last")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


# Sending a message ------------------------------------------------------------------------


def post_message(user, room_id: int, **body):
    return client_for(user).post(f"/api/rooms/{room_id}/messages/", body, format="json")


def test_message_is_stored_and_answered_with_the_message_object(rooms, peter):
    room = rooms["peter"]
    response = post_message(peter.user, room.pk, body="Those shoes come in blue too.", client_id="c-1")
    assert response.status_code == 201
    message = Message.objects.get(room=room)
    assert response.json() == events.message_payload(message)
    assert (message.sender, message.name, message.body, message.client_id) == (
        "operator",
        "Peter",
        "Those shoes come in blue too.",
        "c-1",
    )


def test_resending_with_the_same_client_id_stores_the_message_once(rooms, peter):
    room = rooms["peter"]
    first = post_message(peter.user, room.pk, body="Hello", client_id="same")
    again = post_message(peter.user, room.pk, body="Hello", client_id="same")
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.filter(room=room).count() == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({}, "invalid", "body"),
        ({"body": ""}, "invalid", "body"),
        ({"body": "   \n "}, "invalid", "body"),
        ({"body": 42}, "invalid", "body"),
        ({"body": "x" * 4001}, "too_long", "body"),
        ({"body": "hi", "client_id": "c" * 65}, "too_long", "client_id"),
    ],
)
def test_bad_message_is_refused_with_the_socket_error_code_and_nothing_stored(rooms, peter, body, code, field):
    response = post_message(peter.user, rooms["peter"].pk, **body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code
    assert field in error["fields"]
    assert not Message.objects.exists()


def test_message_body_of_the_maximum_length_is_accepted(rooms, peter):
    response = post_message(peter.user, rooms["peter"].pk, body="x" * settings.WP_MAX_MESSAGE_LENGTH)
    assert response.status_code == 201


def test_request_body_that_is_not_json_is_400_bad_json(rooms, peter):
    client = client_for(peter.user)
    response = client.post(f"/api/rooms/{rooms['peter'].pk}/messages/", "{body", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_json"
    form = client.post(f"/api/rooms/{rooms['peter'].pk}/messages/", {"body": "hi"})
    assert form.status_code == 415
    assert error_of(form)["code"] == "unsupported_media_type"


def test_another_operators_room_is_not_allowed_as_on_the_socket(rooms, jane):
    for room in (rooms["peter"], rooms["pool"]):
        response = post_message(jane.user, room.pk, body="Let me take over")
        assert response.status_code == 403
        assert error_of(response)["code"] == "not_allowed"
    assert not Message.objects.exists()


def test_operator_of_another_site_gets_404_for_the_room(rooms, olga):
    response = post_message(olga.user, rooms["peter"].pk, body="hi")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert not Message.objects.filter(body="hi").exists()


def test_owner_and_superuser_who_are_not_operators_may_not_send(rooms, owner):
    for user in (owner, make_user("root", superuser=True)):
        response = post_message(user, rooms["peter"].pk, body="hi")
        assert response.status_code == 403
        assert error_of(response)["code"] == "not_allowed"


def test_message_to_an_expired_room_is_409_expired(rooms, peter):
    response = post_message(peter.user, rooms["old"].pk, body="Still there?")
    assert response.status_code == 409
    assert error_of(response)["code"] == "expired"
    assert not Message.objects.filter(body="Still there?").exists()


def test_anonymous_may_not_send(rooms):
    response = client_for(None).post(f"/api/rooms/{rooms['peter'].pk}/messages/", {"body": "hi"}, format="json")
    assert response.status_code == 401
    assert not Message.objects.exists()


# Closing a room ----------------------------------------------------------------------------


def test_closing_another_operators_or_a_pooled_room_is_not_allowed(rooms, jane):
    for room in (rooms["peter"], rooms["pool"]):
        response = client_for(jane.user).post(f"/api/rooms/{room.pk}/close/")
        assert response.status_code == 403
        assert error_of(response)["code"] == "not_allowed"
    assert Room.objects.get(pk=rooms["peter"].pk).status == Room.Status.ACTIVE


def test_closing_an_expired_room_is_409_expired(rooms, peter):
    response = client_for(peter.user).post(f"/api/rooms/{rooms['old'].pk}/close/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "expired"


def test_closing_a_room_of_another_site_is_404(rooms, olga, peter):
    response = client_for(peter.user).post(f"/api/rooms/{rooms['other'].pk}/close/")
    assert response.status_code == 404


def test_closing_twice_keeps_the_first_deadline(rooms, peter):
    client = client_for(peter.user)
    first = client.post(f"/api/rooms/{rooms['peter'].pk}/close/").json()
    again = client.post(f"/api/rooms/{rooms['peter'].pk}/close/")
    assert again.status_code == 200
    assert again.json()["expires_at"] == first["expires_at"]


# Through the sockets ------------------------------------------------------------------------


async def _active_room(visitor_socket, operator) -> int:
    """The visitor asks to chat and the operator takes the request, through the services."""
    visitor_id = visitor_socket.welcome["visitor"]
    message = await database_sync_to_async(services.message_send_by_visitor)(visitor_id=visitor_id, body="Hello?")
    room = message.room
    await database_sync_to_async(services.room_accept)(room_id=room.pk, operator=operator)
    await visitor_socket.expect(of_type("room", room__id=room.pk, room__status="active"))
    return room.pk


def _post(user, path: str, body: dict | None = None):
    return client_for(user).post(path, body or {}, format="json")


@pytest.mark.django_db(transaction=True)
async def test_message_sent_through_the_api_reaches_the_visitors_page_and_no_one_else(sockets, peter, jane):
    visitor = await sockets.visitor()
    bystander = await sockets.visitor()
    jane_panel = await sockets.operator(jane)
    room_id = await _active_room(visitor, peter)
    response = await database_sync_to_async(_post)(
        peter.user, f"/api/rooms/{room_id}/messages/", {"body": "Those come in blue too.", "client_id": "api-1"}
    )
    assert response.status_code == 201
    event = await visitor.expect(of_type("message", message__body="Those come in blue too."))
    assert event["message"] == response.json()
    assert event["message"]["sender"] == "operator"
    await bystander.expect_none(of_type("message"), within=0.5)
    await jane_panel.expect_none(of_type("message", message__body="Those come in blue too."), within=0.1)


@pytest.mark.django_db(transaction=True)
async def test_closing_through_the_api_starts_the_expiry_the_visitor_sees(sockets, peter):
    visitor = await sockets.visitor()
    room_id = await _active_room(visitor, peter)
    before = timezone.now()
    response = await database_sync_to_async(_post)(peter.user, f"/api/rooms/{room_id}/close/")
    assert response.status_code == 200
    room = response.json()
    assert room["status"] == "closing"
    expires_at = parse_datetime(room["expires_at"])
    expiry = timedelta(seconds=settings.WP_ROOM_EXPIRY)
    assert before + expiry <= expires_at <= timezone.now() + expiry
    await visitor.expect(of_type("room", room__id=room_id, room__status="closing"))

    # The sweep leaves it until its deadline, and expires it after (R9, R13).
    await database_sync_to_async(sweep)(now=expires_at - timedelta(seconds=0.5))
    assert (await Room.objects.aget(pk=room_id)).status == Room.Status.CLOSING
    await database_sync_to_async(sweep)(now=expires_at + timedelta(seconds=0.1))
    await visitor.expect(of_type("room", room__id=room_id, room__status="expired", room__reason="operator_closed"))


def test_past_conversations_are_found_by_what_was_said_or_who_said_it(rooms, peter):
    """The panel's History search (issue 23): `q` in any message of the room, a note too, or in
    the visitor's name or email; never another site's rooms; too short a text is refused."""
    make_message(rooms["old"], "Do you ship the BLUE boots to Norway?")
    make_message(rooms["jane"], "Only a note here", sender=Message.Sender.NOTE)
    make_message(rooms["other"], "Blue boots please")
    linda = rooms["pool"].visitor
    linda.given_name, linda.email = "Linda Berg", "linda@example.com"
    linda.save()
    client = client_for(peter.user)

    assert ids(client.get("/api/rooms/?q=blue boots")) == [rooms["old"].pk]
    assert ids(client.get("/api/rooms/?q=a note")) == [rooms["jane"].pk]
    assert ids(client.get("/api/rooms/?q=linda@EXAMPLE")) == [rooms["pool"].pk]
    assert ids(client.get("/api/rooms/?q=nothing like it")) == []
    short = client.get("/api/rooms/?q=b")
    assert (short.status_code, error_of(short)["code"]) == (400, "invalid")
