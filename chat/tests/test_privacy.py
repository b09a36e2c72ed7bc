"""A visitor's data on request (issue 25): erased, or exported as one JSON document, by the owners
of their site, in admin and through the API."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone

from chat import privacy
from chat.expiry import sweep
from chat.models import Attachment, Erasure, Message, Room
from chat.tests.test_files import body_of, stored_files, upload
from chat.tests.test_retention import with_file
from chat.tests.test_rooms import chat_with
from infra.redis_clients import RedisClients
from integrations.models import Delivery, Webhook
from tests.api import client_for, error_of, make_message, make_room, make_user, make_visitor
from tests.owners import admin_client
from tests.sockets import of_type, wait_closed
from visitors.models import PageView, Visitor
from visitors.presence import visitor_presence
from visitors.visits import visits
from visitors.windows import chat_windows

pytestmark = pytest.mark.django_db


def redis_traces(visitor_id: int) -> list[str]:
    """What Redis holds about a visitor: keys named for them, and their entries in the shared sets."""
    client = RedisClients().redis()
    prefix = settings.WP_REDIS_PREFIX
    keys = [
        k.decode() for k in client.scan_iter(match=f"{prefix}:*", count=1000) if k.decode().endswith(f":{visitor_id}")
    ]
    leases = [m for m, _ in client.zscan_iter(f"{prefix}:visitor:leases", match=f"{visitor_id}|*")]
    absent = [] if client.zscore(f"{prefix}:visitor:absent", visitor_id) is None else ["absent"]
    return keys + [m.decode() for m in leases] + absent


@pytest.fixture
def owner(site):
    return make_user("owner", staff=True, owns=(site,))


@pytest.fixture
def linda(site, peter, media_root):
    """A visitor with everything a visitor leaves: a live chat with a note and a file, an earlier
    rated chat with a transcript request, page views, their visit's state in Redis."""
    linda = make_visitor(site)
    Visitor.objects.filter(pk=linda.pk).update(given_name="Linda", email="linda@example.com")
    earlier = make_room(linda, operator=peter, status=Room.Status.EXPIRED)
    make_message(earlier, "Do you ship to Bern?")
    make_message(earlier, "We do.", sender=Message.Sender.OPERATOR)
    Room.objects.filter(pk=earlier.pk).update(
        rating=5,
        rating_comment="Quick",
        rated_at=timezone.now(),
        transcript_email="linda@example.com",
        transcript_asked_at=timezone.now(),
    )
    live = make_room(linda, operator=peter)
    make_message(live, "My order 1234 never came")
    make_message(live, "Angry customer, offer a voucher", sender=Message.Sender.NOTE)
    with_file(live)
    PageView.objects.bulk_create(
        PageView(visitor=linda, url=f"http://shop.test/{n}", title=f"Page {n}", at=timezone.now()) for n in range(3)
    )
    linda.refresh_from_db()
    visits.fill(linda, live_room_id=live.pk, last_room_id=live.pk)
    async_to_sync(visitor_presence.renew)([(str(linda.pk), "specific.channel")], now=timezone.now().timestamp())
    async_to_sync(chat_windows.opened)(linda.pk, "specific.channel")
    return linda


# Erase ---------------------------------------------------------------------------------------


def test_an_owner_erases_a_visitor_and_nothing_of_them_is_left(
    site, owner, peter, linda, media_root, django_capture_on_commit_callbacks
):
    tom = make_visitor(site)
    make_message(make_room(tom, operator=peter, status=Room.Status.EXPIRED), "Tom's question")
    assert redis_traces(linda.pk)
    assert len(stored_files(media_root)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).delete(f"/api/visitors/{linda.pk}/")

    assert response.status_code == 204, response.content
    assert not Visitor.objects.filter(pk=linda.pk).exists()
    assert not Room.objects.filter(visitor_id=linda.pk).exists()
    assert not Message.objects.filter(room__visitor_id=linda.pk).exists()
    assert not Message.objects.filter(body__contains="1234").exists()
    assert not PageView.objects.filter(visitor_id=linda.pk).exists()
    assert Attachment.objects.count() == 0
    assert stored_files(media_root) == []
    assert redis_traces(linda.pk) == []
    # Who erased whom and when, and nothing about the visitor.
    erasure = Erasure.objects.get()
    assert (erasure.site, erasure.visitor_id, erasure.by, erasure.by_name) == (site, linda.pk, owner, "owner")
    assert "linda" not in json.dumps(list(Erasure.objects.values()), default=str).lower()
    # Others are untouched.
    assert Message.objects.filter(room__visitor=tom, body="Tom's question").exists()
    assert client_for(owner).delete(f"/api/visitors/{linda.pk}/").status_code == 404


