"""Messages as the services store them: the usual case in one locking read and one insert,
and resends (the same client_id after a lost ack) stored once whatever happened since."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import events, services
from chat.models import Message, Room
from infra.errors import NotAllowed, NotFound
from tests.api import make_room, make_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "_publish", lambda sends: sent.extend(sends))
    return sent


def messages_of(room: Room) -> list[tuple[str, str]]:
    return list(room.messages.order_by("pk").values_list("sender", "body"))


def test_visitor_message_goes_into_their_live_room_and_to_its_operator(site, peter, published):
    linda = make_visitor(site)
    room = make_room(linda, operator=peter)

    message = services.message_send_by_visitor(visitor_id=linda.pk, body="Do you ship to Oslo?", client_id="l-1")

    assert messages_of(room) == [("visitor", "Do you ship to Oslo?")]
    assert message.name == f"Visitor {linda.pk}"
    assert sorted(group for group, _ in published) == [f"operator-{peter.pk}", f"visitor-{linda.pk}"]


def test_visitor_resend_after_its_room_expired_is_stored_once_and_relayed_with_its_room(site, peter, published):
    linda = make_visitor(site)
    old = make_room(linda, operator=peter)
    first = services.message_send_by_visitor(visitor_id=linda.pk, body="Hello?", client_id="l-1")
    Room.objects.filter(pk=old.pk).update(status=Room.Status.EXPIRED, reason=Room.Reason.OPERATOR_CLOSED)
    new = make_room(linda)  # a new request since
    published.clear()

    again = services.message_send_by_visitor(visitor_id=linda.pk, body="Hello?", client_id="l-1")

    assert again.pk == first.pk
    assert Message.objects.filter(client_id="l-1").count() == 1
    assert messages_of(new) == []
    assert {event["message"]["room"] for _, event in published} == {old.pk}


def test_visitor_message_without_a_live_room_starts_a_pool_request(site, published):
    linda = make_visitor(site)

    services.message_send_by_visitor(visitor_id=linda.pk, body="Anyone?", client_id="l-1")

    room = Room.objects.get(visitor=linda)
    assert room.status == Room.Status.PENDING
    assert messages_of(room) == [("visitor", "Anyone?")]
    assert f"site-{site.pk}-operators" in [group for group, _ in published]


def test_operator_resend_is_stored_once(site, peter, published):
    room = make_room(make_visitor(site), operator=peter)
    first = services.message_send_by_operator(room_id=room.pk, operator=peter, body="Yes, we do.", client_id="p-1")
    again = services.message_send_by_operator(room_id=room.pk, operator=peter, body="Yes, we do.", client_id="p-1")
    assert again.pk == first.pk
    assert messages_of(room) == [("operator", "Yes, we do.")]
    assert len(published) == 4  # relayed twice: the first ack may have been lost with its events


def _statements(queries: CaptureQueriesContext) -> list[str]:
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(control)]


@pytest.mark.parametrize("client_id", ["", "l-1"])
def test_visitor_message_is_one_locking_read_and_one_insert_each_time(site, peter, published, client_id):
    """The statements are compiled once (infra/prepared.py) and run with each message's
    values: the second message is the same two statements, and stores its own text."""
    linda, mary = make_visitor(site), make_visitor(site)
    lindas, marys = make_room(linda, operator=peter), make_room(mary, operator=peter)
    ran = []
    for visitor, body in ((linda, "Size 42?"), (mary, "<b>Oslo</b> '; DROP TABLE chat_message; --")):
        with CaptureQueriesContext(connection) as queries:
            message = services.message_send_by_visitor(visitor_id=visitor.pk, body=body, client_id=client_id)
        ran.append(_statements(queries))
        assert message.pk == Message.objects.get(body=body).pk
    assert [len(statements) for statements in ran] == [2, 2]
    assert ran[0][0].startswith("SELECT")
    assert ran[0][1].startswith("INSERT")
    assert messages_of(lindas) == [("visitor", "Size 42?")]
    assert messages_of(marys) == [("visitor", "<b>Oslo</b> '; DROP TABLE chat_message; --")]
    stored = Message.objects.get(room=marys)
    assert (stored.name, stored.client_id, stored.sender) == (f"Visitor {mary.pk}", client_id, "visitor")


def test_operator_message_in_another_operators_room_is_refused_and_stores_nothing(site, peter, jane, published):
    room = make_room(make_visitor(site), operator=peter)
    services.message_send_by_operator(room_id=room.pk, operator=peter, body="Hello", client_id="p-1")
    with pytest.raises(NotAllowed):
        services.message_send_by_operator(room_id=room.pk, operator=jane, body="Mine now", client_id="j-1")
    with pytest.raises(NotFound):
        services.message_send_by_operator(room_id=room.pk + 1000, operator=peter, body="Nobody", client_id="p-2")
    assert messages_of(room) == [("operator", "Hello")]
    assert Message.objects.get(room=room).operator_id == peter.pk
