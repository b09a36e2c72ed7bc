"""Business hours (issue 25, part 5): a site's time zone, weekly hours and closed days. Outside
them the snippet says nobody can answer and when the team is back, requests become offline
requests, and the panels do not alert; the site opens and closes by itself, at the sweep."""

from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.availability import sites_hours_update
from chat.tests.test_stranded import says
from tests.api import client_for, error_of, make_user
from tests.sockets import of_type
from visitors import services
from visitors.hours import next_open, open_now
from visitors.models import Site
from visitors.tests.test_admin import site_form

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def a_site(**fields) -> Site:
    return Site(key="shop", name="Shop", **fields)


# When a site is open ------------------------------------------------------------------


def test_a_site_without_hours_is_always_open():
    site = a_site()
    for moment in ("2026-12-25T03:00:00+00:00", "2026-06-06T23:59:00+00:00"):
        assert open_now(site, at(moment))
        assert next_open(site, at(moment)) is None


def test_weekly_hours_in_the_sites_time_zone():
    site = a_site(timezone="Europe/Paris", hours=WEEKDAYS)
    # Monday 7 December 2026, Paris is UTC+1 in winter.
    assert not open_now(site, at("2026-12-07T07:59:00+00:00"))  # 08:59 in Paris
    assert next_open(site, at("2026-12-07T07:59:00+00:00")) == at("2026-12-07T08:00:00+00:00")
    assert open_now(site, at("2026-12-07T08:00:00+00:00"))
    assert next_open(site, at("2026-12-07T08:00:00+00:00")) is None
    assert open_now(site, at("2026-12-07T15:59:00+00:00"))
    assert not open_now(site, at("2026-12-07T16:00:00+00:00"))  # 17:00: closed
    # Friday evening: back on Monday at 09:00.
    assert next_open(site, at("2026-12-11T18:00:00+00:00")) == at("2026-12-14T08:00:00+00:00")


def test_hours_keep_the_wall_clock_across_daylight_saving_changes():
    site = a_site(timezone="Europe/Paris", hours={day: [["09:00", "17:00"]] for day in ("sat", "sun", "mon")})
    # Paris moves to summer time in the night of Saturday 28 to Sunday 29 March 2026.
    assert open_now(site, at("2026-03-28T08:00:00+00:00"))  # 09:00 winter time
    assert open_now(site, at("2026-03-29T07:00:00+00:00"))  # 09:00 summer time
    assert not open_now(site, at("2026-03-29T06:59:00+00:00"))  # 08:59 summer time
    assert next_open(site, at("2026-03-28T17:00:00+00:00")) == at("2026-03-29T07:00:00+00:00")
    # And back to winter time on Sunday 25 October 2026.
    assert next_open(site, at("2026-10-24T18:00:00+00:00")) == at("2026-10-25T08:00:00+00:00")
    assert not open_now(site, at("2026-10-25T07:30:00+00:00"))  # 08:30 winter time


def test_a_night_across_midnight_is_two_ranges_and_a_closed_day_is_closed():
    site = a_site(
        timezone="America/New_York",
        hours={"fri": [["22:00", "24:00"]], "sat": [["00:00", "02:00"]]},
        closed_days=["2026-12-25"],
    )
    # Friday 4 December 2026 23:30 and Saturday 01:30 in New York (UTC-5): open.
    assert open_now(site, at("2026-12-05T04:30:00+00:00"))
    assert open_now(site, at("2026-12-05T06:30:00+00:00"))
    assert not open_now(site, at("2026-12-05T07:00:00+00:00"))  # Saturday 02:00
    assert next_open(site, at("2026-12-05T07:00:00+00:00")) == at("2026-12-12T03:00:00+00:00")
    # Christmas is a Friday: closed, so its night opens only at Saturday's midnight.
    assert not open_now(site, at("2026-12-26T04:30:00+00:00"))
    assert next_open(site, at("2026-12-25T20:00:00+00:00")) == at("2026-12-26T05:00:00+00:00")


# Owners set them: the API and admin, one check ---------------------------------------


