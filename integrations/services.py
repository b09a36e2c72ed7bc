"""Webhooks: who listens, the deliveries written with each change, and their sending.

A change writes its deliveries in its own transaction (`deliveries_add`, called by
chat/events.py), so a process dying after the commit loses none; after the commit a Celery
task sends each (`delivery_attempt`). Deliveries of one room and webhook go in the order
they were made: one is tried only when no earlier one of them is pending. A failure is tried
again after a pause that doubles (WP_WEBHOOK_BACKOFF, 2x, 4x...), by the sweep
(`deliveries_due`, Celery beat), until WP_WEBHOOK_MAX_ATTEMPTS; then it is `failed`."""

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from infra.errors import Invalid, NotFound
from visitors.models import Site
from visitors.owners import sites_owned_by

from . import sending
from .models import EVENTS, PING, Delivery, Webhook

logger = logging.getLogger(__name__)

MAX_WEBHOOKS_PER_SITE = 20
MAX_BACKOFF = 6 * 3600


# Who listens ----------------------------------------------------------------------

# The sites with an active webhook, as this process read them and when: every change the
# chat makes asks, and a site with none must cost it nothing (no query per message). Read
# again after WP_WEBHOOK_CACHE_SECONDS, and at once after a change made in this process.
_listening: tuple[float, frozenset[int]] | None = None
_listening_lock = threading.Lock()


def sites_listening() -> frozenset[int]:
    global _listening
    kept = _listening
    if kept is not None and time.monotonic() - kept[0] < settings.WP_WEBHOOK_CACHE_SECONDS:
        return kept[1]
    with _listening_lock:
        site_ids = frozenset(Webhook.objects.filter(active=True).values_list("site_id", flat=True).distinct())
        _listening = (time.monotonic(), site_ids)
    return site_ids


def sites_listening_known(site_ids: frozenset[int]) -> None:
    """Keep this answer as if just read: for a caller that knows it (the tests, each starting
    on a database without webhooks), so no read lands in the middle of what they count."""
    global _listening
    _listening = (time.monotonic(), site_ids)


def _listeners_changed() -> None:
    global _listening
    _listening = None


# Owners' changes --------------------------------------------------------------------


def webhook_url_check(url: str) -> str:
    """The URL if White Panel may send to it (sending.target); Invalid otherwise."""
    url = url.strip()
    if len(url) > 500:
        raise Invalid("the URL is longer than 500 characters")
    try:
        sending.target(url)
    except sending.Refused as refused:
        raise Invalid(f"this URL cannot receive webhooks: {refused}") from None
    return url


def _events_check(events: Iterable[str]) -> list[str]:
    events = list(dict.fromkeys(events))
    unknown = [event for event in events if event not in EVENTS]
    if unknown:
        raise Invalid(f"unknown event {unknown[0]!r}; the events are {', '.join(EVENTS)}")
    return events


def webhooks_owned_by(*, user):
    return Webhook.objects.filter(site__in=sites_owned_by(user=user)).select_related("site")


def webhook_owned(*, user, webhook_id: int) -> Webhook:
    webhook = webhooks_owned_by(user=user).filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound("no such webhook")
    return webhook


def webhook_create(*, site: Site, url: str, events: Iterable[str], active: bool = True) -> Webhook:
    """A webhook of a site (its owner checked by the caller: admin's form, the API's view)."""
    url, events = webhook_url_check(url), _events_check(events)
    with transaction.atomic():
        Site.objects.select_for_update().filter(pk=site.pk).first()  # counted under the site's lock
        if Webhook.objects.filter(site=site).count() >= MAX_WEBHOOKS_PER_SITE:
            raise Invalid(f"a site has {MAX_WEBHOOKS_PER_SITE} webhooks at most")
        webhook = Webhook.objects.create(site=site, url=url, events=events, active=active)
        _listeners_changed()  # this process, at once (its own transaction sees the change)
        transaction.on_commit(_listeners_changed)
    return webhook


def webhook_update(*, webhook: Webhook, **changes) -> Webhook:
    """Change a webhook's url, events, active; `secret=True` makes it a new secret."""
    if "url" in changes:
        webhook.url = webhook_url_check(changes["url"])
    if "events" in changes:
        webhook.events = _events_check(changes["events"])
    if "active" in changes:
        webhook.active = bool(changes["active"])
    if changes.get("new_secret"):
        from .models import new_secret

        webhook.secret = new_secret()
    with transaction.atomic():
        webhook.save(update_fields=["url", "events", "active", "secret"])
        _listeners_changed()  # this process, at once (its own transaction sees the change)
        transaction.on_commit(_listeners_changed)
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """A webhook goes with its log; what is pending for it is never sent."""
    with transaction.atomic():
        webhook.delete()
        _listeners_changed()  # this process, at once (its own transaction sees the change)
        transaction.on_commit(_listeners_changed)


# The deliveries ---------------------------------------------------------------------


