"""The visitor's transcript by email (issue 23): a visitor asks for the conversation of a room of
theirs (the `transcript` frame) and it is mailed to them once, when the room has ended.

- Asked for an ended room, the mail is queued at once; for a live one the wish is kept on the
  room (`transcript_email`, `transcript_asked_at`) and the sweep queues the mail once the room
  has ended. The first ask stands: asking again answers the same, and mails nothing more.
- What is mailed is the conversation as the visitor sees it (`selectors.visitor_conversation`,
  the rule of their history: no notes, no system line for operators only), up to and including
  that room, in plain text and HTML (Django's autoescape: what people wrote is never markup).
- Sent as chat/offline.py's mails are: claimed first in the database (`transcript_sent_at`, by
  a conditional write), so two sweeps, a task queued twice, all find it claimed and send
  nothing more; a send that fails gives its claim back, and the sweeps retry it after the
  pause of `offline.mail_failed` (not Celery's countdown: a worker holding a task with an ETA
  dies when Redis restarts, docs/architecture.md).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from infra.errors import EmailRequired, Invalid, NotAllowed, NotFound

from .models import Message, Room
from .offline import mail_paused
from .selectors import visitor_conversation

logger = logging.getLogger(__name__)

# The newest messages of the conversation a transcript holds (a line says when there were more).
TRANSCRIPT_LIMIT = 1000
# Transcripts queued by one sweep at most: the next sweep queues the rest.
QUEUE_BATCH = 200

# What the `transcript` answer says of it.
WAITING, QUEUED, SENT = "waiting", "queued", "sent"


def _due() -> Q:
    # Asked for, its room ended, not claimed by a sender yet (the partial index's condition).
    return Q(status=Room.Status.EXPIRED, transcript_asked_at__isnull=False, transcript_sent_at__isnull=True)


def transcript_status(room: Room) -> str:
    """`sent` once claimed by its sender, `queued` once the room has ended, `waiting` before."""
    if room.transcript_sent_at is not None:
        return SENT
    return QUEUED if room.status == Room.Status.EXPIRED else WAITING


def transcript_ask(*, visitor_id: int, room_id: int, email: str = "") -> Room:
    """The visitor asks for the conversation of this room of theirs by email: to `email`, else
    to the address they left (`details`). Once: asked again, the room as the first ask left it.
    Raises NotFound (not their room), NotAllowed (the site mails none, nothing said yet),
    EmailRequired (no address at all), Invalid (`email` is not an address)."""
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise Invalid("'email' is not an email address") from None
    room = Room.objects.select_related("site", "visitor").filter(pk=room_id, visitor_id=visitor_id).first()
    if room is None:
        raise NotFound("no such chat of yours")
    if room.transcript_asked_at is not None:
        return room
    if not room.site.transcripts:
        raise NotAllowed("this site does not mail transcripts")
    address = email or room.visitor.email
    if not address:
        raise EmailRequired("give an email address to send the conversation to")
    # Said by people: a chat an operator started holds only its "joined" line until someone writes.
    if not visitor_conversation(visitor_id=visitor_id, room_id=room.pk).filter(event="").exists():
        raise NotAllowed("nothing has been said in this chat yet")
    now = timezone.now()
    with transaction.atomic():
        # Conditional: of two asks racing, the first one's address stands.
        asked = Room.objects.filter(pk=room.pk, transcript_asked_at=None).update(
            transcript_email=address, transcript_asked_at=now
        )
        if asked and room.status == Room.Status.EXPIRED:
            transaction.on_commit(lambda: _queue([room.pk]))
    room.refresh_from_db(fields=["status", "transcript_email", "transcript_asked_at", "transcript_sent_at"])
    return room


def transcripts_queue() -> int:
    """One task for each transcript due (claimed when it runs), unless mail failed a moment ago:
    the sweep's step, which also retries those whose send failed. How many were queued."""
    if mail_paused():
        return 0
    ids = list(Room.objects.filter(_due()).order_by("transcript_asked_at").values_list("pk", flat=True)[:QUEUE_BATCH])
    return _queue(ids)


def _queue(room_ids: list[int]) -> int:
    from .tasks import mail_transcript

    try:
        for room_id in room_ids:
            mail_transcript.delay(room_id)
    except Exception:
        # Kept in the database: the next sweep queues it.
        logger.warning("could not queue the transcripts of rooms %s", room_ids, exc_info=True)
        return 0
    return len(room_ids)


def transcript_claim(*, room_id: int, now: datetime) -> bool:
    """The room's transcript, due, claimed for one sender: True for one of any number racing."""
    return bool(Room.objects.filter(_due(), pk=room_id).update(transcript_sent_at=now))


def transcript_release(*, room_id: int) -> None:
    """A mail that could not be sent gives its claim back: the next sweep claims it again."""
    Room.objects.filter(pk=room_id).update(transcript_sent_at=None)


@dataclass
class _Line:
    who: str  # "" for a system line
    at: str
    body: str
    system: bool


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def transcript_send(*, room_id: int) -> int:
    """Mail the visitor the conversation of this room (claimed): how many messages it holds.
    May raise the mail server's errors."""
    room = Room.objects.select_related("site", "visitor").get(pk=room_id)
    conversation = visitor_conversation(visitor_id=room.visitor_id, room_id=room.pk)
    newest = list(conversation.order_by("-id")[: TRANSCRIPT_LIMIT + 1])
    messages = newest[:TRANSCRIPT_LIMIT][::-1]
    context = {
        "site": room.site,
        "lines": [
            _Line(
                who="You" if message.sender == Message.Sender.VISITOR else message.name,
                at=_at(message.at),
                body=message.body,
                system=message.sender == Message.Sender.SYSTEM,
            )
            for message in messages
        ],
        "earlier_left_out": len(newest) > TRANSCRIPT_LIMIT,
        "ended": _at(room.ended_at or room.created_at),
    }
    subject = " ".join(render_to_string("chat/transcript_subject.txt", context).split())
    mail = EmailMultiAlternatives(
        subject, render_to_string("chat/transcript_email.txt", context), to=[room.transcript_email]
    )
    mail.attach_alternative(render_to_string("chat/transcript_email.html", context), "text/html")
    mail.send()
    return len(messages)
