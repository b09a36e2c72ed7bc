"""Visitors online over time (issue 25): beat counts every site's visitors and operators online,
a report reads each day's peak and average in the site's time zone (and a short range's hours),
and samples older than the reports read are purged."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from chat import tasks as chat_tasks
from operators.models import Operator
from tests.api import make_visitor
from visitors import online_history, tasks
from visitors.models import OnlineSample, Site

pytestmark = pytest.mark.django_db


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def run(at: datetime, counts: dict[Site, int]) -> None:
    """One beat run's rows, as online_sample writes them: the sites with anyone online, and the
    install's."""
    rows = [OnlineSample(site=site, at=at, visitors=n, operators=1) for site, n in counts.items()]
    rows.append(OnlineSample(site=None, at=at, visitors=sum(counts.values()), operators=1))
    OnlineSample.objects.bulk_create(rows)


@pytest.fixture
def paris(site):
    Site.objects.filter(pk=site.pk).update(timezone="Europe/Paris")
    return Site.objects.get(pk=site.pk)


@pytest.fixture
def samples(paris, other_site):
    """Runs over the 5th and 6th of January in Paris (UTC+1), and some just outside."""
    # The 5th in Paris is 23:00 UTC on the 4th to 23:00 UTC on the 5th.
    run(utc(1, 4, 23, 30), {paris: 4, other_site: 1})
    run(utc(1, 5, 10), {paris: 6, other_site: 50})
    run(utc(1, 5, 10, 30), {paris: 3})
    run(utc(1, 5, 12), {other_site: 2})  # no one on the site: 0
    run(utc(1, 5, 22, 59), {paris: 2})
    # Midnight in Paris: the 6th.
    run(utc(1, 5, 23), {paris: 10})
    run(utc(1, 6, 9), {paris: 1})
    # Outside: 23:00 on the 4th and midnight on the 8th in Paris.
    run(utc(1, 4, 22), {paris: 100})
    run(utc(1, 7, 23), {paris: 100})


def test_each_day_has_its_peak_and_average_of_visitors_online_in_the_sites_time_zone(paris, samples):
    online = online_history.site_online(site=paris, start=date(2026, 1, 5), end=date(2026, 1, 8))

    assert online.days == {
        # 4, 6, 3, 0 and 2: five runs.
        "2026-01-05": {"online_peak": 6, "online_avg": 3.0},
        "2026-01-06": {"online_peak": 10, "online_avg": 5.5},
        # No run at all that day: unknown, not 0.
        "2026-01-07": {"online_peak": None, "online_avg": None},
    }
    # 26 visitors over 7 runs.
    assert online.totals == {"online_peak": 10, "online_avg": 3.7}


def test_in_utc_the_same_samples_fall_on_other_days(paris, samples):
    paris.timezone = "UTC"
    online = online_history.site_online(site=paris, start=date(2026, 1, 5), end=date(2026, 1, 8))

    assert online.days == {
        "2026-01-05": {"online_peak": 10, "online_avg": 4.2},  # 6, 3, 0, 2, 10
        "2026-01-06": {"online_peak": 1, "online_avg": 1.0},
        "2026-01-07": {"online_peak": 100, "online_avg": 100.0},
    }


def test_a_short_range_has_each_hours_highest_sample(paris, samples, django_assert_num_queries):
    with django_assert_num_queries(2):
        online = online_history.site_online(site=paris, start=date(2026, 1, 5), end=date(2026, 1, 8))

    hours = online.hourly
    assert len(hours) == 72
    assert hours[0] == {"at": "2026-01-05T00:00:00+01:00", "visitors": 4}
    assert hours[1] == {"at": "2026-01-05T01:00:00+01:00", "visitors": None}  # no run that hour
    assert hours[11] == {"at": "2026-01-05T11:00:00+01:00", "visitors": 6}  # 6 and 3
    assert hours[13]["visitors"] == 0  # a run found no one
    assert [hours[23]["visitors"], hours[24]["visitors"], hours[34]["visitors"]] == [2, 10, 1]
    assert sum(hour["visitors"] is not None for hour in hours) == 6


def test_an_hour_is_an_hour_across_the_change_to_summer_time(paris):
    # On the 29th of March Paris skips from 02:00 to 03:00: the day has 23 hours.
    run(utc(3, 29, 1, 30), {paris: 7})
    online = online_history.site_online(site=paris, start=date(2026, 3, 29), end=date(2026, 3, 30))

    assert len(online.hourly) == 23
    assert online.hourly[2] == {"at": "2026-03-29T03:00:00+02:00", "visitors": 7}
    assert online.hourly[-1]["at"] == "2026-03-29T23:00:00+02:00"


def test_a_long_range_reads_its_days_in_one_query_and_draws_no_hours(paris, samples, django_assert_num_queries):
    with django_assert_num_queries(1):
        online = online_history.site_online(site=paris, start=date(2026, 1, 1), end=date(2026, 2, 1))

    assert online.hourly == []
    assert len(online.days) == 31
    assert online.days["2026-01-06"] == {"online_peak": 10, "online_avg": 5.5}
    assert online.totals == {"online_peak": 100, "online_avg": 25.1}  # 226 over 9 runs


# The beat task ---------------------------------------------------------------------------------


def test_the_beat_task_counts_each_sites_visitors_and_operators_online(
    site, other_site, make_site, peter, jane, olga, django_assert_num_queries
):
    for _ in range(3):
        make_visitor(site)
    make_visitor(site, online=False)
    make_visitor(other_site)
    make_site("quiet")  # no one there: no row
    # Peter serves both sites; Jane is offline.
    peter.sites.add(other_site)
    Operator.objects.filter(pk__in=[peter.pk, olga.pk]).update(online=True)

    with django_assert_num_queries(3):
        tasks.online_sample()

    rows = {row.site_id: (row.visitors, row.operators) for row in OnlineSample.objects.all()}
    assert rows == {site.pk: (3, 1), other_site.pk: (1, 2), None: (4, 2)}
    (at,) = set(OnlineSample.objects.values_list("at", flat=True))
    assert abs(at - timezone.now()) < timedelta(seconds=10)


def test_a_run_with_no_one_online_anywhere_still_counts_as_a_run(site):
    now = utc(1, 5, 10)
    assert online_history.online_sample(now=now) == 1
    online = online_history.site_online(site=site, start=date(2026, 1, 5), end=date(2026, 1, 6))
    assert online.days == {"2026-01-05": {"online_peak": 0, "online_avg": 0.0}}


# The purge -------------------------------------------------------------------------------------


def test_samples_older_than_the_longest_report_are_purged_in_batches(site, other_site):
    now = timezone.now()
    old, young = now - timedelta(days=401), now - timedelta(days=399)
    run(old, {site: 1, other_site: 2})
    run(old - timedelta(minutes=5), {site: 1})
    run(young, {site: 3})

    # Two rows a statement, one statement: the rest waits for the next run.
    assert online_history.online_samples_purge(now=now, batch=2, batches=1) == (2, True)
    assert online_history.online_samples_purge(now=now, batch=1000, batches=100) == (3, False)
    assert set(OnlineSample.objects.values_list("site_id", "visitors")) == {(None, 3), (site.pk, 3)}
    assert all(at == young for at in OnlineSample.objects.values_list("at", flat=True))


def test_the_daily_retention_purge_deletes_old_samples(site):
    run(timezone.now() - timedelta(days=401), {site: 1})
    run(timezone.now(), {site: 1})
    chat_tasks.retention_purge()
    assert OnlineSample.objects.count() == 2
