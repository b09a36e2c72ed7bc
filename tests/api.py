"""Helpers for the REST API tests: users in each role, data on a site, clients with a token."""

import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from chat.models import Message, Room
from conftest import password_hash
from operators.models import Operator
from operators.tokens import api_token_issue
from visitors.models import Site, Visitor, hash_token

# Every endpoint of the API and its methods: the schema and docs/api.md must show each.
ENDPOINTS = {
    "/api/token/": {"post"},
    "/api/sites/": {"get"},
    "/api/sites/{id}/": {"get", "patch"},
    "/api/sites/{id}/identity-secret/": {"get", "post"},
    "/api/sites/{id}/webhooks/": {"get", "post"},
    "/api/webhooks/{id}/": {"get", "patch", "delete"},
    "/api/webhooks/{id}/test/": {"post"},
    "/api/webhooks/{id}/deliveries/": {"get"},
    "/api/sites/{id}/bans/": {"get"},
    "/api/sites/{id}/reports/": {"get"},
    "/api/sites/{id}/reports.csv": {"get"},
    "/api/bans/{id}/lift/": {"post"},
    "/api/operators/": {"get"},
    "/api/operators/{id}/": {"get"},
    "/api/visitors/": {"get"},
    "/api/visitors/{id}/": {"get", "patch", "delete"},
    "/api/visitors/{id}/export/": {"get"},
    "/api/visitors/{id}/ban/": {"post"},
    "/api/rooms/": {"get"},
    "/api/rooms/{id}/": {"get"},
    "/api/rooms/{id}/messages/": {"get", "post"},
    "/api/rooms/{id}/files/": {"post"},
    "/api/rooms/{id}/close/": {"post"},
    "/api/replies/": {"get", "post"},
    "/api/replies/{id}/": {"patch", "delete"},
    "/api/replies/{id}/use/": {"post"},
}


def make_user(username: str, *, staff: bool = False, superuser: bool = False, owns: tuple[Site, ...] = ()):
    """A user who is not an operator: a staff site owner, a superuser, or nobody in particular."""
    user = get_user_model().objects.create(
        username=username, password=password_hash(), is_staff=staff or superuser, is_superuser=superuser
    )
    for site in owns:
        site.owners.add(user)
    return user


def token_of(user) -> str:
    return api_token_issue(user=user)[0]


def client_for(user) -> APIClient:
    """An API client sending the user's token, as a script would."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_of(user)}")
    return client


def make_visitor(site: Site, *, online: bool = True, url: str = "http://shop.test/", since: datetime | None = None):
    now = timezone.now()
    return Visitor.objects.create(
        site=site,
        token_hash=hash_token(secrets.token_urlsafe(16)),
        first_seen=since or now,
        since=since or now,
        last_seen=now,
        online=online,
        url=url,
        title="Shop",
        pages=1,
    )


def make_room(
    visitor: Visitor,
    *,
    operator: Operator | None = None,
    status: str | None = None,
    created_at: datetime | None = None,
) -> Room:
    status = status or (Room.Status.ACTIVE if operator else Room.Status.PENDING)
    now = timezone.now()
    return Room.objects.create(
        site=visitor.site,
        visitor=visitor,
        operator=operator,
        status=status,
        reason=Room.Reason.OPERATOR_CLOSED if status == Room.Status.EXPIRED else "",
        created_at=created_at or now,
        accepted_at=now if operator else None,
        ended_at=now if status == Room.Status.EXPIRED else None,
    )


def make_message(room: Room, body: str, *, sender: str = Message.Sender.VISITOR) -> Message:
    name = room.operator.name if sender == Message.Sender.OPERATOR and room.operator else room.visitor.name
    return Message.objects.create(room=room, sender=sender, name=name, body=body, at=timezone.now())


def make_system_line(room: Room, event: str, body: str) -> Message:
    """A system line about the room's operator (R15), as chat.services writes them."""
    return Message.objects.create(
        room=room,
        sender=Message.Sender.SYSTEM,
        event=event,
        operator=room.operator,
        name=room.operator.name,
        body=body,
        at=timezone.now(),
    )


def error_of(response) -> dict:
    """The error object of an API answer, after checking the shape every error has."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str)
    assert isinstance(body["error"]["detail"], str)
    assert body["error"]["detail"]
    return body["error"]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["results"]]
