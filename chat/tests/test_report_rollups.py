"""The owners' reports from daily rollups (issue 25): a settled day's numbers are kept once
(ReportDay) and give the same report as its rooms; a later change to one of its rooms shows in
the next report; the days not settled yet are read from the rooms."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import privacy, reports, retention, services, tasks
from chat.models import ReportDay, Room
from chat.tests import test_reports
from chat.tests.test_reports import END, START, room, utc
from tests.api import make_visitor

pytestmark = pytest.mark.django_db

YEAR = (date(2026, 1, 1), date(2027, 1, 1))

paris = test_reports.paris  # the site, in Europe/Paris


@pytest.fixture
def january(paris, peter, jane):
    """Rooms of the 5th, 6th and 7th of January 2026 in Paris: settled days (they ended
    months ago)."""
    room(paris, created_at=utc(4, 23, 30), operator=peter, accept_after=10, reply_after=30, length=600, rating=5)
    room(paris, created_at=utc(5, 10), operator=jane, accept_after=20, reply_after=40, length=300, rating=3)
    room(paris, created_at=utc(5, 12), status=Room.Status.EXPIRED, ended_at=utc(5, 12, 5))
    room(paris, created_at=utc(5, 22, 59, 59), operator=peter, accept_after=30, reply_after=60)
    room(paris, created_at=utc(5, 23), status=Room.Status.PENDING, offline_at=utc(5, 23, 2))
    room(paris, created_at=utc(6, 10), operator=jane, accept_after=0, reply_after=15, length=60, routed=True)
    room(paris, created_at=utc(7, 9), operator=peter, accept_after=7, reply_after=9, length=45, rating=2)


def from_rooms(settings, **kwargs) -> dict:
    """The report with no day settled: every number read from the rooms, as before rollups."""
    settle = settings.WP_REPORT_SETTLE
    settings.WP_REPORT_SETTLE = 10 * 365 * 24 * 3600
    try:
        return reports.site_report(**kwargs)
    finally:
        settings.WP_REPORT_SETTLE = settle


def test_a_report_of_settled_days_equals_the_one_read_from_the_rooms(paris, january, settings):
    expected = from_rooms(settings, site=paris, start=START, end=END)
    assert not ReportDay.objects.exists()
    assert [day["conversations"] for day in expected["days"]] == [4, 2, 1]
    assert expected["totals"]["first_response_p50"] == 30.0

    assert reports.site_report(site=paris, start=START, end=END) == expected
    # Stored: a row a day of nobody's rooms (empty days too), one a day of each operator's.
    rows = ReportDay.objects.filter(site=paris, timezone="Europe/Paris")
    assert sorted((row.day.day, row.operator_id) for row in rows if row.operator_id == ReportDay.NOBODY) == [
        (5, 0),
        (6, 0),
        (7, 0),
    ]
    fifth = rows.get(day=date(2026, 1, 5), operator_id=january_operator(paris, "peter"))
    assert (fifth.conversations, fifth.accepted, fifth.accept, fifth.first_response) == (2, 2, [100, 300], [300, 600])
    assert fifth.stars == [0, 0, 0, 0, 1]

    # Read again: the rollups, the same numbers.
    assert reports.site_report(site=paris, start=START, end=END) == expected


def january_operator(site, username: str) -> int:
    return site.operators.get(user__username=username).pk


def test_an_operators_report_from_rollups_equals_the_one_from_rooms(paris, january, peter, jane, settings):
    reports.site_report(site=paris, start=START, end=END)  # the rollups, for all operators

    for operator in (peter, jane):
        expected = from_rooms(settings, site=paris, start=START, end=END, operator_id=operator.pk)
        assert reports.site_report(site=paris, start=START, end=END, operator_id=operator.pk) == expected
    peters = reports.site_report(site=paris, start=START, end=END, operator_id=peter.pk)
    assert [day["conversations"] for day in peters["days"]] == [2, 0, 1]
    assert peters["ratings"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}


def test_a_years_report_with_its_rollups_is_a_handful_of_queries(paris, january, peter):
    reports.site_report(site=paris, start=YEAR[0], end=YEAR[1])
    stored = ReportDay.objects.count()

    with CaptureQueriesContext(connection) as queries:
        report = reports.site_report(site=paris, start=YEAR[0], end=YEAR[1])
    # The rollups, then the rooms of the days not settled yet, then the visitors online by day.
    assert len(queries.captured_queries) == 3
    assert ReportDay.objects.count() == stored
    assert report["totals"]["conversations"] == 7
    with CaptureQueriesContext(connection) as queries:
        reports.site_report(site=paris, start=YEAR[0], end=YEAR[1], operator_id=peter.pk)
    assert len(queries.captured_queries) == 3


def test_the_days_not_settled_yet_are_read_from_the_rooms(paris, peter):
    now = timezone.now()
    zone = reports.ZoneInfo(paris.timezone)
    today = now.astimezone(zone).date()
    # Five minutes ago: yesterday in Paris when the test runs in the first five minutes of its day.
    started = now - timedelta(minutes=5)
    room(paris, created_at=started, operator=peter, accept_after=4, reply_after=6, length=60)

    report = reports.site_report(site=paris, start=today - timedelta(days=7), end=today + timedelta(days=1))

    by_date = {day["date"]: day for day in report["days"]}
    assert by_date[started.astimezone(zone).date().isoformat()]["conversations"] == 1
    assert report["totals"]["accept_p50"] == 4.0
    # The settled days of the week are kept; not today, nor yesterday.
    kept = set(ReportDay.objects.values_list("day", flat=True))
    assert today not in kept
    assert today - timedelta(days=1) not in kept
    assert today - timedelta(days=3) in kept


def test_a_late_rating_and_a_late_accept_show_in_the_next_report(paris, january, peter, settings):
    days_ago = timezone.now() - timedelta(days=5)
    today = timezone.now().astimezone(reports.ZoneInfo(paris.timezone)).date()
    week = (today - timedelta(days=8), today + timedelta(days=1))
    # An offline request of five days ago, and a chat of that day not rated yet.
    request = room(paris, created_at=days_ago, status=Room.Status.PENDING, offline_at=days_ago)
    chat = room(paris, created_at=days_ago + timedelta(hours=1), operator=peter, accept_after=3, length=30)
    reports.site_report(site=paris, start=START, end=END)
    before = reports.site_report(site=paris, start=week[0], end=week[1])
    assert (before["totals"]["accepted"], before["totals"]["missed"], before["totals"]["ratings"]) == (1, 1, 0)
    assert ReportDay.objects.filter(since__lte=days_ago, until__gt=days_ago).exists()

    services.room_rate(visitor_id=chat.visitor_id, room_id=chat.pk, rating=4)
    services.room_accept(room_id=request.pk, operator=peter)
    services.message_send_by_operator(room_id=request.pk, operator=peter, body="Sorry for the wait")

    after = reports.site_report(site=paris, start=week[0], end=week[1])
    totals = after["totals"]
    assert (totals["accepted"], totals["missed"], totals["ratings"], totals["rating_avg"]) == (2, 0, 1, 4.0)
    assert totals["accept_p95"] > 5 * 24 * 3600 - 60
    assert totals["first_response_p50"] > 5 * 24 * 3600 - 60
    # January's rollups were not touched.
    assert ReportDay.objects.filter(day=date(2026, 1, 5)).exists()


def test_a_live_chat_of_today_costs_no_query_for_the_rollups(paris, peter):
    chat = room(paris, created_at=timezone.now(), operator=peter, accept_after=0)
    with CaptureQueriesContext(connection) as queries:
        services.message_send_by_operator(room_id=chat.pk, operator=peter, body="Hello")
        services.message_send_by_operator(room_id=chat.pk, operator=peter, body="Again")
    assert not [query for query in queries.captured_queries if "reportday" in query["sql"].lower()]
    chat.refresh_from_db()
    assert chat.first_reply_at is not None
    assert chat.first_reply_at < timezone.now()


def test_a_time_zone_change_computes_the_days_again(paris, january):
    reports.site_report(site=paris, start=START, end=END)
    paris.timezone = "UTC"
    paris.save(update_fields=["timezone"])

    report = reports.site_report(site=paris, start=START, end=END)

    # 23:30 UTC on the 4th is outside now; 23:00 on the 5th falls on the 5th.
    assert [day["conversations"] for day in report["days"]] == [4, 1, 1]
    assert report["ratings"] == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 0}
    assert set(ReportDay.objects.values_list("timezone", flat=True)) == {"Europe/Paris", "UTC"}


def test_the_beat_task_rolls_up_the_settled_days(paris, january, other_site):
    room(other_site, created_at=utc(6, 12), status=Room.Status.EXPIRED, ended_at=utc(6, 13))

    tasks.reports_rollup()

    settled = timezone.now() - timedelta(days=2)
    last = settled.astimezone(reports.ZoneInfo("Europe/Paris")).date() - timedelta(days=1)
    days = ReportDay.objects.filter(site=paris, operator_id=ReportDay.NOBODY)
    # Since the site's first room (the 4th at 23:30 UTC: the 5th in Paris), the newest first, a
    # batch of days a run.
    assert days.order_by("-day").first().day == last
    assert days.count() == min((last - date(2026, 1, 5)).days + 1, 92)
    assert ReportDay.objects.filter(site=other_site).exists()

    # Run after run, the rest, down to the first room's day; then nothing is left to do.
    while reports.rollup_settled(now=timezone.now()):
        pass
    assert days.order_by("day").first().day == date(2026, 1, 5)
    with CaptureQueriesContext(connection) as queries:
        assert reports.site_report(site=paris, start=START, end=END)["totals"]["conversations"] == 7
    # The rollups only; the visitors online by day and by hour (a short range) are two more.
    assert len(queries.captured_queries) == 1 + 2


def test_a_rating_given_while_its_day_is_rolled_up_shows_in_the_next_report(paris, peter, monkeypatch):
    """The beat task read the day's rooms; the visitor rated their chat before it stored the day:
    the day's numbers without the rating are not kept."""
    chat = room(paris, created_at=utc(6, 10), operator=peter, accept_after=5, length=60)
    read_rooms = reports._from_rooms

    def rated_meanwhile(*args, **kwargs):
        groups = read_rooms(*args, **kwargs)
        services.room_rate(visitor_id=chat.visitor_id, room_id=chat.pk, rating=2)
        return groups

    monkeypatch.setattr(reports, "_from_rooms", rated_meanwhile)
    reports.site_report(site=paris, start=START, end=END)
    monkeypatch.setattr(reports, "_from_rooms", read_rooms)

    totals = reports.site_report(site=paris, start=START, end=END)["totals"]
    assert (totals["ratings"], totals["rating_avg"]) == (1, 2.0)
    # Stored by the report that saw the rating.
    assert ReportDay.objects.filter(site=paris, day=date(2026, 1, 6), operator_id=peter.pk).exists()


