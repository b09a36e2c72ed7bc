"""Data kept only as long as each site says (issue 25): page views, ended conversations with
their messages and files, and visitors with nothing left go, in batches, by the Celery beat
task; live rooms never."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import retention, tasks
from chat.models import Attachment, Message, Room
from chat.tests.test_files import stored_files
from integrations.models import Delivery, Webhook
from tests.api import client_for, error_of, make_message, make_room, make_user, make_visitor
from visitors.models import PageView, Site, Visitor

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def page_views(visitor: Visitor, *, days_ago: float, count: int = 1) -> list[PageView]:
    at = timezone.now() - days_ago * DAY
    return PageView.objects.bulk_create(
        PageView(visitor=visitor, url=f"http://shop.test/{days_ago}/{n}", at=at) for n in range(count)
    )


def ended_room(visitor: Visitor, *, days_ago: float, operator=None) -> Room:
    room = make_room(visitor, operator=operator, status=Room.Status.EXPIRED)
    Room.objects.filter(pk=room.pk).update(ended_at=timezone.now() - days_ago * DAY)
    return room


def with_file(room: Room) -> Attachment:
    name = default_storage.save("files/ab/photo.txt", ContentFile(b"a photo"))
    attachment = Attachment.objects.create(
        room=room, file=name, name="photo.txt", size=7, content_type="text/plain", at=timezone.now()
    )
    Message.objects.create(
        room=room, sender=Message.Sender.VISITOR, name="Visitor", body="", at=timezone.now(), attachment=attachment
    )
    return attachment


def purge(**kwargs):
    return retention.retention_purge(now=timezone.now(), **kwargs)


def test_page_views_older_than_the_sites_limit_go_and_younger_ones_stay(site, other_site):
    site.keep_page_views_days = 30
    site.save()
    other_site.keep_page_views_days = 0  # for ever
    other_site.save()
    linda, tom = make_visitor(site), make_visitor(other_site)
    page_views(linda, days_ago=31, count=3)
    recent = page_views(linda, days_ago=29, count=2)
    page_views(tom, days_ago=400)

    result = purge()

    assert result.page_views == 3
    assert set(PageView.objects.filter(visitor=linda)) == set(recent)
    assert PageView.objects.filter(visitor=tom).count() == 1
    assert purge().page_views == 0  # twice is harmless


def test_conversations_older_than_the_limit_go_with_their_messages_and_files_and_live_rooms_never(
    site, peter, media_root, django_capture_on_commit_callbacks
):
    site.keep_conversations_days = 365
    site.save()
    linda, tom, mary = make_visitor(site), make_visitor(site), make_visitor(site)
    old = ended_room(linda, days_ago=400, operator=peter)
    make_message(old, "My order 1234 never came")
    with_file(old)
    young = ended_room(tom, days_ago=100, operator=peter)
    make_message(young, "Hello")
    # A live room started long ago is never due, whatever its age.
    live = make_room(mary, operator=peter, created_at=timezone.now() - 900 * DAY)
    make_message(live, "Still here")
    with_file(live)
    assert len(stored_files(media_root)) == 2
    hook = Webhook.objects.create(site=site, url="https://hooks.example/", events=["room.ended"])
    for room in (old, young):
        Delivery.objects.create(webhook=hook, event="room.ended", room_id=room.pk, payload={"room": {"id": room.pk}})

    with django_capture_on_commit_callbacks(execute=True):
        result = purge()

    assert result.rooms == 1
    assert set(Room.objects.values_list("pk", flat=True)) == {young.pk, live.pk}
    assert not Message.objects.filter(room_id=old.pk).exists()
    assert Attachment.objects.filter(room_id=old.pk).count() == 0
    assert len(stored_files(media_root)) == 1  # the live room's file only
    assert Message.objects.filter(room=live).count() == 2
    assert list(Delivery.objects.values_list("room_id", flat=True)) == [young.pk]  # the webhooks' log too


def test_conversations_are_kept_for_ever_by_default(site, peter):
    assert Site._meta.get_field("keep_conversations_days").default == 0
    room = ended_room(make_visitor(site), days_ago=5000, operator=peter)
    assert purge().rooms == 0
    assert Room.objects.filter(pk=room.pk).exists()


def test_idle_visitors_go_only_with_nothing_left_and_offline_long_enough(site, peter):
    site.keep_idle_visitors_days = 30
    site.keep_page_views_days = 90
    site.save()
    long_ago = timezone.now() - 40 * DAY

    def visitor(*, online=False, last_seen=long_ago) -> Visitor:
        v = make_visitor(site, online=online)
        Visitor.objects.filter(pk=v.pk).update(last_seen=last_seen)
        return v

    idle = visitor()
    recent = visitor(last_seen=timezone.now() - 10 * DAY)
    online = visitor(online=True)
    with_views = visitor()
    page_views(with_views, days_ago=40)  # kept 90 days: the visitor stays with them
    with_room = visitor()
    ended_room(with_room, days_ago=40, operator=peter)  # conversations kept for ever

    result = purge()

    assert result.visitors == 1
    assert not Visitor.objects.filter(pk=idle.pk).exists()
    assert set(Visitor.objects.values_list("pk", flat=True)) == {recent.pk, online.pk, with_views.pk, with_room.pk}


def test_a_visitor_whose_views_and_conversations_went_leaves_in_the_same_run(site, peter):
    site.keep_page_views_days = site.keep_conversations_days = site.keep_idle_visitors_days = 30
    site.save()
    linda = make_visitor(site, online=False)
    Visitor.objects.filter(pk=linda.pk).update(last_seen=timezone.now() - 60 * DAY)
    page_views(linda, days_ago=60)
    ended_room(linda, days_ago=60, operator=peter)

    result = purge()

    assert (result.rooms, result.page_views, result.visitors) == (1, 1, 1)
    assert not Visitor.objects.filter(pk=linda.pk).exists()


def deletes_of(queries, table: str) -> int:
    return sum(1 for query in queries if query["sql"].upper().startswith("DELETE") and table in query["sql"])


def test_a_purge_deletes_in_bounded_batches_and_finishes_over_several_runs(site, settings):
    site.keep_page_views_days = 30
    site.save()
    settings.WP_RETENTION_BATCH = 10
    settings.WP_RETENTION_BATCHES = 3
    linda = make_visitor(site)
    page_views(linda, days_ago=31, count=45)
    kept = page_views(linda, days_ago=1, count=5)

    with CaptureQueriesContext(connection) as first:
        result = purge()
    assert (result.page_views, result.more) == (30, True)
    assert deletes_of(first.captured_queries, "visitors_pageview") == 3  # 10 rows each, no more
    assert PageView.objects.count() == 20

    result = purge()
    assert (result.page_views, result.more) == (15, False)
    assert set(PageView.objects.all()) == set(kept)
    assert purge().page_views == 0


def test_the_beat_task_purges(site):
    site.keep_page_views_days = 1
    site.save()
    page_views(make_visitor(site), days_ago=2, count=2)
    tasks.retention_purge()
    assert PageView.objects.count() == 0


# The settings -------------------------------------------------------------------------------


def test_an_owner_sets_the_retention_through_the_api_and_bad_values_are_refused(site):
    owner = make_user("owner", staff=True, owns=(site,))
    client = client_for(owner)
    shown = client.get(f"/api/sites/{site.pk}/").json()
    assert (shown["keep_page_views_days"], shown["keep_conversations_days"], shown["keep_idle_visitors_days"]) == (
        90,
        0,
        30,
    )
    response = client.patch(
        f"/api/sites/{site.pk}/", {"keep_page_views_days": 7, "keep_conversations_days": 365}, format="json"
    )
    assert response.status_code == 200, response.content
    site.refresh_from_db()
    assert (site.keep_page_views_days, site.keep_conversations_days, site.keep_idle_visitors_days) == (7, 365, 30)
    for bad in (-1, "soon", 10**9):
        response = client.patch(f"/api/sites/{site.pk}/", {"keep_page_views_days": bad}, format="json")
        assert response.status_code == 400, bad
        assert "keep_page_views_days" in str(error_of(response))
