"""Webhooks (issue 25) on the real components: the changes are made by the services (or the
sockets), the deliveries sent by the real Celery worker to a real HTTP server on 127.0.0.1,
and what the receiver gets is what an owner's server would."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chat import services, visiting
from chat.models import Room
from integrations import services as webhooks
from integrations.models import EVENTS, Delivery, Webhook
from integrations.tests.receiver import Receiver, verified
from tests.api import client_for, make_user
from tests.owners import admin_client, make_staff, make_visitor
from tests.sockets import ask_to_chat, of_type

live = pytest.mark.django_db(transaction=True)
inside = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def hook(site, receiver, path="/hook", events=EVENTS) -> Webhook:
    return webhooks.webhook_create(site=site, url=receiver.url(path), events=events)


def statuses(webhook: Webhook) -> list[tuple[str, str]]:
    return list(Delivery.objects.filter(webhook=webhook).order_by("id").values_list("event", "status"))


def wait_settled(webhook: Webhook, count: int, timeout: float = 15.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while True:
        rows = list(Delivery.objects.filter(webhook=webhook).exclude(status=Delivery.Status.PENDING).order_by("id"))
        if len(rows) >= count:
            return rows
        assert time.monotonic() < deadline, f"not settled: {statuses(webhook)}"
        time.sleep(0.05)


# Every event, signed ------------------------------------------------------------------


@live
def test_each_event_of_a_chat_reaches_the_owners_receiver_signed_and_in_order(sweeper, site, peter, receiver):
    webhook = hook(site, receiver)
    visitor = make_visitor(site)

    services.room_open(visitor_id=visitor.pk)  # the window alone is no request (R4)
    room = services.message_send_by_visitor(visitor_id=visitor.pk, body="Do you ship to Oslo?", client_id="v-1").room
    services.room_accept(room_id=room.pk, operator=peter)
    services.note_add(room_id=room.pk, operator=peter, body="VIP customer, be nice")
    services.message_send_by_operator(room_id=room.pk, operator=peter, body="We do, in 3 days")
    visiting.visitor_details_save(visitor_id=visitor.pk, name="Linda", email="linda@example.com")
    services.rooms_end(room_ids=[room.pk], now=timezone.now())
    services.room_rate(visitor_id=visitor.pk, room_id=room.pk, rating=5, comment="Quick!")

    got = receiver.wait("/hook", 7)
    bodies = [verified(request, webhook.secret) for request in got]
    assert [body["event"] for body in bodies] == [
        "room.created",
        "message.created",
        "room.accepted",
        "message.created",
        "visitor.details",
        "room.ended",
        "rating.created",
    ]
    for request, body in zip(got, bodies, strict=True):
        assert request.headers["X-WhitePanel-Event"] == body["event"]
        assert request.headers["X-WhitePanel-Delivery"] == str(body["id"])
        assert body["site"] == "shop"
    created, asked, accepted, answered, details, ended, rated = (body["data"] for body in bodies)
    assert created["room"]["id"] == room.pk
    assert created["room"]["status"] == "pending"
    assert asked["message"]["body"] == "Do you ship to Oslo?"
    assert asked["message"]["sender"] == "visitor"
    assert accepted["room"]["operator"] == {"id": peter.pk, "name": "Peter"}
    # The note is never sent, nor the transcript's system lines: only what people wrote.
    assert answered["message"]["body"] == "We do, in 3 days"
    assert answered["message"]["sender"] == "operator"
    assert details["visitor"]["name"] == "Linda"
    assert details["visitor"]["email"] == "linda@example.com"
    assert ended["room"]["status"] == "expired"
    assert rated["room"]["rating"] == 5
    assert rated["room"]["rating_comment"] == "Quick!"
    time.sleep(0.5)
    assert len(receiver.at("/hook")) == 7
    assert {status for _, status in statuses(webhook)} == {"sent"}


@live
def test_a_webhook_hears_only_the_events_it_subscribed_to(sweeper, site, peter, receiver):
    hook(site, receiver, "/ended", events=["room.ended"])
    visitor = make_visitor(site)
    room = services.message_send_by_visitor(visitor_id=visitor.pk, body="Hello?", client_id="v-1").room
    services.rooms_end(room_ids=[room.pk], now=timezone.now())

    (request,) = receiver.wait("/ended", 1)
    assert request.json["event"] == "room.ended"
    time.sleep(0.5)
    assert len(receiver.at("/ended")) == 1


# Order, retries, giving up --------------------------------------------------------------


@live
def test_a_rooms_later_events_wait_until_its_first_one_is_delivered(sweeper, site, receiver):
    # The receiver fails the first attempt: the message (made after) is not sent before it.
    receiver.answer = lambda path, count: 500 if count == 1 else 200
    webhook = hook(site, receiver, "/order")
    visitor = make_visitor(site)
    services.message_send_by_visitor(visitor_id=visitor.pk, body="first question", client_id="v-1")
    services.message_send_by_visitor(visitor_id=visitor.pk, body="second question", client_id="v-2")

    got = receiver.wait("/order", 4)
    assert [(request.event, request.answered) for request in got] == [
        ("room.created", 500),
        ("room.created", 200),
        ("message.created", 200),
        ("message.created", 200),
    ]
    assert [request.json["data"]["message"]["body"] for request in got[2:]] == ["first question", "second question"]
    # The same delivery was tried again (same id), after the backoff's pause.
    assert got[0].headers["X-WhitePanel-Delivery"] == got[1].headers["X-WhitePanel-Delivery"]
    assert got[1].at - got[0].at >= settings.WP_WEBHOOK_BACKOFF
    first = Delivery.objects.filter(webhook=webhook).order_by("id").first()
    assert (first.status, first.attempts, first.response_code) == ("sent", 2, 200)


@live
def test_failed_deliveries_are_retried_with_growing_pauses_until_they_succeed(sweeper, site, receiver):
    receiver.answer = lambda path, count: 503 if count <= 2 else 200
    webhook = hook(site, receiver, "/flaky", events=["room.created"])
    services.message_send_by_visitor(visitor_id=make_visitor(site).pk, body="Hello?")

    got = receiver.wait("/flaky", 3)
    assert [request.answered for request in got] == [503, 503, 200]
    assert len({request.headers["X-WhitePanel-Delivery"] for request in got}) == 1
    first_pause, second_pause = got[1].at - got[0].at, got[2].at - got[1].at
    assert first_pause >= settings.WP_WEBHOOK_BACKOFF
    assert second_pause >= 2 * settings.WP_WEBHOOK_BACKOFF
    (delivery,) = wait_settled(webhook, 1)
    assert (delivery.status, delivery.attempts) == ("sent", 3)


@live
def test_a_receiver_that_keeps_failing_is_given_up_and_the_log_says_why(sweeper, site, receiver):
    owner = make_staff("owner", site)
    receiver.answer = lambda path, count: 500
    webhook = hook(site, receiver, "/down", events=["room.created"])
    services.message_send_by_visitor(visitor_id=make_visitor(site).pk, body="Hello?")

    (delivery,) = wait_settled(webhook, 1)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 3, 500)
    assert len(receiver.at("/down")) == settings.WP_WEBHOOK_MAX_ATTEMPTS
    log = client_for(owner).get(f"/api/webhooks/{webhook.pk}/deliveries/").json()
    assert log["results"][0]["status"] == "failed"
    assert log["results"][0]["last_error"] == "HTTP 500"
    time.sleep(2 * settings.WP_WEBHOOK_BACKOFF * 2)
    assert len(receiver.at("/down")) == settings.WP_WEBHOOK_MAX_ATTEMPTS


# A slow receiver never slows the chat ---------------------------------------------------------


@live
async def test_a_receiver_slower_than_the_timeout_does_not_delay_the_chat(sweeper, sockets, site, peter, receiver):
    from asgiref.sync import sync_to_async

    receiver.answer = lambda path, count: (200, 3 * settings.WP_WEBHOOK_TIMEOUT, {})
    webhook = await sync_to_async(hook)(site, receiver, "/slow")
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    pending = (await ask_to_chat(linda))["room"]
    await panel.ask(of_type("room", room__id=pending["id"], room__status="active"), type="accept", room=pending["id"])

    for n in range(3):
        started = time.monotonic()
        await panel.ask(
            of_type("ack", client_id=f"o-{n}"), type="message", room=pending["id"], body=f"hi {n}", client_id=f"o-{n}"
        )
        await linda.expect(of_type("message", message__body=f"hi {n}"), timeout=2)
        assert time.monotonic() - started < 1.0
    # Meanwhile the receiver is being tried, and each attempt is cut at the timeout.
    first = await sync_to_async(lambda: Delivery.objects.filter(webhook=webhook).order_by("id").first())()
    deadline = time.monotonic() + 10
    while first.attempts == 0:
        assert time.monotonic() < deadline
        await sync_to_async(first.refresh_from_db)()
    assert "timed out" in first.error


# Safety ---------------------------------------------------------------------------------------


@inside
def test_private_addresses_are_refused_unless_allowed(site, receiver, settings):
    owner = make_user("owner", staff=True, owns=(site,))
    settings.WP_WEBHOOK_ALLOW_PRIVATE = False
    for url in (receiver.url(), "http://localhost/hook", "http://10.0.0.7/", "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/", "ftp://example.com/"):  # fmt: skip
        answer = client_for(owner).post(
            f"/api/sites/{site.pk}/webhooks/", {"url": url, "events": ["room.created"]}, format="json"
        )
        assert answer.status_code == 400, url
        assert "cannot receive webhooks" in answer.json()["error"]["detail"]
    assert not Webhook.objects.exists()

    # One saved while allowed is refused when it is sent: nothing reaches the receiver.
    settings.WP_WEBHOOK_ALLOW_PRIVATE = True
    webhook = hook(site, receiver, "/private")
    delivery = webhooks.delivery_ping(webhook=webhook)
    settings.WP_WEBHOOK_ALLOW_PRIVATE = False
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.error.startswith("refused: 127.0.0.1 has a private or reserved address")
    assert receiver.at("/private") == []


@inside
def test_a_redirect_is_not_followed(site, receiver):
    receiver.answer = lambda path, count: (302, 0, {"Location": receiver.url("/elsewhere")})
    delivery = webhooks.delivery_ping(webhook=hook(site, receiver, "/moved"))

    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert (delivery.response_code, delivery.error) == (302, "HTTP 302 (redirects are not followed)")
    assert len(receiver.at("/moved")) == 1
    assert receiver.at("/elsewhere") == []


# Admin and API ----------------------------------------------------------------------------------


@live
def test_an_owner_sends_a_test_from_admin_and_reads_it_in_the_log(sweeper, site, receiver):
    owner = make_staff("owner", site)
    webhook = hook(site, receiver, "/ping")
    client = admin_client(owner)

    answer = client.post(
        reverse("admin:integrations_webhook_changelist"),
        {"action": "send_test", "_selected_action": [webhook.pk]},
        follow=True,
    )
    assert "A ping is on its way" in answer.content.decode()
    (request,) = receiver.wait("/ping", 1)
    assert verified(request, webhook.secret)["event"] == "ping"
    wait_settled(webhook, 1)
    log = client.get(reverse("admin:integrations_delivery_changelist") + f"?webhook__id__exact={webhook.pk}")
    assert log.status_code == 200
    assert "ping" in log.content.decode()
    assert "sent" in log.content.decode()


@inside
def test_owners_manage_their_sites_webhooks_and_nobody_else_sees_them(site, other_site, peter, receiver):
    owner = make_user("owner", staff=True, owns=(site,))
    stranger = make_user("stranger", staff=True, owns=(other_site,))
    api = client_for(owner)

    made = api.post(f"/api/sites/{site.pk}/webhooks/", {"url": receiver.url(), "events": ["room.ended"]}, format="json")
    assert made.status_code == 201
    webhook = made.json()
    assert webhook["active"]
    assert len(webhook["secret"]) == 64
    assert webhook["events"] == ["room.ended"]
    assert api.get(f"/api/sites/{site.pk}/webhooks/").json() == [webhook]
    changed = api.patch(
        f"/api/webhooks/{webhook['id']}/", {"events": ["room.created", "room.ended"], "new_secret": True}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["events"] == ["room.created", "room.ended"]
    assert changed.json()["secret"] != webhook["secret"]
    assert api.patch(f"/api/webhooks/{webhook['id']}/", {"events": ["room.exploded"]}, format="json").status_code == 400
    assert api.post(f"/api/webhooks/{webhook['id']}/test/").status_code == 202
    assert api.get(f"/api/webhooks/{webhook['id']}/deliveries/").json()["results"][0]["event"] == "ping"

    # Another site's owner, and an operator of the site who does not own it: no such thing.
    for someone in (stranger, peter.user):
        other = client_for(someone)
        assert other.get(f"/api/sites/{site.pk}/webhooks/").status_code == 404
        assert (
            other.post(
                f"/api/sites/{site.pk}/webhooks/", {"url": receiver.url(), "events": []}, format="json"
            ).status_code
            == 404
        )
        for path in ("", "deliveries/"):
            assert other.get(f"/api/webhooks/{webhook['id']}/{path}").status_code == 404
        assert other.delete(f"/api/webhooks/{webhook['id']}/").status_code == 404
    assert Webhook.objects.filter(pk=webhook["id"]).exists()

    assert api.delete(f"/api/webhooks/{webhook['id']}/").status_code == 204
    assert not Webhook.objects.exists()
    assert not Delivery.objects.exists()


# Cost ---------------------------------------------------------------------------------------------


@inside
def test_a_site_without_webhooks_gets_no_delivery_and_no_query_for_them(site, other_site, receiver, settings):
    settings.WP_WEBHOOK_CACHE_SECONDS = 60
    hook(other_site, receiver)  # another site's webhooks change nothing here
    visitor = make_visitor(site)
    services.message_send_by_visitor(visitor_id=visitor.pk, body="Hi", client_id="v-0")
    webhooks.sites_listening()  # read once per process and kept

    with CaptureQueriesContext(connection) as queries:
        services.message_send_by_visitor(visitor_id=visitor.pk, body="Anyone there?", client_id="v-1")
    assert not [query for query in queries if "integrations_" in query["sql"]]
    assert not Delivery.objects.filter(webhook__site=site).exists()
    assert Room.objects.filter(visitor=visitor).exists()

    # A webhook made in this process is heard of at once.
    own = hook(site, receiver, events=["message.created"])
    services.message_send_by_visitor(visitor_id=visitor.pk, body="Hello?", client_id="v-2")
    assert statuses(own) == [("message.created", "pending")]
    assert Delivery.objects.filter(created_at__gt=timezone.now() - timedelta(minutes=1)).count() == 1


@inside
def test_an_owner_adds_a_webhook_in_admin_and_a_private_address_is_a_form_error(site, receiver, settings):
    owner = make_staff("owner", site)
    client = admin_client(owner)
    add = reverse("admin:integrations_webhook_add")
    form = {"site": site.pk, "url": receiver.url("/admin"), "events": ["room.created", "room.ended"], "active": "on"}

    assert client.post(add, form).status_code == 302
    webhook = Webhook.objects.get()
    assert (webhook.site, webhook.events, len(webhook.secret)) == (site, ["room.created", "room.ended"], 64)
    page = client.get(reverse("admin:integrations_webhook_change", args=[webhook.pk])).content.decode()
    assert webhook.secret in page

    settings.WP_WEBHOOK_ALLOW_PRIVATE = False
    answer = client.post(add, {**form, "url": "http://192.168.1.20/hook"})
    assert answer.status_code == 200
    assert "192.168.1.20 has a private or reserved address" in answer.content.decode()
    assert Webhook.objects.count() == 1
