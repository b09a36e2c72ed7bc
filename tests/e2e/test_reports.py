"""The owners' reports page (issue 25): an owner who also answers chats opens it from the panel's
bar, picks the days, and sees the charts drawn, the numbers in the table and a CSV link."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from chat.models import Room
from chat.tests.test_reports import room, utc
from tests.e2e.axe import assert_no_violations
from visitors.models import OnlineSample

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_owner_sees_a_sites_conversations_per_day_as_charts_and_a_table(web_server, site, peter, panel_for):
    get_user_model().objects.filter(pk=peter.user_id).update(is_staff=True)
    site.owners.add(peter.user)
    room(site, created_at=utc(5, 10), operator=peter, accept_after=20, reply_after=40, length=300, rating=3)
    room(site, created_at=utc(5, 12), status=Room.Status.EXPIRED, ended_at=utc(5, 12, 5))
    room(site, created_at=utc(6, 10), operator=peter, accept_after=10, reply_after=12, length=60, rating=5)
    # Beat's counts of visitors online: 4 and 6 on the 5th; on the 6th one that found no one
    # on the site (the install's row only); none on the 7th.
    OnlineSample.objects.bulk_create(
        [OnlineSample(site=site, at=at, visitors=n, operators=1) for at, n in ((utc(5, 10), 4), (utc(5, 14), 6))]
        + [
            OnlineSample(site=None, at=at, visitors=n, operators=1)
            for at, n in ((utc(5, 10), 4), (utc(5, 14), 6), (utc(6, 9), 0))
        ]
    )

    page = panel_for(peter)
    page.get_by_test_id("reports-link").click()
    page.wait_for_url("**/panel/reports/")
    page.get_by_test_id("report-from").fill("2026-01-05")
    page.get_by_test_id("report-to").fill("2026-01-08")
    page.get_by_test_id("report-show").click()

    rows = page.get_by_test_id("report-table").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("th, td")).to_have_text(
        ["2026-01-05", "2", "1", "1", "20", "20", "40", "40", "300", "1", "3", "6", "5"]
    )
    none = "\N{EN DASH}"  # a day without the number
    expect(rows.nth(1).locator("td").nth(-2)).to_have_text("0")  # a count that found no one
    expect(rows.nth(2).locator("th, td")).to_have_text(["2026-01-07", "0", "0", "0", *[none] * 5, "0", *[none] * 3])
    expect(page.get_by_test_id("report-table").locator("tfoot td").first).to_have_text("3")
    expect(page.locator("[data-total=rating_avg]")).to_have_text("4")
    expect(page.locator("[data-total=online_peak]")).to_have_text("6")

    # Visitors online, first: three days' hours, a dot for each hour a count was taken, the
    # days' dates under their midnights.
    online = page.locator(".report-chart").first.get_by_test_id("chart-online")
    dots = online.locator("svg circle")
    expect(dots).to_have_count(3)
    assert [dots.nth(i).get_attribute("data-value") for i in range(3)] == ["4", "6", "0"]
    expect(online.locator("svg text[text-anchor=middle]")).to_have_text(["2026-01-05", "2026-01-06", "2026-01-07"])

    # Two bars a day (conversations, missed), as tall as their numbers; five for the ratings.
    bars = page.get_by_test_id("chart-conversations").locator("svg rect")
    expect(bars).to_have_count(6)
    assert [bars.nth(i).get_attribute("data-value") for i in range(6)] == ["2", "1", "0", "1", "0", "0"]
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(2)]
    assert heights[0] == pytest.approx(2 * heights[1])
    # As drawn, too: no rule of the page's (its header's .bar had a height) sizes them.
    drawn = [bars.nth(i).bounding_box()["height"] for i in range(2)]
    assert drawn[0] == pytest.approx(2 * drawn[1], rel=0.05)
    expect(page.get_by_test_id("chart-times").locator("svg circle")).to_have_count(4)
    expect(page.get_by_test_id("chart-ratings").locator("svg rect")).to_have_count(5)

    link = page.get_by_test_id("report-csv")
    href = link.get_attribute("href")
    assert href == f"/api/sites/{site.pk}/reports.csv?from=2026-01-05&to=2026-01-08"
    csv = page.request.get(f"http://{web_server}{href}")
    assert csv.status == 200
    assert csv.headers["content-disposition"].startswith("attachment;")
    assert csv.text().splitlines()[-1] == "total,3,2,1,10.0,20.0,12.0,40.0,60.0,2,4.0,6,3.3"

    assert_no_violations(page, where="on the reports page")