@pytest.mark.django_db
def test_owners_set_the_hours_over_the_api_and_bad_ones_are_refused_with_a_reason(site):
    owner = make_user("owner", staff=True, owns=(site,))
    client = client_for(owner)
    url = f"/api/sites/{site.pk}/"
    for bad, says_what in [
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"hours": {"mon": [["17:00", "09:00"]]}}, "closes before it opens"),
        ({"hours": {"monday": [["09:00", "17:00"]]}}, "not a weekday"),
        ({"hours": {"mon": [["9am", "17:00"]]}}, "not a time"),
        ({"hours": {"mon": [["09:00", "25:00"]]}}, "not a time of day"),
        ({"hours": {"mon": []}}, "never open"),
        ({"hours": ["09:00", "17:00"]}, "object of weekdays"),
        ({"closed_days": ["25/12/2026"]}, "not a date"),
    ]:
        response = client.patch(url, bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert says_what in str(response.json()), (bad, response.json())
    site.refresh_from_db()
    assert (site.timezone, site.hours, site.closed_days) == ("UTC", {}, [])

    good = {"timezone": "Europe/Paris", "hours": WEEKDAYS, "closed_days": ["2026-12-25"]}
    response = client.patch(url, good, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["timezone"], body["hours"], body["closed_days"]) == ("Europe/Paris", WEEKDAYS, ["2026-12-25"])
    assert body["open_now"] is open_now(Site.objects.get(pk=site.pk), timezone.now())
    assert (body["back_at"] is None) is body["open_now"]
    # Operators read them, do not change them.
    operator = make_user("op", staff=False)
    operator_client = client_for(operator)
    refused = operator_client.patch(url, {"hours": {}}, format="json")
    assert refused.status_code in (403, 404)
    assert error_of(refused)


@pytest.mark.django_db
def test_admin_edits_the_hours_and_says_what_is_wrong(client, site):
    owner = make_user("owner", staff=True, owns=(site,))
    client.force_login(owner)
    url = f"/admin/visitors/site/{site.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="hours"' in page.content
    assert b"Europe/Paris" in page.content
    form = site_form(site, timezone="Europe/Paris", hours='{"sat": [["14:00", "10:00"]]}', closed_days="[]")
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "closes before it opens" in refused.content.decode()
    form["hours"] = '{"sat": [["10:00", "14:00"]]}'
    assert client.post(url, form).status_code == 302
    site.refresh_from_db()
    assert site.hours == {"sat": [["10:00", "14:00"]]}
    assert site.timezone == "Europe/Paris"


# Outside the hours: offline, said so, no alert -----------------------------------------


def _close_today(site_id: int) -> None:
    today = timezone.now().astimezone(UTC).date()
    # Closed today and tomorrow, open from the day after: a moment nobody can mistake.
    days = [today.isoformat(), (today + timedelta(days=1)).isoformat()]
    Site.objects.filter(pk=site_id).update(closed_days=days)


def _reopen(site_id: int) -> None:
    Site.objects.filter(pk=site_id).update(closed_days=[])


@pytest.mark.django_db(transaction=True)
async def test_outside_its_hours_the_site_is_offline_says_when_it_is_back_and_flips_by_itself(
    sockets, site, peter, sweeper
):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    assert linda.welcome["site"]["online"] is True
    assert linda.welcome["site"]["back_at"] is None

    # Nobody connects: the sweep closes the site and tells its snippets.
    await database_sync_to_async(_close_today)(site.pk)
    wait = settings.WP_SWEEP_INTERVAL + 3
    closed = await linda.expect(of_type("site", site__online=False), timeout=wait)
    back_at = datetime.fromisoformat(closed["site"]["back_at"])
    today = timezone.now().astimezone(UTC).date()
    assert back_at == datetime.combine(today + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    # A visitor arriving now is told in the welcome.
    mary = await sockets.visitor()
    assert mary.welcome["site"]["online"] is False
    assert mary.welcome["site"]["back_at"] == closed["site"]["back_at"]

    # Linda asks anyway: a request in the pool marked after hours (the panel does not alert for
    # it), which the sweep makes an offline request, as with nobody online.
    await says(linda, "Are you open?", "v-1")
    pending = (await panel.expect(of_type("room", room__visitor=linda.welcome["visitor"])))["room"]
    assert pending["status"] == "pending"
    assert pending["after_hours"] is True
    marked = await linda.expect(of_type("room", room__id=pending["id"], room__status="pending"), timeout=wait)
    while marked["room"]["offline_at"] is None:
        marked = await linda.expect(of_type("room", room__id=pending["id"]), timeout=wait)

    # The site opens again by itself.
    await database_sync_to_async(_reopen)(site.pk)
    opened = await mary.expect(of_type("site", site__online=True), timeout=wait)
    assert opened["site"]["back_at"] is None
    assert (await database_sync_to_async(Site.objects.get)(pk=site.pk)).hours_open


@pytest.mark.django_db
def test_the_sweep_changes_only_sites_whose_state_changed_and_only_once(site, make_site):
    always = make_site("always")
    now = timezone.now()
    services.site_update(
        site_id=site.pk,
        user=make_user("owner", staff=True, owns=(site,)),
        hours={"sun": [["10:00", "11:00"]]},
        timezone_name="UTC",
    )
    sunday_morning = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
    monday = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    assert sites_hours_update(now=sunday_morning) == []  # open, as it was
    assert [s.pk for s in sites_hours_update(now=monday)] == [site.pk]
    assert sites_hours_update(now=monday) == []  # told once
    assert not Site.objects.get(pk=site.pk).hours_open
    assert Site.objects.get(pk=always.pk).hours_open
    assert [s.pk for s in sites_hours_update(now=sunday_morning + timedelta(days=7))] == [site.pk]
    # Hours removed while closed: open again at the next sweep, and open for good.
    sites_hours_update(now=monday)
    Site.objects.filter(pk=site.pk).update(hours={})
    assert [s.pk for s in sites_hours_update(now=now)] == [site.pk]
    assert Site.objects.get(pk=site.pk).hours_open
