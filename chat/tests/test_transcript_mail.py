"""The visitor's transcript by email (issue 23): a visitor asks for the conversation of a chat of
theirs (`transcript`); it is mailed once, when the chat has ended, as they saw it (no notes, no
line for operators only), escaped in its HTML. Over the sockets, with the real Celery worker
(mails read from its file backend, tests/mails.py); the failures in this process."""

import asyncio
from datetime import timedelta
from unittest import mock

from channels.db import database_sync_to_async
from django.conf import settings
from django.core import mail
from django.utils import timezone

from chat import offline, services, transcript_mail
from chat.models import Message, Room
from chat.tasks import mail_transcript
from chat.tests.test_notes import note
from chat.tests.test_offline import SWEEP, address, inside, live
from chat.tests.test_rooms import chat_with, close_window, room_frame
from chat.tests.test_stranded import says
from tests.api import client_for
from tests.mails import body, fails_first, mails_to, wait_for_mails
from tests.owners import make_visitor
from tests.sockets import of_type
from visitors.models import Site, Visitor


def asked(room_id: int):
    return of_type("transcript", room=room_id)


def refused():
    return of_type("error", **{"for": "transcript"})


@live
async def test_a_transcript_asked_during_the_chat_is_mailed_once_when_it_ends(sockets, peter, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    assert linda.welcome["site"]["transcripts"] is True
    room = await chat_with(linda, panel, peter)
    await says(linda, "Do you have <b>boots</b> & shoes?", "v-1")
    await says(panel, "Yes: <script>alert(1)</script>\nIn 42 too.", "o-1", room=room["id"])
    await note(panel, room["id"], "VIP customer, offer free shipping", "n-1")
    # Her window closes: a line for operators only.
    await close_window(linda)
    linda_address = address("linda")

    answer = await linda.ask(asked(room["id"]), type="transcript", room=room["id"], email=f" {linda_address} ")
    assert answer == {"type": "transcript", "room": room["id"], "email": linda_address, "status": "waiting"}
    # Asked again (another address too): the same answer; the first address stands.
    again = await linda.ask(asked(room["id"]), type="transcript", room=room["id"], email=address("other"))
    assert again == answer

    # Nothing goes while the chat is live.
    await asyncio.sleep(2 * SWEEP)
    assert mails_to(linda_address) == []
    await panel.ask(room_frame(room["id"], room__status="closing"), type="close", room=room["id"])
    (sent,) = await wait_for_mails(linda_address, timeout=settings.WP_ROOM_EXPIRY + 3 * SWEEP)
    assert sent["Subject"] == "Your conversation with Shop"
    text, html = body(sent), body(sent, "text/html")
    for said in ("Do you have <b>boots</b> & shoes?", "Yes: <script>alert(1)</script>\nIn 42 too.", "Peter", "UTC"):
        assert said in text
    for line in ("Peter joined the chat", "Peter closed the chat", "The chat has ended"):
        assert line in text
        assert line in html
    # In the HTML, what people wrote is text, never markup.
    assert "Do you have &lt;b&gt;boots&lt;/b&gt; &amp; shoes?" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>In 42 too." in html
    assert "<script>" not in html
    assert "<b>" not in html
    # Never the notes, nor what is for operators only.
    stored = await database_sync_to_async(lambda: list(Message.objects.filter(room_id=room["id"])))()
    assert {m.event for m in stored} >= {"window_closed"}
    assert any(m.sender == "note" for m in stored)
    for hidden in ("VIP customer", "closed the chat window"):
        assert hidden not in text
        assert hidden not in html

    # Later sweeps, and asking again, mail nothing more; the answer says it was sent.
    sent_answer = await linda.ask(asked(room["id"]), type="transcript", room=room["id"])
    assert sent_answer["status"] == "sent"
    await asyncio.sleep(2 * SWEEP)
    assert len(mails_to(linda_address)) == 1
    # The room says so, read-only, in the API.
    api = await database_sync_to_async(lambda: client_for(peter.user).get(f"/api/rooms/{room['id']}/").json())()
    assert api["transcript"]["email"] == linda_address
    assert api["transcript"]["asked_at"] is not None
    assert api["transcript"]["sent_at"] is not None


@live
async def test_an_ended_chat_is_mailed_at_once_to_the_address_left_and_two_tabs_asking_get_one_mail(
    sockets, peter, sweeper
):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    tab = await sockets.visitor(token=linda.welcome["token"])
    linda_address = address("linda")
    await linda.ask("details", type="details", name="Linda", email=linda_address)
    room = await chat_with(linda, panel, peter)
    await says(linda, "Where is my parcel?", "v-1")
    await database_sync_to_async(services.rooms_end)(room_ids=[room["id"]], now=timezone.now())
    await linda.expect(room_frame(room["id"], room__status="expired"))

    answers = await asyncio.gather(
        *[side.ask(asked(room["id"]), type="transcript", room=room["id"]) for side in (linda, tab)]
    )
    # Queued, or already sent by the worker by the time the second is answered.
    assert {a["status"] for a in answers} <= {"queued", "sent"}
    assert {a["email"] for a in answers} == {linda_address}
    (sent,) = await wait_for_mails(linda_address)
    assert "Where is my parcel?" in body(sent)
    assert "The chat was ended by the site's team" in body(sent)
    await asyncio.sleep(2 * SWEEP)
    assert len(mails_to(linda_address)) == 1


@live
async def test_a_transcript_is_refused_clearly_and_nothing_is_stored(sockets, peter, site):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    await says(linda, "Hello?", "v-1")

    cases = [
        ({}, "invalid"),
        ({"room": str(room["id"])}, "invalid"),
        ({"room": -1}, "invalid"),
        ({"room": room["id"], "email": 42}, "invalid"),
        ({"room": room["id"], "email": ["linda@example.com"]}, "invalid"),
        ({"room": room["id"], "email": "not an address"}, "invalid"),
        ({"room": room["id"], "email": "l" * 250 + "@example.com"}, "too_long"),
        # No address in the frame, none left with `details`.
        ({"room": room["id"]}, "email_required"),
        ({"room": room["id"] + 1000}, "not_found"),
    ]
    for fields, code in cases:
        error = await linda.ask(refused(), type="transcript", **fields)
        assert error["code"] == code, fields
    # Another visitor's chat does not exist for her.
    foreign = await mary.ask(refused(), type="transcript", room=room["id"], email="mary@example.com")
    assert foreign["code"] == "not_found"
    # Nothing said yet in the chat Peter started with Mary: nothing to send.
    mary_id = mary.welcome["visitor"]
    started = await panel.ask(
        of_type("room", room__status="active", room__visitor=mary_id), type="start", visitor=mary_id
    )
    empty = await mary.ask(refused(), type="transcript", room=started["room"]["id"], email="mary@example.com")
    assert empty["code"] == "not_allowed"
    # A site that mails no transcripts.
    await database_sync_to_async(Site.objects.filter(pk=site.pk).update)(transcripts=False)
    off = await linda.ask(refused(), type="transcript", room=room["id"], email="linda@example.com")
    assert off["code"] == "not_allowed"

    assert await database_sync_to_async(Room.objects.filter(transcript_asked_at__isnull=False).count)() == 0


# Mail failing, in this process ----------------------------------------------------


def _ended_chat(site, email: str) -> Room:
    at = timezone.now() - timedelta(minutes=5)
    visitor = make_visitor(site)
    room = Room.objects.create(site=site, visitor=visitor, created_at=at, pooled_at=at)
    Message.objects.create(room=room, sender="visitor", name="Visitor", body="Is it waterproof?", at=at)
    Room.objects.filter(pk=room.pk).update(status=Room.Status.EXPIRED, ended_at=at)
    return transcript_mail.transcript_ask(visitor_id=visitor.pk, room_id=room.pk, email=email)


@inside
def test_a_transcript_that_fails_to_send_is_given_back_and_sent_once_when_the_sweeps_try_again(site):
    room = _ended_chat(site, "linda@example.com")
    assert room.transcript_email == "linda@example.com"
    calls = []
    with mock.patch.object(mail.EmailMessage, "send", fails_first(calls)):
        mail_transcript(room.pk)
        # Given back: due again, and the sweeps queue no mail for a pause.
        assert Room.objects.get(pk=room.pk).transcript_sent_at is None
        assert offline.mail_paused()
        with mock.patch.object(mail_transcript, "delay") as queued:
            assert transcript_mail.transcripts_queue() == 0
        queued.assert_not_called()
        # The pause over, the next sweep's task sends it; one queued twice sends nothing more.
        with (
            mock.patch.object(transcript_mail, "mail_paused", return_value=False),
            mock.patch.object(mail_transcript, "delay") as queued,
        ):
            assert transcript_mail.transcripts_queue() >= 1
        queued.assert_any_call(room.pk)
        mail_transcript(room.pk)
        mail_transcript(room.pk)
    assert calls == [["linda@example.com"], ["linda@example.com"]]
    assert [m.to for m in mail.outbox] == [["linda@example.com"]]
    assert "Is it waterproof?" in mail.outbox[0].body
    assert Room.objects.get(pk=room.pk).transcript_sent_at is not None
    assert transcript_mail.transcript_claim(room_id=room.pk, now=timezone.now()) is False


@inside
def test_the_mail_holds_the_conversation_as_the_visitor_saw_it_escaped(site, peter):
    visitor = make_visitor(site)
    Visitor.objects.filter(pk=visitor.pk).update(email="linda@example.com")
    at = timezone.now()
    earlier = Room.objects.create(site=site, visitor=visitor, created_at=at, status=Room.Status.EXPIRED)
    room = Room.objects.create(site=site, visitor=visitor, created_at=at, status=Room.Status.EXPIRED, ended_at=at)
    said = [
        (earlier, "visitor", "", "Visitor", "First visit, <i>hello</i>"),
        (room, "visitor", "", "Visitor", "Back again"),
        (room, "system", "joined", "Peter", "Peter joined the chat"),
        (room, "system", "returned", "", "The visitor's question is back in the pool, unanswered"),
        (room, "note", "", "Peter", "Secret: <b>VIP</b>"),
        (room, "operator", "", "Peter <the best>", "Welcome & hello"),
    ]
    for in_room, sender, event, name, text in said:
        Message.objects.create(room=in_room, sender=sender, event=event, name=name, body=text, at=at)
    Site.objects.filter(pk=site.pk).update(name="Shop <&> Co")
    transcript_mail.transcript_ask(visitor_id=visitor.pk, room_id=room.pk)

    assert transcript_mail.transcript_claim(room_id=room.pk, now=at)
    assert transcript_mail.transcript_send(room_id=room.pk) == 4
    (sent,) = mail.outbox
    assert sent.to == ["linda@example.com"]
    assert sent.subject == "Your conversation with Shop <&> Co"
    ((html, kind),) = sent.alternatives
    assert kind == "text/html"
    for text in ("First visit, <i>hello</i>", "Back again", "Peter joined the chat", "Peter <the best>"):
        assert text in sent.body
    assert at.strftime("%Y-%m-%d %H:%M UTC") in sent.body
    for text in (
        "First visit, &lt;i&gt;hello&lt;/i&gt;",
        "Peter &lt;the best&gt;",
        "Welcome &amp; hello",
        "Shop &lt;&amp;&gt; Co",
    ):
        assert text in html
    for hidden in ("Secret", "VIP", "back in the pool"):
        assert hidden not in sent.body
        assert hidden not in html
    assert "<i>" not in html
