"""The owners' integrations (issue 25): webhooks and the log of what was sent to them.

Below chat in the layers (docs/architecture.md): chat tells this app what happened, with
the payload it built (chat/events.py); nothing here knows rooms or messages."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from visitors.models import Site

# What a webhook may subscribe to (docs/api.md, "Webhooks"). `ping` is the admin's and the
# API's "send test": always sent, never subscribed to.
EVENTS = (
    "room.created",
    "room.accepted",
    "room.ended",
    "message.created",
    "rating.created",
    "visitor.details",
)
PING = "ping"


def new_secret() -> str:
    return secrets.token_hex(32)


class Webhook(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("site"))
    url = models.URLField(_("URL"), max_length=500, help_text=_("http(s); the site's owners' own receiver."))
    events = models.JSONField(_("events"), default=list, help_text=_("The events sent to it."))
    secret = models.CharField(
        _("secret"), max_length=64, default=new_secret, help_text=_("Signs every body (HMAC-SHA256).")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event for one webhook: written in the transaction of the change it tells of (an
    outbox), sent by Celery after the commit, retried until sent or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook"))
    event = models.CharField(_("event"), max_length=40)
    # The room it is about (not a key: rooms are chat's, above this app); deliveries of one
    # room and webhook go in the order they were made.
    room_id = models.BigIntegerField(_("room ID"), null=True, blank=True)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Also a lease while an attempt runs: nobody else tries it before the attempt's timeout.
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    response_code = models.PositiveIntegerField(_("response code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-id"]
        indexes = [
            # The sweep's due deliveries: the pending ones only, a handful, however long the log.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending"),
            models.Index(fields=["webhook", "room_id", "id"], name="delivery_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk}"
