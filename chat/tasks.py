import logging
from smtplib import SMTPException

from celery import shared_task
from django.utils import timezone

from . import offline, reports, retention, transcript_mail
from .expiry import rooms_due
from .expiry import sweep as run_sweep

logger = logging.getLogger(__name__)

MAIL_ERRORS = (OSError, SMTPException)


@shared_task(name="chat.tasks.sweep", ignore_result=True)
def sweep() -> None:
    result = run_sweep(now=timezone.now())
    if any(vars(result).values()):
        logger.info("sweep: %s", result)


@shared_task(name="chat.tasks.sweep_if_rooms_due", ignore_result=True)
def sweep_if_rooms_due() -> None:
    # The whole sweep, not the rooms alone: whatever else is due goes in deadline order.
    now = timezone.now()
    if rooms_due(now=now):
        sweep()


@shared_task(name="chat.tasks.retention_purge", ignore_result=True)
def retention_purge() -> None:
    """What the sites keep no longer, deleted in batches (issue 25, chat/retention.py)."""
    result = retention.retention_purge(now=timezone.now())
    if any(vars(result).values()):
        logger.info("retention: %s", result)


# Each mail is claimed in the database before it is sent (chat/offline.py), so it goes once
# however many of these race. One that fails gives its claim back: the sweeps queue it again
# after a pause (offline.mail_failed), rather than a retry with a countdown here.


@shared_task(name="chat.tasks.owners_notify", ignore_result=True)
def owners_notify(site_id: int) -> None:
    """Mail a site's owners about its offline requests due (R16)."""
    room_ids = offline.owners_notice_claim(site_id=site_id, now=timezone.now())
    if room_ids:
        _send(
            lambda: offline.owners_notice_send(site_id=site_id, room_ids=room_ids),
            give_back=lambda: offline.owners_notice_release(room_ids=room_ids),
            what=f"the owners of site {site_id} about rooms {room_ids}",
        )


@shared_task(name="chat.tasks.replies_mail", ignore_result=True)
def replies_mail(room_id: int) -> None:
    """Mail a visitor who has left the replies to their offline request (R16)."""
    message_ids = offline.replies_claim(room_id=room_id)
    if message_ids:
        _send(
            lambda: offline.replies_send(room_id=room_id, message_ids=message_ids),
            give_back=lambda: offline.replies_release(room_id=room_id, message_ids=message_ids),
            what=f"the visitor of room {room_id} replies {message_ids}",
        )


@shared_task(name="chat.tasks.mail_transcript", ignore_result=True)
def mail_transcript(room_id: int) -> None:
    """Mail a visitor the conversation they asked for, its room ended (issue 23)."""
    if transcript_mail.transcript_claim(room_id=room_id, now=timezone.now()):
        _send(
            lambda: transcript_mail.transcript_send(room_id=room_id),
            give_back=lambda: transcript_mail.transcript_release(room_id=room_id),
            what=f"the transcript of room {room_id}",
        )


def _send(send, *, give_back, what: str) -> None:
    try:
        send()
    except MAIL_ERRORS as error:
        give_back()
        pause = offline.mail_failed()
        logger.warning("could not mail %s (%s): tried again in %g s", what, error, pause)
    else:
        offline.mail_sent()


@shared_task(name="chat.tasks.reports_rollup", ignore_result=True)
def reports_rollup() -> None:
    """The owners' reports: the days that settled since the last run, rolled up (chat/reports.py)."""
    days = reports.rollup_settled(now=timezone.now())
    if days:
        logger.info("reports: %d days rolled up", days)