def test_rollups_computed_twice_at_once_are_stored_once(paris, january):
    zone = reports.ZoneInfo(paris.timezone)
    first = reports._rollup(paris, zone, START, END)
    stored = ReportDay.objects.count()
    # Another report computed the same days meanwhile: its rows are ignored, not an error.
    second = reports._rollup(paris, zone, START, END)
    assert ReportDay.objects.count() == stored
    assert first.keys() == second.keys()


def test_the_retention_and_an_erasure_keep_the_numbers(paris, january, owner_user):
    Room.objects.filter(site=paris).exclude(status=Room.Status.EXPIRED).update(
        status=Room.Status.EXPIRED, ended_at=utc(8, 1)
    )
    before = reports.site_report(site=paris, start=START, end=END)
    erased = Room.objects.filter(site=paris, rating=5).get()
    privacy.visitor_erase(user=owner_user, visitor_id=erased.visitor_id)
    paris.keep_conversations_days = 30
    paris.save(update_fields=["keep_conversations_days"])

    retention.retention_purge(now=timezone.now())

    assert not Room.objects.filter(site=paris).exists()
    assert reports.site_report(site=paris, start=START, end=END)["totals"] == before["totals"]


@pytest.fixture
def owner_user(paris):
    from tests.api import make_user

    return make_user("owner", staff=True, owns=(paris,))


