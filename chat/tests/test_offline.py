"""R16, the second half: with nobody online, or nobody accepting within WP_POOL_TIMEOUT, the
visitor may leave a name and email (`details`); the request stays in the pool marked offline,
even after they leave; the site's owners are mailed once; an operator's answer reaches the
visitor's page if they are on the site, and their email, once, if not. Over the sockets, on the
real Redis and Celery worker (mails read from its file backend, tests/mails.py)."""

import asyncio
import secrets
from datetime import datetime, timedelta
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core import mail
from django.utils import timezone

from chat import offline, services, shifts
from chat.expiry import sweep
from chat.models import Message, Room
from chat.tasks import owners_notify, replies_mail
from chat.tests.test_concurrency import race
from chat.tests.test_stranded import says
from operators.models import Operator
from tests.mails import body, fails_first, mails_to, wait_for_mails
from tests.owners import make_staff, make_visitor
from tests.sockets import ask_to_chat, of_type
from visitors.models import Visitor

# Sockets and the Celery worker see committed data only. The tests that drive a service or a
# task in this process stay inside their transaction instead: the worker of the tests before,
# still sweeping, must not see their rooms and mail about them first.
live = pytest.mark.django_db(transaction=True)
inside = pytest.mark.django_db

# A sweep after a deadline, and the worker's turn after it.
SWEEP = settings.WP_SWEEP_INTERVAL + 3


def address(name: str) -> str:
    """An address nobody else in the run has: its mails are this test's."""
    return f"{name}-{secrets.token_hex(4)}@example.com"


def owner_of(site, email: str):
    owner = make_staff(f"owner-{secrets.token_hex(3)}", site)
    owner.email = email
    owner.save()
    return owner


def offline_room(visitor_id: int, *, room_id: int | None = None):
    """The visitor's request, once it is marked offline."""

    def match(frame: dict) -> bool:
        room = frame.get("room") if frame.get("type") == "room" else None
        return (
            room is not None
            and room["visitor"] == visitor_id
            and room["offline_at"] is not None
            and (room_id is None or room["id"] == room_id)
        )

    return match


# Details -------------------------------------------------------------------------


@live
async def test_details_are_checked_stored_and_shown_to_operators(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]

    for frame, code in [
        ({"name": "Linda", "email": "not an address"}, "invalid"),
        ({"name": "Linda", "email": "linda@example"}, "invalid"),
        ({"name": "L" * 101, "email": ""}, "too_long"),
        ({"name": "Linda", "email": "l" * 250 + "@example.com"}, "too_long"),
        ({"name": 42, "email": ""}, "invalid"),
        ({"name": "Linda", "email": ["linda@example.com"]}, "invalid"),
    ]:
        error = await linda.ask(of_type("error", **{"for": "details"}), type="details", **frame)
        assert error["code"] == code, frame
    assert await database_sync_to_async(Visitor.objects.filter(pk=linda_id, email="").exists)()

    stored = await linda.ask("details", type="details", name="  Linda ", email="linda@example.com")
    assert stored == {"type": "details", "name": "Linda", "email": "linda@example.com"}
    seen = await panel.expect(of_type("visitor", visitor__id=linda_id, visitor__email="linda@example.com"))
    assert seen["visitor"]["name"] == "Linda"
    # Her next pages (the second one from the visit in Redis) still show it.
    for url in ("http://shop.test/shoes", "http://shop.test/cart"):
        await linda.send(type="page", url=url, title="Shop", referrer="")
        moved = await panel.expect(of_type("visitor", visitor__id=linda_id, visitor__url=url))
        assert (moved["visitor"]["name"], moved["visitor"]["email"]) == ("Linda", "linda@example.com")
    # Her request carries it; either may be emptied again.
    room = (await ask_to_chat(linda, of_type("room", room__visitor=linda_id)))["room"]
    assert room["contact"] == {"name": "Linda", "email": "linda@example.com"}
    assert await linda.ask("details", type="details", name="", email="linda@example.com") == {
        "type": "details",
        "name": "",
        "email": "linda@example.com",
    }
    changed = await panel.expect(of_type("room", room__id=room["id"], room__contact__name=""))
    assert changed["room"]["contact"]["email"] == "linda@example.com"


# Marking ------------------------------------------------------------------------


