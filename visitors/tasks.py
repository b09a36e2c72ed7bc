from celery import shared_task
from django.utils import timezone

from . import online_history
from .services import page_views_flush as flush


@shared_task(name="visitors.tasks.page_views_flush", ignore_result=True)
def page_views_flush() -> None:
    flush()


@shared_task(name="visitors.tasks.online_sample", ignore_result=True)
def online_sample() -> None:
    """Who is online on every site, counted for the reports (visitors/online_history.py)."""
    online_history.online_sample(now=timezone.now())
