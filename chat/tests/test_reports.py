"""Reports for owners (issue 25): a site's conversations per day in its time zone, on rooms made
with known times, so every number has a known answer; and the API that serves them, as JSON and
CSV, to the site's owners only."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from chat import reports
from chat.models import Message, Room
from tests.api import client_for, error_of, make_user, make_visitor
from visitors.models import OnlineSample

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 5), date(2026, 1, 8)  # three days, in Paris (UTC+1 in January)


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


def room(site, *, created_at, operator=None, accept_after=None, reply_after=None, length=None, **fields) -> Room:
    """A room made at `created_at`: taken from the pool `accept_after` seconds later unless
    said otherwise, its first operator message `reply_after` seconds after it was made, ended
    `length` seconds after the accept."""
    accepted_at = None if accept_after is None else created_at + timedelta(seconds=accept_after)
    if length is not None:
        fields["ended_at"] = accepted_at + timedelta(seconds=length)
    fields.setdefault("pooled_at", created_at)
    if reply_after is not None:
        # As message_send_by_operator keeps it, at the room's first operator message.
        fields["first_reply_at"] = created_at + timedelta(seconds=reply_after)
    if "status" not in fields:
        fields["status"] = Room.Status.EXPIRED if fields.get("ended_at") else Room.Status.ACTIVE
    made = Room.objects.create(
        site=site,
        visitor=make_visitor(site),
        operator=operator,
        created_at=created_at,
        accepted_at=accepted_at,
        **fields,
    )
    if reply_after is not None:
        Message.objects.create(
            room=made, sender="operator", name="Op", body="Hello", at=created_at + timedelta(seconds=reply_after)
        )
    return made


@pytest.fixture
def paris(site):
    site.timezone = "Europe/Paris"
    site.save(update_fields=["timezone"])
    return site


@pytest.fixture
def rooms(paris, peter, jane, other_site):
    """Seven conversations over the 5th and 6th of January in Paris, and some just outside."""
    # The 5th in Paris is 23:00 UTC on the 4th to 23:00 UTC on the 5th.
    first = room(
        paris, created_at=utc(4, 23, 30), operator=peter, accept_after=10, reply_after=30, length=600, rating=5
    )
    # What comes before the first operator message, and after it, is not the first response.
    Message.objects.create(room=first, sender="visitor", name="V", body="Hi", at=utc(4, 23, 30, 5))
    Message.objects.create(room=first, sender="note", name="Op", body="VIP", at=utc(4, 23, 30, 8))
    Message.objects.create(room=first, sender="operator", name="Op", body="More", at=utc(4, 23, 32))
    room(paris, created_at=utc(5, 10), operator=jane, accept_after=20, reply_after=40, length=300, rating=3)
    room(paris, created_at=utc(5, 12), status=Room.Status.EXPIRED, ended_at=utc(5, 12, 5))  # missed
    room(paris, created_at=utc(5, 22, 59, 59), operator=peter, accept_after=30, reply_after=60)  # still on
    # Midnight in Paris: the 6th. An offline request no one answered yet: missed.
    room(paris, created_at=utc(5, 23), status=Room.Status.PENDING, offline_at=utc(5, 23, 2))
    # Peter started this one himself: no accept, no first response, but its length counts.
    room(
        paris,
        created_at=utc(6, 9),
        operator=peter,
        accept_after=0,
        reply_after=5,
        length=120,
        pooled_at=None,
        rating=4,
        window_opened=False,
    )
    # Routing gave it to Jane at once.
    room(
        paris,
        created_at=utc(6, 10),
        operator=jane,
        accept_after=0,
        reply_after=15,
        length=60,
        pooled_at=None,
        routed=True,
    )
    # Outside: 23:00 on the 4th and midnight on the 8th in Paris; another site's.
    room(paris, created_at=utc(4, 22), operator=peter, accept_after=1, reply_after=1, length=1, rating=1)
    room(paris, created_at=utc(7, 23), operator=peter, accept_after=1, reply_after=1, length=1, rating=1)
    room(other_site, created_at=utc(5, 12), status=Room.Status.EXPIRED, rating=1)


EMPTY = {
    "conversations": 0,
    "accepted": 0,
    "missed": 0,
    "accept_p50": None,
    "accept_p95": None,
    "first_response_p50": None,
    "first_response_p95": None,
    "length_p50": None,
    "ratings": 0,
    "rating_avg": None,
    # No sample of visitors online (visitors/tests/test_online_history.py): unknown.
    "online_peak": None,
    "online_avg": None,
}


def test_a_sites_report_counts_each_conversation_on_its_day_in_the_sites_time_zone(paris, rooms):
    report = reports.site_report(site=paris, start=START, end=END)

    assert report["days"] == [
        {
            "date": "2026-01-05",
            "conversations": 4,
            "accepted": 3,
            "missed": 1,
            "accept_p50": 20.0,
            "accept_p95": 30.0,
            "first_response_p50": 40.0,
            "first_response_p95": 60.0,
            "length_p50": 300.0,
            "ratings": 2,
            "rating_avg": 4.0,
            "online_peak": None,
            "online_avg": None,
        },
        {
            "date": "2026-01-06",
            "conversations": 3,
            "accepted": 2,
            "missed": 1,
            "accept_p50": 0.0,
            "accept_p95": 0.0,
            "first_response_p50": 15.0,
            "first_response_p95": 15.0,
            "length_p50": 60.0,
            "ratings": 1,
            "rating_avg": 4.0,
            "online_peak": None,
            "online_avg": None,
        },
        {"date": "2026-01-07", **EMPTY},
    ]
    assert report["totals"] == {
        "conversations": 7,
        "accepted": 5,
        "missed": 2,
        "accept_p50": 10.0,
        "accept_p95": 30.0,
        "first_response_p50": 30.0,
        "first_response_p95": 60.0,
        "length_p50": 120.0,
        "ratings": 3,
        "rating_avg": 4.0,
        "online_peak": None,
        "online_avg": None,
    }
    assert report["ratings"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert (report["from"], report["to"], report["timezone"]) == ("2026-01-05", "2026-01-08", "Europe/Paris")


def test_in_utc_the_same_rooms_fall_on_other_days(paris, rooms):
    paris.timezone = "UTC"
    report = reports.site_report(site=paris, start=START, end=END)

    # 23:30 UTC on the 4th is outside; 23:00 on the 5th and 23:00 on the 7th are in.
    assert [day["conversations"] for day in report["days"]] == [4, 2, 1]
    assert report["ratings"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 0}


def test_an_operators_report_has_only_their_conversations(paris, rooms, peter):
    report = reports.site_report(site=paris, start=START, end=END, operator_id=peter.pk)

    fifth, sixth, seventh = report["days"]
    assert (fifth["conversations"], fifth["accepted"], fifth["missed"]) == (2, 2, 0)
    assert (fifth["accept_p50"], fifth["accept_p95"], fifth["first_response_p50"]) == (10.0, 30.0, 30.0)
    assert (fifth["length_p50"], fifth["ratings"], fifth["rating_avg"]) == (600.0, 1, 5.0)
    assert (sixth["conversations"], sixth["accept_p50"], sixth["first_response_p50"]) == (1, None, None)
    assert (sixth["length_p50"], sixth["rating_avg"]) == (120.0, 4.0)
    assert seventh == {"date": "2026-01-07", **EMPTY}
    assert report["totals"]["rating_avg"] == 4.5
    assert report["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}


def test_percentiles_are_the_nearest_rank():
    values = [float(n) for n in range(20, 0, -1)]
    assert reports.percentile(values, 50) == 10.0
    assert reports.percentile(values, 95) == 19.0
    assert reports.percentile([7.0], 95) == 7.0
    assert reports.percentile([], 50) is None


# The API -------------------------------------------------------------------------------


@pytest.fixture
def owner(paris):
    return make_user("owner", staff=True, owns=(paris,))


def url(site, suffix="reports/", **params) -> str:
    query = {"from": "2026-01-05", "to": "2026-01-08", **params}
    return f"/api/sites/{site.pk}/{suffix}?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_an_owner_gets_the_report_as_json(paris, rooms, owner, jane):
    response = client_for(owner).get(url(paris))

    assert response.status_code == 200, response.content
    body = response.json()
    assert [day["conversations"] for day in body["days"]] == [4, 3, 0]
    assert body["totals"]["accept_p95"] == 30.0
    assert body["ratings"]["5"] == 1

    just_jane = client_for(owner).get(url(paris, operator=jane.pk)).json()
    assert [day["conversations"] for day in just_jane["days"]] == [1, 1, 0]
    assert just_jane["totals"]["rating_avg"] == 3.0


def test_an_owner_downloads_the_report_as_csv(paris, rooms, owner):
    response = client_for(owner).get(url(paris, suffix="reports.csv"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="whitepanel-site{paris.pk}-2026-01-05-2026-01-08.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == reports.COLUMNS
    assert rows[1] == ["2026-01-05", "4", "3", "1", "20.0", "30.0", "40.0", "60.0", "300.0", "2", "4.0", "", ""]
    assert rows[3] == ["2026-01-07", "0", "0", "0", "", "", "", "", "", "0", "", "", ""]
    assert rows[4] == ["total", "7", "5", "2", "10.0", "30.0", "30.0", "60.0", "120.0", "3", "4.0", "", ""]
    assert len(rows) == 5


def test_the_sites_operators_are_refused_its_reports(paris, rooms, peter):
    for suffix in ("reports/", "reports.csv"):
        response = client_for(peter.user).get(url(paris, suffix=suffix))
        assert response.status_code == 403
        assert error_of(response)["code"] == "not_allowed"


def test_another_sites_owner_finds_no_such_site(paris, rooms, other_site):
    stranger = make_user("stranger", staff=True, owns=(other_site,))
    response = client_for(stranger).get(url(paris))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-13-01"},
        {"to": "yesterday"},
        {"from": "2026-01-08", "to": "2026-01-08"},
        {"from": "2026-01-09"},
        {"from": "2025-01-01", "to": "2026-01-03"},  # 367 days
    ],
)
def test_bad_dates_are_refused(paris, owner, params):
    response = client_for(owner).get(url(paris, **params))
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


def test_a_year_with_its_leap_day_is_allowed(paris, owner):
    body = client_for(owner).get(url(paris, **{"from": "2028-01-01", "to": "2029-01-01"})).json()
    assert len(body["days"]) == 366
    assert body["totals"] == EMPTY


def test_an_operator_of_another_site_is_refused(paris, owner, olga):
    response = client_for(owner).get(url(paris, operator=olga.pk))
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


# The page ------------------------------------------------------------------------------


def test_the_reports_page_is_for_owners(paris, owner, peter, client):
    client.force_login(owner)
    page = client.get("/panel/reports/")
    assert page.status_code == 200
    assert b'id="report-site"' in page.content
    assert paris.name.encode() in page.content
    assert b"panel/reports.js" in page.content

    client.force_login(peter.user)
    assert client.get("/panel/reports/").status_code == 403
    client.logout()
    assert client.get("/panel/reports/").status_code == 302


def test_the_panels_bar_links_to_the_reports_for_an_owner_only(paris, peter, client):
    client.force_login(peter.user)
    assert b'data-testid="reports-link"' not in client.get("/panel/").content
    peter.user.is_staff = True
    peter.user.save(update_fields=["is_staff"])
    paris.owners.add(peter.user)
    assert b'data-testid="reports-link"' in client.get("/panel/").content


# Visitors online (visitors/online_history.py) ----------------------------------------------


@pytest.fixture
def online_samples(paris, other_site):
    """Three runs on the 5th of January in Paris (4, 8, 0 visitors: the last found only the other
    site's), one on the 6th (3); none on the 7th."""
    rows = [
        (paris, utc(5, 9), 4),
        (paris, utc(5, 15), 8),
        (other_site, utc(5, 20), 5),
        (paris, utc(6, 10), 3),
    ]
    OnlineSample.objects.bulk_create(
        [OnlineSample(site=site, at=at, visitors=n, operators=0) for site, at, n in rows]
        + [OnlineSample(site=None, at=at, visitors=n, operators=0) for _, at, n in rows]
    )


def test_the_report_has_each_days_visitors_online_peak_and_average(paris, online_samples, owner):
    body = client_for(owner).get(url(paris)).json()

    assert [(day["online_peak"], day["online_avg"]) for day in body["days"]] == [(8, 4.0), (3, 3.0), (None, None)]
    assert (body["totals"]["online_peak"], body["totals"]["online_avg"]) == (8, 3.8)  # 15 over 4 runs
    hours = body["online_hourly"]
    assert len(hours) == 72
    assert hours[10] == {"at": "2026-01-05T10:00:00+01:00", "visitors": 4}
    assert [hours[16]["visitors"], hours[21]["visitors"], hours[35]["visitors"]] == [8, 0, 3]


def test_an_operators_report_has_the_sites_visitors_online(paris, online_samples, owner, jane):
    body = client_for(owner).get(url(paris, operator=jane.pk)).json()

    assert body["totals"]["conversations"] == 0
    assert [day["online_peak"] for day in body["days"]] == [8, 3, None]
    assert body["totals"]["online_avg"] == 3.8


def test_a_range_longer_than_a_week_has_no_hours(paris, online_samples, owner):
    body = client_for(owner).get(url(paris, **{"from": "2026-01-01", "to": "2026-01-09"})).json()

    assert body["online_hourly"] == []
    assert [day["online_peak"] for day in body["days"]][4:7] == [8, 3, None]


def test_the_csv_has_the_visitors_online_columns(paris, online_samples, owner):
    response = client_for(owner).get(url(paris, suffix="reports.csv"))

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == reports.COLUMNS
    assert rows[0][-2:] == ["online_peak", "online_avg"]
    assert [row[-2:] for row in rows[1:]] == [["8", "4.0"], ["3", "3.0"], ["", ""], ["8", "3.8"]]