def test_a_first_reply_is_kept_once(paris, peter):
    chat = room(paris, created_at=timezone.now(), operator=peter, accept_after=0)
    first = services.message_send_by_operator(room_id=chat.pk, operator=peter, body="Hello")
    services.message_send_by_operator(room_id=chat.pk, operator=peter, body="Again")
    chat.refresh_from_db()
    assert chat.first_reply_at == first.at


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_in_the_first_replies_of_the_rooms_before_it(site):
    from django.db.migrations.executor import MigrationExecutor

    visitors = [make_visitor(site), make_visitor(site)]
    executor = MigrationExecutor(connection)
    executor.migrate([("chat", "0018_room_site_created")])
    apps = executor.loader.project_state([("chat", "0018_room_site_created")]).apps
    before, message = apps.get_model("chat", "Room"), apps.get_model("chat", "Message")
    now = timezone.now()
    rooms = [
        before.objects.create(site_id=site.pk, visitor_id=visitor.pk, created_at=now, status="expired")
        for visitor in visitors
    ]
    for sender, seconds in (("visitor", 1), ("operator", 9), ("operator", 5), ("note", 2)):
        at = now + timedelta(seconds=seconds)
        message.objects.create(room_id=rooms[0].pk, sender=sender, name="x", body="x", at=at)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    answered, silent = (Room.objects.get(pk=made.pk) for made in rooms)
    assert answered.first_reply_at == now + timedelta(seconds=5)
    assert silent.first_reply_at is None