@live
async def test_a_request_nobody_takes_in_time_becomes_offline_and_the_visitor_hears_of_it(sockets, peter, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    assert linda.welcome["site"]["online"] is True

    await says(linda, "Anyone there?", "v-1")
    pending = (await panel.expect(of_type("room", room__visitor=linda_id, room__status="pending")))["room"]
    assert pending["offline_at"] is None

    wait = settings.WP_POOL_TIMEOUT + SWEEP
    told = (await linda.expect(offline_room(linda_id, room_id=pending["id"]), timeout=wait))["room"]
    assert told["status"] == "pending"
    # Never before its time.
    waited = datetime.fromisoformat(told["offline_at"]) - datetime.fromisoformat(pending["created_at"])
    assert waited >= timedelta(seconds=settings.WP_POOL_TIMEOUT)
    # Still in the pool, marked, for the operators.
    await panel.expect(offline_room(linda_id, room_id=pending["id"]))


@live
async def test_opening_the_window_without_writing_while_nobody_is_online_is_no_offline_request(sockets, site, sweeper):
    linda = await sockets.visitor()
    assert linda.welcome["site"]["online"] is False
    assert (await linda.ask("room", type="open"))["room"] is None
    # No request (the first message would be one), so nothing to mark, keep or mail about.
    await linda.expect_none(of_type("room", room__visitor=linda.welcome["visitor"]), within=2 * SWEEP)
    assert not await database_sync_to_async(Room.objects.filter(visitor_id=linda.welcome["visitor"]).exists)()


@live
async def test_a_question_asked_while_nobody_is_online_is_kept_and_the_owners_are_mailed_once(
    sockets, site, peter, sweeper
):
    owner = address("owner")
    await database_sync_to_async(owner_of)(site, owner)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    linda_address = address("linda")
    assert linda.welcome["site"]["online"] is False

    await linda.ask("details", type="details", name="Linda", email=linda_address)
    await says(linda, "Do you ship to Norway?", "v-1")
    room = (await linda.expect(offline_room(linda_id), timeout=SWEEP))["room"]
    assert room["contact"] == {"name": "Linda", "email": linda_address}

    (notice,) = await wait_for_mails(owner)
    text = body(notice)
    assert "Shop" in notice["Subject"]
    for said in ("Do you ship to Norway?", linda_address, "Linda", f"{settings.WP_PUBLIC_URL}/panel/"):
        assert said in text
    # Later sweeps, and the visitor writing again, mail nobody again.
    await says(linda, "It is for a gift.", "v-2")
    await asyncio.sleep(2 * SWEEP)
    assert len(mails_to(owner)) == 1
    # An operator arriving sees it in the pool, marked, with how to reach her.
    panel = await sockets.operator(peter)
    (pooled,) = [r for r in panel.snapshot["rooms"] if r["id"] == room["id"]]
    assert pooled["offline_at"] is not None
    assert pooled["contact"] == {"name": "Linda", "email": linda_address}


@inside
def test_the_owners_mail_waits_for_the_visitors_address_until_the_pool_timeout(site):
    owner = address("owner")
    owner_of(site, owner)
    linda = make_visitor(site)
    now = timezone.now()
    room = Room.objects.create(site=site, visitor=linda, created_at=now, pooled_at=now, offline_at=now)
    Message.objects.create(room=room, sender="visitor", name="Visitor", body="Hello?", at=now)

    assert offline.sweep_due(now=now).notice_sites == []
    Visitor.objects.filter(pk=linda.pk).update(email="linda@example.com")
    assert offline.sweep_due(now=now).notice_sites == [site.pk]
    Visitor.objects.filter(pk=linda.pk).update(email="")
    later = now + timedelta(seconds=settings.WP_POOL_TIMEOUT)
    assert offline.sweep_due(now=later).notice_sites == [site.pk]


def _offline_question(site, *, email: str = "", at: datetime | None = None) -> Room:
    at = at or timezone.now()
    visitor = make_visitor(site)
    if email:
        Visitor.objects.filter(pk=visitor.pk).update(email=email)
    room = Room.objects.create(site=site, visitor=visitor, created_at=at, pooled_at=at)
    Message.objects.create(room=room, sender="visitor", name="Visitor", body="Is it waterproof?", at=at)
    return room


@live
def test_the_owners_mail_goes_once_however_many_sweeps_race(site, sweeper):
    """Four sweeps at the same instant (and the worker's own beat): each may queue the site's
    mail; the claim lets one send it."""
    owner = address("owner")
    owner_of(site, owner)
    rooms = [_offline_question(site, email=address("visitor")) for _ in range(3)]

    results = race(*[lambda: sweep(now=timezone.now()) for _ in range(4)])
    assert all(kind == "ok" for kind, _ in results), results
    assert sum(result.rooms_offline for _, result in results) == 3
    # Now each of them queues the site's mail.
    results = race(*[lambda: sweep(now=timezone.now()) for _ in range(4)])
    assert all(kind == "ok" for kind, _ in results), results

    asyncio.run(wait_for_mails(owner))
    asyncio.run(asyncio.sleep(2 * SWEEP))
    (notice,) = mails_to(owner)
    assert body(notice).count("Is it waterproof?") == 3
    assert Room.objects.filter(pk__in=[r.pk for r in rooms], owners_notified_at__isnull=False).count() == 3


@live
def test_the_owners_claim_is_taken_by_one_of_many(site):
    owner_of(site, address("owner"))
    # Offline from an hour on, with no address left: not due for the worker's sweeps meanwhile.
    then = timezone.now() + timedelta(hours=1)
    room = _offline_question(site, at=then)
    Room.objects.filter(pk=room.pk).update(offline_at=then)
    now = then + timedelta(seconds=settings.WP_POOL_TIMEOUT)

    claims = race(*[lambda: offline.owners_notice_claim(site_id=site.pk, now=now) for _ in range(4)])
    assert sorted(value for _, value in claims) == [[], [], [], [room.pk]]


@inside
def test_an_owners_mail_that_fails_is_given_back_and_sent_once_when_the_sweeps_try_again(site):
    owner = address("owner")
    owner_of(site, owner)
    now = timezone.now()
    room = _offline_question(site, email="v@example.com", at=now)
    Room.objects.filter(pk=room.pk).update(offline_at=now)
    calls = []
    with mock.patch.object(mail.EmailMessage, "send", fails_first(calls)):
        owners_notify(site.pk)
        # Given back: due again, and the sweeps queue no mail for a pause.
        assert Room.objects.get(pk=room.pk).owners_notified_at is None
        assert offline.sweep_due(now=now).notice_sites == [site.pk]
        assert offline.mail_paused()
        with mock.patch.object(owners_notify, "delay") as queued:
            offline.mails_queue(offline.sweep_due(now=now))
        queued.assert_not_called()
        # The pause over, the next sweep's task sends it; one queued twice sends nothing more.
        owners_notify(site.pk)
        owners_notify(site.pk)
    assert calls == [[owner], [owner]]
    assert [m.to for m in mail.outbox] == [[owner]]
    assert Room.objects.get(pk=room.pk).owners_notified_at is not None


@inside
def test_the_pause_after_a_failed_mail_doubles_while_mail_keeps_failing(site):
    assert [offline.mail_failed() for _ in range(8)] == [10, 20, 40, 80, 160, 320, 600, 600]
    offline.mail_sent()
    assert offline.mail_failed() == 10


@inside
def test_a_request_handed_back_to_the_pool_waits_its_own_pool_timeout(site, peter):
    shifts.operator_connect(operator=Operator.objects.get(pk=peter.pk))
    long_ago = timezone.now() - timedelta(seconds=10 * settings.WP_POOL_TIMEOUT)
    room = _offline_question(site, at=long_ago)
    services.room_accept(room_id=room.pk, operator=Operator.objects.get(pk=peter.pk))

    services.room_transfer(room_id=room.pk, operator=Operator.objects.get(pk=peter.pk), to_operator_id=None)

    now = timezone.now()
    assert offline.sweep_due(now=now).offline == []
    assert offline.sweep_due(now=now + timedelta(seconds=settings.WP_POOL_TIMEOUT)).offline == [room.pk]


# The visitor leaves; the answer ---------------------------------------------------------


@live
async def test_an_offline_request_outlives_its_visitor_and_the_answer_is_mailed_to_them_once(sockets, peter, sweeper):
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    linda_address = address("linda")
    await linda.ask("details", type="details", name="Linda", email=linda_address)
    await says(linda, "Do you have it in XL?", "v-1")
    room = (await linda.expect(offline_room(linda_id), timeout=SWEEP))["room"]

    # She leaves the site (R3): her request stays in the pool.
    await linda.close()
    await asyncio.sleep(settings.WP_VISITOR_TIMEOUT + SWEEP)
    assert not (await database_sync_to_async(Visitor.objects.get)(pk=linda_id)).online
    assert (await database_sync_to_async(Room.objects.get)(pk=room["id"])).status == Room.Status.PENDING

    panel = await sockets.operator(peter)
    assert room["id"] in [r["id"] for r in panel.snapshot["rooms"]]
    assert linda_id not in [v["id"] for v in panel.snapshot["visitors"]]
    await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])
    await says(panel, "We do, in blue and black.", "o-1", room=room["id"])
    await says(panel, "Shall I keep one for you?", "o-2", room=room["id"])

    replies = ["We do, in blue and black.", "Shall I keep one for you?"]
    deadline = asyncio.get_running_loop().time() + 15
    while sum(body(m).count(r) for m in mails_to(linda_address) for r in replies) < 2:
        assert asyncio.get_running_loop().time() < deadline, "the replies were not mailed"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2 * SWEEP)
    mailed = [body(m) for m in mails_to(linda_address)]
    assert [sum(text.count(r) for text in mailed) for r in replies] == [1, 1]
    assert "Do you have it in XL?" in mailed[0]

    # Peter closes it when he is done: it expires as any closed room, and nobody is put back
    # in the pool for a visitor who is not there (R14).
    await panel.ask(of_type("room", room__id=room["id"], room__status="closing"), type="close", room=room["id"])
    wait = settings.WP_ROOM_EXPIRY + SWEEP
    ended = await panel.expect(of_type("room", room__id=room["id"], room__status="expired"), timeout=wait)
    assert ended["room"]["reason"] == "operator_closed"
    assert not await database_sync_to_async(Room.objects.filter(visitor_id=linda_id, status__in=Room.LIVE).exists)()