def deliveries_add(*, site_id: int, event: str, room_id: int | None, data: Callable[[], dict]) -> list[int]:
    """The change being made in this transaction is `event`: a delivery for each active
    webhook of the site subscribed to it, written now (so committed with the change), sent
    after the commit. `data` builds the payload, only when someone listens."""
    if site_id not in sites_listening():
        return []
    webhooks = [w for w in Webhook.objects.filter(site_id=site_id, active=True) if event in w.events]
    if not webhooks:
        return []
    payload, now = data(), timezone.now()
    created = Delivery.objects.bulk_create(
        Delivery(webhook=w, event=event, room_id=room_id, payload=payload, created_at=now, next_attempt_at=now)
        for w in webhooks
    )
    ids = [delivery.pk for delivery in created]  # both databases return them (RETURNING)
    transaction.on_commit(lambda: _queue(ids))
    return ids


def deliveries_forget(*, room_ids: Iterable[int], site_id: int | None = None, visitor_id: int | None = None) -> int:
    """The deliveries about these rooms deleted, and with a site and visitor, that site's about
    the visitor's details (issue 25: the rooms past their site's retention, the visitor erased).
    What was pending of them is never sent. Returns how many went."""
    about = Q(room_id__in=list(room_ids))
    if visitor_id is not None:
        about |= Q(webhook__site_id=site_id, event="visitor.details", payload__visitor__id=visitor_id)
    return Delivery.objects.filter(about).delete()[0]


def delivery_ping(*, webhook: Webhook) -> Delivery:
    """Send test: a `ping` to the webhook at once, on the same path as every event."""
    with transaction.atomic():
        delivery = Delivery.objects.create(
            webhook=webhook, event=PING, room_id=None, payload={"webhook": webhook.pk, "url": webhook.url}
        )
        transaction.on_commit(lambda: _queue([delivery.pk]))
    return delivery


def _queue(delivery_ids: list[int]) -> None:
    from .tasks import deliver  # the tasks wrap this module

    for delivery_id in delivery_ids:
        try:
            deliver.delay(delivery_id)
        except Exception:
            # The sweep sends it (it is in the database already).
            logger.warning("could not queue webhook delivery %s", delivery_id, exc_info=True)


def _earlier_pending():
    return Delivery.objects.filter(
        webhook_id=OuterRef("webhook_id"),
        room_id=OuterRef("room_id"),
        status=Delivery.Status.PENDING,
        pk__lt=OuterRef("pk"),
    )


def deliveries_due(*, now: datetime, limit: int = 500) -> list[int]:
    """The pending deliveries due now whose room's earlier ones are all settled: the sweep
    queues them (failed attempts waiting out their pause, and any whose task was lost)."""
    return list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(~Exists(_earlier_pending()))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def body_of(delivery: Delivery, site_key: str) -> bytes:
    body = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "site": site_key,
        "data": delivery.payload,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def backoff(attempts: int) -> float:
    """The pause after the `attempts`-th failure in a row."""
    return min(settings.WP_WEBHOOK_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Try one delivery if it is due and first of its room: its status after, or None if it
    was not this call's to try (sent, given up, not due, waiting for an earlier one, or being
    tried by another worker). Safe to run twice: the attempt is claimed first."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.WP_WEBHOOK_TIMEOUT * 3 + 5)
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(~Exists(_earlier_pending()))
        .update(next_attempt_at=lease)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("webhook__site").get(pk=delivery_id)
    webhook = delivery.webhook
    code, error = None, ""
    if not webhook.active and delivery.event != PING:
        error = "the webhook was switched off"
    else:
        body = body_of(delivery, webhook.site.key)
        headers = {
            "X-WhitePanel-Event": delivery.event,
            "X-WhitePanel-Delivery": str(delivery.pk),
            "X-WhitePanel-Signature": sending.signature(webhook.secret, int(time.time()), body),
        }
        try:
            code = sending.post(webhook.url, body=body, headers=headers)
        except sending.Refused as refused:
            error = f"refused: {refused}"
        except (OSError, http.client.HTTPException) as failure:
            error = f"{type(failure).__name__}: {failure}"[:500] if str(failure) else type(failure).__name__
        else:
            if not 200 <= code < 300:
                error = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    return _attempt_record(delivery, code=code, error=error, given_up=bool(error) and not webhook.active)


def _attempt_record(delivery: Delivery, *, code: int | None, error: str, given_up: bool) -> str:
    done = timezone.now()
    attempts = delivery.attempts + 1
    if not error:
        status, next_at = Delivery.Status.SENT, done
    elif given_up or attempts >= settings.WP_WEBHOOK_MAX_ATTEMPTS:
        status, next_at = Delivery.Status.FAILED, done
    else:
        status, next_at = Delivery.Status.PENDING, done + timedelta(seconds=backoff(attempts))
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=attempts,
        next_attempt_at=next_at,
        response_code=code,
        error=error,
        sent_at=done if status == Delivery.Status.SENT else None,
    )
    if error:
        logger.info("webhook delivery %s (%s) failed, attempt %d: %s", delivery.pk, delivery.event, attempts, error)
    return status


def next_in_room(*, delivery_id: int) -> int | None:
    """The delivery after this one of its room and webhook still pending: sent next, at once."""
    delivery = Delivery.objects.filter(pk=delivery_id).values("webhook_id", "room_id").first()
    if delivery is None or delivery["room_id"] is None:
        return None
    return (
        Delivery.objects.filter(
            webhook_id=delivery["webhook_id"],
            room_id=delivery["room_id"],
            status=Delivery.Status.PENDING,
            pk__gt=delivery_id,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