def test_the_webhooks_log_of_an_erased_visitor_goes_with_them(site, owner, peter, linda):
    hook = Webhook.objects.create(site=site, url="https://hooks.example/", events=["room.ended", "visitor.details"])
    tom_room = make_room(make_visitor(site), operator=peter, status=Room.Status.EXPIRED)
    [lindas_room, _] = Room.objects.filter(visitor=linda).values_list("pk", flat=True)
    for room_id, payload in [
        (lindas_room, {"room": {"visitor": linda.pk}}),
        (None, {"visitor": {"id": linda.pk, "email": "linda@example.com"}}),
        (tom_room.pk, {"room": {"visitor": tom_room.visitor_id}}),
    ]:
        Delivery.objects.create(
            webhook=hook, event="room.ended" if room_id else "visitor.details", room_id=room_id, payload=payload
        )

    privacy.visitor_erase(user=owner, visitor_id=linda.pk)

    assert list(Delivery.objects.values_list("room_id", flat=True)) == [tom_room.pk]


def test_only_the_owners_of_the_visitors_site_erase(site, other_site, owner, peter, linda):
    other_owner = make_user("other", staff=True, owns=(other_site,))
    response = client_for(peter.user).delete(f"/api/visitors/{linda.pk}/")
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_allowed"
    assert client_for(other_owner).delete(f"/api/visitors/{linda.pk}/").status_code == 404
    assert client_for(owner).delete("/api/visitors/99999999999999999999/").status_code == 404
    assert Visitor.objects.filter(pk=linda.pk).exists()
    assert not Erasure.objects.exists()
    root = make_user("root", superuser=True)
    assert client_for(root).delete(f"/api/visitors/{linda.pk}/").status_code == 204


@pytest.mark.django_db(transaction=True)
async def test_erasing_a_visitor_in_a_chat_ends_it_for_the_operator_and_closes_their_pages(sockets, site, peter, owner):
    visitor = await sockets.visitor(hello=False)
    visitor.welcome = await visitor.ask(
        "welcome", type="hello", token=None, page={"url": "http://shop.test/", "title": "Shop"}
    )
    visitor_id = visitor.welcome["visitor"]
    panel = await sockets.operator(peter)
    room = await chat_with(visitor, panel, peter)

    await database_sync_to_async(privacy.visitor_erase)(user=owner, visitor_id=visitor_id)

    await panel.expect(of_type("room", room__id=room["id"], room__status="expired", room__reason="ended_by_admin"))
    await panel.expect(of_type("visitor_gone", visitor=visitor_id))
    await wait_closed(visitor)
    # Nothing went back to the pool for them (R14): they are gone.
    assert not await database_sync_to_async(Room.objects.exists)()
    # The closing socket's leave deadline is forgotten by the sweep, as any other.
    await database_sync_to_async(sweep)(now=timezone.now() + timedelta(seconds=settings.WP_VISITOR_TIMEOUT + 60))
    assert redis_traces(visitor_id) == []
    # Their token names nobody now: a page of theirs still open starts anew.
    again = await sockets.visitor(hello=False)
    stranger = await again.ask("welcome", type="hello", token=visitor.welcome["token"])
    assert stranger["visitor"] != visitor_id


# Export --------------------------------------------------------------------------------------


