"""Thin Celery tasks around integrations.services (the webhooks' deliveries)."""

from celery import shared_task
from django.utils import timezone

from . import services
from .models import Delivery


@shared_task(name="integrations.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> None:
    if services.delivery_attempt(delivery_id=delivery_id) in (Delivery.Status.SENT, Delivery.Status.FAILED):
        # Settled: the room's next one goes at once, not at the next sweep.
        following = services.next_in_room(delivery_id=delivery_id)
        if following is not None:
            deliver.delay(following)


@shared_task(name="integrations.tasks.deliveries_sweep", ignore_result=True)
def deliveries_sweep() -> None:
    for delivery_id in services.deliveries_due(now=timezone.now()):
        deliver.delay(delivery_id)
