import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")

app = Celery("whitepanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_sweep(sender, **kwargs):
    from django.conf import settings

    interval = settings.WP_SWEEP_INTERVAL
    # A sweep left in the queue past the next one is useless: drop it rather
    # than let a backlog pile up while the worker is down.
    sender.add_periodic_task(interval, sender.signature("chat.tasks.sweep"), name="sweep", expires=interval * 2)
    # Page views reach the database in batches (visitors/visits.py).
    flush = settings.WP_PAGE_VIEW_FLUSH_INTERVAL
    sender.add_periodic_task(
        flush, sender.signature("visitors.tasks.page_views_flush"), name="page views", expires=flush * 2
    )
    # Webhook deliveries due again after a failure (integrations/services.py), and any whose task was lost.
    sender.add_periodic_task(
        interval, sender.signature("integrations.tasks.deliveries_sweep"), name="webhooks", expires=interval * 2
    )
    # What each site keeps no longer (issue 25): a daily purge in bounded batches (chat/retention.py).
    keep = settings.WP_RETENTION_INTERVAL
    sender.add_periodic_task(
        keep, sender.signature("chat.tasks.retention_purge"), name="retention", expires=max(keep, 60)
    )
    # The reports' visitors online over time (issue 25): a count of every site's, this often.
    sample = settings.WP_ONLINE_SAMPLE_INTERVAL
    sender.add_periodic_task(
        sample, sender.signature("visitors.tasks.online_sample"), name="online sample", expires=sample
    )
    # The owners' reports: the days that settled since, rolled up (chat/reports.py).
    rollup = settings.WP_REPORT_ROLLUP_INTERVAL
    sender.add_periodic_task(
        rollup, sender.signature("chat.tasks.reports_rollup"), name="reports", expires=max(rollup, 60)
    )
    # Closed rooms expire on time, not up to a sweep interval late: a check for one that
    # is due (one indexed query) runs this often, and sweeps at once if there is.
    check = settings.WP_EXPIRY_CHECK_INTERVAL
    if check < interval:
        sender.add_periodic_task(
            check, sender.signature("chat.tasks.sweep_if_rooms_due"), name="rooms due", expires=check * 2
        )