@live
async def test_an_answer_is_shown_on_the_visitors_page_and_not_mailed_while_they_are_on_the_site(
    sockets, peter, sweeper
):
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    linda_address = address("linda")
    await linda.ask("details", type="details", name="", email=linda_address)
    await says(linda, "Is the shop open on Sunday?", "v-1")
    room = (await linda.expect(offline_room(linda_id), timeout=SWEEP))["room"]

    panel = await sockets.operator(peter)
    await panel.ask(of_type("room", room__id=room["id"], room__status="active"), type="accept", room=room["id"])
    await says(panel, "Yes, from ten to four.", "o-1", room=room["id"])
    await linda.expect(of_type("message", message__body="Yes, from ten to four."))

    # She leaves after reading it: her request's room stays Peter's, and nothing is mailed.
    await linda.close()
    await asyncio.sleep(settings.WP_VISITOR_TIMEOUT + SWEEP)
    assert (await database_sync_to_async(Room.objects.get)(pk=room["id"])).status == Room.Status.ACTIVE
    assert mails_to(linda_address) == []

    # What Peter writes now, with her gone, is mailed: that alone.
    await says(panel, "And on holidays too.", "o-2", room=room["id"])
    (reply,) = await wait_for_mails(linda_address)
    assert "And on holidays too." in body(reply)
    assert "from ten to four" not in body(reply)


