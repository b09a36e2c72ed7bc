import logging

from celery import shared_task
from django.utils import timezone

from .expiry import rooms_due
from .expiry import sweep as run_sweep

logger = logging.getLogger(__name__)


@shared_task(name="chat.tasks.sweep", ignore_result=True)
def sweep() -> None:
    result = run_sweep(now=timezone.now())
    if result.rooms_expired or result.visitors_left or result.operators_timed_out:
        logger.info("sweep: %s", result)


@shared_task(name="chat.tasks.sweep_if_rooms_due", ignore_result=True)
def sweep_if_rooms_due() -> None:
    # The whole sweep, not the rooms alone: whatever else is due goes in deadline order.
    now = timezone.now()
    if rooms_due(now=now):
        sweep()
