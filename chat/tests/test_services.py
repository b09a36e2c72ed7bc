"""Messages as the services store them: the usual case in one locking read and one insert,
and resends (the same client_id after a lost ack) stored once whatever happened since."""

import pytest

from chat import events, services
from chat.models import Message, Room
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
