from celery import shared_task

from .services import page_views_flush as flush


@shared_task(name="visitors.tasks.page_views_flush", ignore_result=True)
def page_views_flush() -> None:
    flush()
