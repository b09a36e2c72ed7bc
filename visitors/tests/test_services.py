"""Arrivals and page views as the services write them (one conditional UPDATE; a page
view is one statement on PostgreSQL, two on SQLite): what the panel and the transcripts
then show."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import events
from chat.errors import NotFound
from tests.api import make_visitor
from visitors.models import PageView, Visitor
from visitors.services import visitor_arrive, visitor_page_view

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """The events the services publish, in order."""
    sent = []
    monkeypatch.setattr(events, "_publish", lambda sends: sent.extend(event for _, event in sends))
    return sent


def test_page_of_a_visitor_online_counts_one_more_page_of_the_same_visit(site, published):
    visit_started = timezone.now() - timedelta(minutes=5)
    linda = make_visitor(site, since=visit_started)  # online, one page seen

    visitor_page_view(visitor_id=linda.pk, url="http://shop.test/shoes", title="Shoes", referrer="http://a.test/")

    linda.refresh_from_db()
    assert (linda.url, linda.title, linda.referrer) == ("http://shop.test/shoes", "Shoes", "http://a.test/")
    assert (linda.pages, linda.since, linda.online) == (2, visit_started, True)
    assert list(PageView.objects.filter(visitor=linda).values_list("url", "title")) == [
        ("http://shop.test/shoes", "Shoes")
    ]
    [event] = published
    assert event["visitor"]["url"] == "http://shop.test/shoes"
    assert event["visitor"]["pages"] == 2
    assert event["visitor"]["since"] == visit_started.isoformat()


def test_page_of_a_visitor_marked_gone_starts_a_new_visit(site, published):
    linda = make_visitor(site, online=False, since=timezone.now() - timedelta(days=1))
    before = timezone.now()

    visitor_page_view(visitor_id=linda.pk, url="http://shop.test/", title="", referrer="")

    linda.refresh_from_db()
    assert linda.online
    assert linda.pages == 1
    assert linda.since >= before
    assert published[0]["visitor"]["online"] is True


def test_page_view_is_stored_with_the_time_the_panel_shows(site, published):
    linda = make_visitor(site)
    with CaptureQueriesContext(connection) as queries:
        visitor_page_view(visitor_id=linda.pk, url="http://shop.test/cart", title="Cart", referrer="")

    # One round trip and one commit on PostgreSQL (a data-modifying WITH); SQLite has none.
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    linda.refresh_from_db()
    [view] = PageView.objects.filter(visitor=linda)
    assert (view.url, view.title, view.at) == ("http://shop.test/cart", "Cart", linda.last_seen)


def test_page_of_an_unknown_visitor_is_refused_and_stores_nothing(site, published):
    linda = make_visitor(site)
    with pytest.raises(NotFound):
        visitor_page_view(visitor_id=linda.pk + 1000, url="http://shop.test/", title="", referrer="")
    assert not PageView.objects.exists()
    assert published == []


def test_hostile_page_text_is_stored_as_sent(site, published):
    linda = make_visitor(site)
    title = "'); DROP TABLE visitors_visitor; -- <script>alert(1)</script> \u202e"
    visitor_page_view(visitor_id=linda.pk, url="http://shop.test/?q=%27", title=title, referrer="")
    assert Visitor.objects.get(pk=linda.pk).title == title
    assert published[0]["visitor"]["title"] == title


def test_arrival_of_a_visitor_already_online_writes_and_publishes_nothing(site, published):
    linda = make_visitor(site)
    row = Visitor.objects.filter(pk=linda.pk).values().get()

    visitor_arrive(visitor=linda)

    assert Visitor.objects.filter(pk=linda.pk).values().get() == row
    assert published == []


def test_arrival_of_a_visitor_who_had_left_starts_a_visit_and_tells_the_panel(site, published):
    linda = make_visitor(site, online=False, since=timezone.now() - timedelta(days=1))

    visitor_arrive(visitor=linda)

    linda.refresh_from_db()
    assert (linda.online, linda.pages) == (True, 0)
    assert [event["type"] for event in published] == ["visitor"]
    assert published[0]["visitor"]["online"] is True