def test_an_owner_exports_everything_stored_about_a_visitor(site, owner, peter, linda):
    response = client_for(owner).get(f"/api/visitors/{linda.pk}/export/")
    assert response.status_code == 200, response.content
    document = response.json()
    assert document["site"] == {"id": site.pk, "key": site.key, "name": site.name}
    assert (document["visitor"]["id"], document["visitor"]["name"], document["visitor"]["email"]) == (
        linda.pk,
        "Linda",
        "linda@example.com",
    )
    assert [view["url"] for view in document["page_views"]] == [f"http://shop.test/{n}" for n in range(3)]
    earlier, live = document["conversations"]
    assert [m["body"] for m in earlier["messages"]] == ["Do you ship to Bern?", "We do."]
    assert (earlier["rating"], earlier["rating_comment"]) == (5, "Quick")
    assert earlier["transcript"]["email"] == "linda@example.com"
    assert earlier["ended_at"] is not None
    assert live["ended_at"] is None
    # The operators' note about her is hers to see, marked as theirs.
    [note] = [m for m in live["messages"] if m["internal"]]
    assert (note["sender"], note["body"]) == ("note", "Angry customer, offer a voucher")
    [file] = [m["file"] for m in live["messages"] if m["file"]]
    assert file["name"] == "photo.txt"
    assert body_of(Client().get(file["url"])) == b"a photo"


def test_only_the_owners_of_the_visitors_site_export(site, other_site, peter, linda):
    other_owner = make_user("other", staff=True, owns=(other_site,))
    assert client_for(peter.user).get(f"/api/visitors/{linda.pk}/export/").status_code == 403
    assert client_for(other_owner).get(f"/api/visitors/{linda.pk}/export/").status_code == 404
    assert client_for(None).get(f"/api/visitors/{linda.pk}/export/").status_code in (401, 403)


# Admin ---------------------------------------------------------------------------------------


def test_admin_erases_a_visitor_after_a_confirmation_page(
    site, owner, linda, media_root, django_capture_on_commit_callbacks
):
    client = admin_client(owner)
    page = client.get(f"/admin/visitors/visitor/{linda.pk}/change/").content.decode()
    assert f"/admin/visitors/visitor/{linda.pk}/erase/" in page
    assert f"/admin/visitors/visitor/{linda.pk}/export/" in page

    confirmation = client.get(f"/admin/visitors/visitor/{linda.pk}/erase/")
    assert confirmation.status_code == 200
    assert "deletes everything stored about them" in confirmation.content.decode()
    assert Visitor.objects.filter(pk=linda.pk).exists()  # asking is not erasing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/visitors/visitor/{linda.pk}/erase/", {"post": "yes"})
    assert response.status_code == 302
    assert not Visitor.objects.filter(pk=linda.pk).exists()
    assert stored_files(media_root) == []
    assert Erasure.objects.get().by == owner
    assert str(linda.pk) in client.get("/admin/chat/erasure/").content.decode()


def test_admin_export_downloads_the_visitors_document_and_other_owners_get_nothing(site, other_site, owner, linda):
    response = admin_client(owner).get(f"/admin/visitors/visitor/{linda.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="visitor-{linda.pk}.json"'
    document = json.loads(response.content)
    assert document["visitor"]["email"] == "linda@example.com"
    assert len(document["conversations"]) == 2

    stranger = admin_client(make_user("other", staff=True, owns=(other_site,)))
    assert stranger.get(f"/admin/visitors/visitor/{linda.pk}/export/").status_code == 404
    assert stranger.post(f"/admin/visitors/visitor/{linda.pk}/erase/", {"post": "yes"}).status_code == 404
    assert Visitor.objects.filter(pk=linda.pk).exists()


def test_an_uploaded_files_name_is_in_the_export(site, owner, peter, media_root):
    from chat.tests.test_files import operator_upload

    room = make_room(make_visitor(site), operator=peter)
    operator_upload(peter, room.pk, upload("sizes.pdf", b"%PDF"))
    document = client_for(owner).get(f"/api/visitors/{room.visitor_id}/export/").json()
    [file] = [m["file"] for m in document["conversations"][0]["messages"] if m["file"]]
    assert (file["name"], file["type"]) == ("sizes.pdf", "application/pdf")
