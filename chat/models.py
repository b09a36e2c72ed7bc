from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from operators.models import Operator
from visitors.models import Site, Visitor


class Room(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")  # in the general pool
        ACTIVE = "active", _("Active")
        CLOSING = "closing", _("Closing")  # closed by the operator, expires at expires_at
        EXPIRED = "expired", _("Expired")  # final

    class Reason(models.TextChoices):
        OPERATOR_CLOSED = "operator_closed", _("Closed by the operator")
        OPERATOR_LOGOUT = "operator_logout", _("Operator logged out")
        OPERATOR_TIMEOUT = "operator_timeout", _("Operator timed out")
        VISITOR_LEFT = "visitor_left", _("Visitor left")
        # Extension: a site owner ended it in Django admin.
        ENDED_BY_ADMIN = "ended_by_admin", _("Ended in admin")
        # Issue 25: an operator blocked the visitor (chat/bans.py).
        BANNED = "banned", _("Visitor blocked")

    LIVE = (Status.PENDING, Status.ACTIVE, Status.CLOSING)

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="rooms", verbose_name=_("site"))
    # Indexed with the id below, not alone: that index serves every lookup by visitor.
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="rooms", db_index=False, verbose_name=_("visitor")
    )
    operator = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="rooms", verbose_name=_("operator")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, blank=True)
    visitor_in_room = models.BooleanField(_("visitor in the room"), default=True)
    # False only in a chat an operator started until the visitor opens its window (R12).
    window_opened = models.BooleanField(_("window opened"), default=True)
    # The newest message of the room each side has seen (issue 23): the visitor with the window
    # open or the toast shown on a visible page; the operator with the room in view.
    visitor_seen_id = models.PositiveBigIntegerField(_("last message the visitor saw"), default=0)
    operator_seen_id = models.PositiveBigIntegerField(_("last message the operator saw"), default=0)
    # Given to an operator by the site's routing (issue 23), not taken from the pool.
    routed = models.BooleanField(_("given by routing"), default=False)
    # The visitor's rating of the chat (issue 23): 1-5 and a comment, once.
    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.TextField(_("rating comment"), blank=True, max_length=1000)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    # The room's first operator message (chat/services.py sets it once): the owners' reports
    # read the first response here, not by looking for it among the messages.
    first_reply_at = models.DateTimeField(_("first reply at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # R14: a request the server put back in the pool when the visitor's room ended with their
    # question unanswered: why the room before ended, and whose it was ("Peter logged out").
    return_reason = models.CharField(_("back in the pool because"), max_length=20, choices=Reason.choices, blank=True)
    return_operator_name = models.CharField(_("operator of the room before"), max_length=150, blank=True)
    # Transfer: when the room was handed to its current operator (None: they took it from the
    # pool or started it). Until they write in it, it is not theirs yet: their going offline
    # puts it back in the pool (R14). `accepted_at` stays when it left the pool.
    transferred_at = models.DateTimeField(_("transferred at"), null=True, blank=True)
    # R16. When it last entered the pool (made, or handed back): WP_POOL_TIMEOUT counts from it.
    pooled_at = models.DateTimeField(_("entered the pool at"), null=True, blank=True)
    # When the request became an offline request: asked while no operator of the site was
    # online, or not accepted within WP_POOL_TIMEOUT. It stays in the pool when its visitor
    # leaves, and whoever takes it answers by email if they are gone (chat/offline.py).
    offline_at = models.DateTimeField(_("offline request since"), null=True, blank=True)
    # Issue 25: made while its site was outside its business hours: the panels do not alert.
    after_hours = models.BooleanField(_("after hours"), default=False)
    # When the site's owners were mailed about it: claimed once, whatever sweeps or retries race.
    owners_notified_at = models.DateTimeField(_("owners notified at"), null=True, blank=True)
    # The last operator message of the room the visitor was mailed, or was on the site to see:
    # the ones after it are still to be mailed if they have left (at most once each).
    replies_mailed_through = models.BigIntegerField(_("last reply mailed (message ID)"), default=0)
    # Issue 23: the visitor asked for the conversation by email (the `transcript` frame), to this
    # address, mailed once the room has ended (chat/transcript_mail.py). `transcript_sent_at` is
    # the claim of the one sender: set before the mail goes, given back if it could not.
    transcript_email = models.CharField(_("transcript email"), max_length=254, blank=True)
    transcript_asked_at = models.DateTimeField(_("transcript asked for at"), null=True, blank=True)
    transcript_sent_at = models.DateTimeField(_("transcript sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [
            # R7 rests on this: a visitor has at most one live room, whoever races.
            models.UniqueConstraint(
                fields=["visitor"], condition=~Q(status="expired"), name="one_live_room_per_visitor"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["site", "status"]),
            models.Index(fields=["operator", "status"]),
            # A visitor's newest room (every page a visitor opens asks for it, and most have none):
            # one probe here. With the visitor alone indexed, PostgreSQL may walk the primary key
            # backwards looking for one, every room of every visitor (21 ms at 100,000 rooms).
            models.Index(fields=["visitor", "id"], name="chat_room_visitor_newest"),
            # The site's last accepts, for a waiting visitor's estimated wait (R16): a few rows
            # read backwards here, not every room the site ever had.
            models.Index(fields=["site", "accepted_at"], name="chat_room_site_accepted"),
            # A site's rooms by the time they were made, for its owners' reports (chat/reports.py):
            # a month of a busy site, not every room it ever had.
            models.Index(fields=["site", "created_at"], name="chat_room_site_created"),
            # The transcripts still to mail (issue 23): the sweep finds them here, a handful of
            # rows, not by reading every room that ever ended.
            models.Index(
                fields=["transcript_asked_at"],
                condition=Q(transcript_asked_at__isnull=False, transcript_sent_at__isnull=True),
                name="chat_room_transcript_due",
            ),
        ]

    def __str__(self) -> str:
        return _("Room %(id)s (%(status)s)") % {"id": self.pk, "status": self.get_status_display()}


class Attachment(models.Model):
    """A file or image carried by a message (issue 23): stored through Django's storage API
    (local media by default, any django-storages backend), served only through a signed,
    expiring URL (chat/files.py). Deleted with its room; its files leave the storage with it."""

    # The room it was sent in: deleting the room (its visitor, its site) deletes it, and its
    # files (chat/files.py, post_delete).
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attachments")
    # Saved by chat/files.py under random paths, never the sender's file name; the thumbnail
    # (at most THUMB_SIZE pixels a side) of an image only ('': none).
    file = models.FileField(max_length=200)
    thumbnail = models.FileField(max_length=200, blank=True)
    # The sender's file name, cleaned (chat/files.py: clean_name), for showing and downloading.
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    # As White Panel determined it: a decoded image's format, else the allowed extension's type.
    content_type = models.CharField(max_length=100)
    # A raster image Pillow decoded (png, jpeg, gif, webp): served inline, with a thumbnail.
    # Anything else is served as a download.
    is_image = models.BooleanField(default=False)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        # Only its name is shown: in the list of what deleting a room (a visitor, a site) deletes.
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        OPERATOR = "operator", _("Operator")
        SYSTEM = "system", _("System")
        # An operators' note on the room (issue 23): seen by operators only, by no path ever the visitor.
        NOTE = "note", _("Note")

    class Event(models.TextChoices):
        """What a `system` line records (R15): who was there when. Clients word it from this
        code and the line's `name`; `body` is the same in English, for those that do not."""

        JOINED = "joined", _("Joined")  # an operator took the visitor: accept, start, the end of a transfer
        TRANSFERRED = "transferred", _("Transferred")  # the operator handed the room on (to a colleague or the pool)
        CLOSED = "closed", _("Closed")  # the operator closed the room: it expires unless reopened (R9)
        REOPENED = "reopened", _("Reopened")  # the operator reopened it
        REOPENED_BY_VISITOR = "reopened_by_visitor", _("Reopened by the visitor")  # wrote in a closing room (R14)
        WINDOW_OPENED = "window_opened", _("Window opened")
        WINDOW_CLOSED = "window_closed", _("Window closed")
        RETURNED = "returned", _("Back in the pool")  # a request back in the pool by itself, unanswered (R14)
        # The room ended, one code per reason (Room.Reason):
        EXPIRED = "expired", _("Expired")  # operator_closed: its expiry ran out
        LOGGED_OUT = "logged_out", _("Logged out")  # operator_logout
        TIMED_OUT = "timed_out", _("Timed out")  # operator_timeout
        ENDED_BY_ADMIN = "ended_by_admin", _("Ended in admin")
        LEFT_SITE = "left_site", _("Left the site")  # visitor_left
        BANNED = "banned", _("Blocked")  # banned: an operator blocked the visitor (operators only)

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages", verbose_name=_("room"))
    sender = models.CharField(_("sender"), max_length=10, choices=Sender.choices)
    # A system line's code; empty for what people wrote.
    event = models.CharField(_("event"), max_length=20, choices=Event.choices, blank=True, default="")
    # Who wrote it; for a system line, the operator it is about (none for the visitor's own).
    operator = models.ForeignKey(Operator, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("operator"))
    # The sender's name when it was sent: the transcript keeps it. A system line's: the name of
    # whom it is about (the operator, or the visitor for their window and leaving).
    name = models.CharField(_("name"), max_length=150)
    body = models.TextField(_("body"))
    # Chosen by the client; a resend after a lost ack is stored once.
    client_id = models.CharField(_("client ID"), max_length=64, blank=True)
    at = models.DateTimeField(_("sent at"))
    # The file it carries (issue 23), if any; its body is then the caption, maybe empty. Read
    # from this column, a message without one costs no query to build its payload. The
    # attachment deleted alone (admin), the message stays, without its file.
    attachment = models.OneToOneField(
        Attachment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message",
        verbose_name=_("attachment"),
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"], condition=~Q(client_id=""), name="one_message_per_client_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.body[:50]}"


class Ban(models.Model):
    """A visitor an operator blocked (issue 25), and maybe their address or network: the
    snippet is refused to them until an owner lifts it (chat/bans.py)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="bans", verbose_name=_("site"))
    # Null: the visitor was deleted since; the address, if any, stays blocked.
    visitor = models.ForeignKey(
        Visitor, null=True, blank=True, on_delete=models.SET_NULL, related_name="bans", verbose_name=_("visitor")
    )
    # An address ("203.0.113.7") or a network ("203.0.113.0/24", "2001:db8:1::/48"); empty:
    # the visitor only.
    address = models.CharField(_("IP address or network"), max_length=50, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        Operator,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("blocked by (operator)"),
    )
    # The operator's name when they blocked: kept if the operator goes.
    created_by_name = models.CharField(_("blocked by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("blocked at"))
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("lifted by"),
    )

    class Meta:
        verbose_name = _("ban")
        verbose_name_plural = _("bans")
        indexes = [
            # A site's bans in force: what each process reads after a ban is made or lifted.
            models.Index(fields=["site"], condition=Q(lifted_at=None), name="chat_ban_active"),
        ]

    def __str__(self) -> str:
        return _("Ban %(id)s") % {"id": self.pk}

    @property
    def active(self) -> bool:
        return self.lifted_at is None


# The system lines a visitor sees (R15): the operator side, as it concerns them. Their own
# window and leaving, and the pool's workings, are for operators only. A code not listed here
# is operators' only, so a new one never reaches visitors by mistake.
VISITOR_EVENTS = frozenset(
    {
        Message.Event.JOINED,
        Message.Event.TRANSFERRED,
        Message.Event.CLOSED,
        Message.Event.REOPENED,
        Message.Event.EXPIRED,
        Message.Event.LOGGED_OUT,
        Message.Event.TIMED_OUT,
        Message.Event.ENDED_BY_ADMIN,
    }
)

# The same rule as a filter, for the visitor's history (one statement, whatever it holds).
FOR_VISITORS = (Q(event="") | Q(event__in=sorted(VISITOR_EVENTS))) & ~Q(sender=Message.Sender.NOTE)


def visitor_sees(message: Message) -> bool:
    """Whether the visitor is shown this message (every path to them asks: events, history)."""
    if message.sender == Message.Sender.NOTE:
        return False
    return not message.event or message.event in VISITOR_EVENTS


class Erasure(models.Model):
    """A visitor erased by a site owner (issue 25, chat/privacy.py): who erased which visitor
    id and when, and nothing about the visitor, who is gone."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="erasures", verbose_name=_("site"))
    visitor_id = models.PositiveBigIntegerField(_("visitor number"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("erased by (account)"),
    )
    # The user's name as it was: the row outlives a deleted account.
    by_name = models.CharField(_("erased by"), max_length=150)
    at = models.DateTimeField(_("erased at"))

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")

    def __str__(self) -> str:
        return _("Visitor %(id)s erased by %(name)s") % {"id": self.visitor_id, "name": self.by_name}


class ReportDay(models.Model):
    """A settled day of a site's conversations for its owners' reports (chat/reports.py): one
    row per operator whose rooms they were (0: nobody took them), counted in the zone the site
    had then (a rollup of another zone is ignored). The durations are kept whole, sorted tenths
    of a second, so a report over many days merges them into the same percentiles as its rooms
    would give. Anonymous numbers: they outlive the conversations a site's retention deletes."""

    NOBODY = 0

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="report_days")
    day = models.DateField()
    timezone = models.CharField(max_length=64)
    # The rooms' operator (Room.operator) when the day was rolled up; not a key: the numbers
    # stay the site's when the operator is deleted.
    operator_id = models.BigIntegerField(default=NOBODY)
    # The day's bounds: a change to a room made between them drops the day.
    since = models.DateTimeField()
    until = models.DateTimeField()
    conversations = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    # How many ratings of 1, 2, 3, 4 and 5 stars.
    stars = models.JSONField(default=list)
    # Tenths of a second, sorted: from the request to its accept, to the first operator
    # message, and from the accept to the end.
    accept = models.JSONField(default=list)
    first_response = models.JSONField(default=list)
    length = models.JSONField(default=list)

    class Meta:
        # Only its name is shown: in the list of what deleting a site deletes with it.
        verbose_name = _("report day")
        verbose_name_plural = _("report days")
        constraints = [
            # Rollups computed at once by two reports: one row stays (the other insert is ignored).
            models.UniqueConstraint(fields=["site", "timezone", "day", "operator_id"], name="one_report_day"),
        ]
        indexes = [models.Index(fields=["site", "since"], name="chat_reportday_site_since")]

    def __str__(self) -> str:
        return _("Report of site %(site)s on %(day)s") % {"site": self.site_id, "day": self.day}


class ReportStamp(models.Model):
    """A site's rollups' stamp (chat/reports.py): a new random number each time a change to a
    room of a settled day drops that day's rollups. A rollup computed from the rooms is stored
    only if the stamp it read before is still the stamp under the row's lock at the insert: a
    change made meanwhile, whose drop came before the insert, would have left it stale."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, primary_key=True, related_name="+")
    stamp = models.BigIntegerField()

    class Meta:
        # Only its name is shown: in the list of what deleting a site deletes with it.
        verbose_name = _("report stamp")
        verbose_name_plural = _("report stamps")

    def __str__(self) -> str:
        return f"Rollups' stamp of site {self.site_id}"