@live
def test_replies_are_claimed_by_one_sender(site, peter):
    now = timezone.now()
    room = _offline_question(site, email="gone@example.com", at=now)
    Visitor.objects.filter(pk=room.visitor_id).update(online=False)
    Room.objects.filter(pk=room.pk).update(offline_at=now, status=Room.Status.ACTIVE, operator=peter)
    # Written here, not sent through the service: no task of the worker's is queued for them.
    sent = [
        Message.objects.create(room=room, sender="operator", operator=peter, name="Peter", body=f"Answer {n}", at=now)
        for n in (1, 2)
    ]

    claims = race(*[lambda: offline.replies_claim(room_id=room.pk) for _ in range(4)])
    assert sorted(value for _, value in claims) == [[], [], [], [m.pk for m in sent]]
    # A send that failed gives them back, unless later ones were mailed since.
    offline.replies_release(room_id=room.pk, message_ids=[m.pk for m in sent])
    assert offline.replies_claim(room_id=room.pk) == [m.pk for m in sent]


@inside
def test_a_reply_mail_that_fails_is_given_back_and_sent_once(site, peter):
    peter = Operator.objects.get(pk=peter.pk)
    now = timezone.now()
    room = _offline_question(site, email="gone@example.com", at=now)
    Visitor.objects.filter(pk=room.visitor_id).update(online=False)
    Room.objects.filter(pk=room.pk).update(offline_at=now, status=Room.Status.ACTIVE, operator=peter)
    services.message_send_by_operator(room_id=room.pk, operator=peter, body="It is waterproof.")
    assert offline.sweep_due(now=now).reply_rooms == [room.pk]

    with mock.patch.object(mail.EmailMessage, "send", side_effect=ConnectionResetError("the mail server hung up")):
        replies_mail(room.pk)
    assert offline.sweep_due(now=now).reply_rooms == [room.pk]
    replies_mail(room.pk)
    replies_mail(room.pk)

    assert [m.to for m in mail.outbox] == [["gone@example.com"]]
    assert "It is waterproof." in mail.outbox[0].body
    assert offline.sweep_due(now=now).reply_rooms == []
