from django.db import models
from django.db.models import Q

from operators.models import Operator
from visitors.models import Site, Visitor


class Room(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # in the general pool
        ACTIVE = "active"
        CLOSING = "closing"  # closed by the operator, expires at expires_at
        EXPIRED = "expired"  # final

    class Reason(models.TextChoices):
        OPERATOR_CLOSED = "operator_closed"
        OPERATOR_LOGOUT = "operator_logout"
        OPERATOR_TIMEOUT = "operator_timeout"
        VISITOR_LEFT = "visitor_left"
        # Extension: a site owner ended it in Django admin.
        ENDED_BY_ADMIN = "ended_by_admin", "Ended in admin"

    LIVE = (Status.PENDING, Status.ACTIVE, Status.CLOSING)

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="rooms")
    # Indexed with the id below, not alone: that index serves every lookup by visitor.
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="rooms", db_index=False)
    operator = models.ForeignKey(Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="rooms")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    visitor_in_room = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # R14: a request the server put back in the pool when the visitor's room ended with their
    # question unanswered: why the room before ended, and whose it was ("Peter logged out").
    return_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    return_operator_name = models.CharField(max_length=150, blank=True)
    # R16. When it last entered the pool (made, or handed back): WP_POOL_TIMEOUT counts from it.
    pooled_at = models.DateTimeField(null=True, blank=True)
    # When the request became an offline request: asked while no operator of the site was
    # online, or not accepted within WP_POOL_TIMEOUT. It stays in the pool when its visitor
    # leaves, and whoever takes it answers by email if they are gone (chat/offline.py).
    offline_at = models.DateTimeField(null=True, blank=True)
    # When the site's owners were mailed about it: claimed once, whatever sweeps or retries race.
    owners_notified_at = models.DateTimeField(null=True, blank=True)
    # The last operator message of the room the visitor was mailed, or was on the site to see:
    # the ones after it are still to be mailed if they have left (at most once each).
    replies_mailed_through = models.BigIntegerField(default=0)

    class Meta:
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
        ]

    def __str__(self) -> str:
        return f"Room {self.pk} ({self.status})"


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor"
        OPERATOR = "operator"
        SYSTEM = "system"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=10, choices=Sender.choices)
    operator = models.ForeignKey(Operator, null=True, blank=True, on_delete=models.SET_NULL)
    # The sender's name when it was sent: the transcript keeps it.
    name = models.CharField(max_length=150)
    body = models.TextField()
    # Chosen by the client; a resend after a lost ack is stored once.
    client_id = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"], condition=~Q(client_id=""), name="one_message_per_client_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.body[:50]}"
