"""Arrivals and page views as the services write them (one conditional UPDATE; a page view
is the visitor's row, its page view and one read back, the same statements on SQLite and
PostgreSQL): what the panel and the transcripts then show."""

import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import events
from chat.models import Room
from chat.visiting import visitor_arrive, visitor_leave, visitor_page_view, visitor_welcome_known
from infra.errors import NotFound
from tests.api import make_room, make_visitor
from visitors.models import PageView, Visitor, hash_token
from visitors.presence import visitor_presence

pytestmark = pytest.mark.django_db


# What a hello carrying its page says of it.
PAGE = {"url": "http://shop.test/boots", "title": "Boots", "referrer": "https://search.test/"}


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements run, without transaction control (SQLite's BEGIN and COMMIT are captured,
    PostgreSQL's are not): the same list on both databases."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [query["sql"] for query in queries if not query["sql"].upper().startswith(control)]


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

    # The visitor's row, the page view (one commit), and the row read back with their rooms' ids.
    assert [sql.split()[0] for sql in statements(queries)] == ["UPDATE", "INSERT", "SELECT"]
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


def test_arrival_brings_the_visitors_live_room_with_its_operator(site, peter, published):
    linda = make_visitor(site)
    make_room(make_visitor(site), operator=peter)  # someone else's
    make_room(linda, status=Room.Status.EXPIRED)
    room = make_room(linda, operator=peter)

    _, arrived_in = visitor_arrive(visitor=linda)

    assert (arrived_in.pk, arrived_in.operator.name) == (room.pk, peter.name)


def test_a_known_visitors_next_page_is_welcomed_without_identifying_them_with_their_token_checked(site, published):
    linda = make_visitor(site)
    Visitor.objects.filter(pk=linda.pk).update(token_hash=hash_token("lindas-token"))

    with CaptureQueriesContext(connection) as queries:
        visitor, room, messages = visitor_welcome_known(visitor_id=linda.pk, token="lindas-token", page=PAGE, history=0)

    # The page view's three statements, the first of them checking the token: no read first.
    assert [sql.split()[0] for sql in statements(queries)] == ["UPDATE", "INSERT", "SELECT"]
    assert (visitor.pk, visitor.url, visitor.pages, room, messages) == (linda.pk, PAGE["url"], 2, None, [])
    assert [event["visitor"]["url"] for event in published] == [PAGE["url"]]


def test_a_token_no_longer_the_visitors_welcomes_nobody_and_writes_nothing(site, published):
    # Rotated in another process since this one remembered it, say.
    linda = make_visitor(site)

    assert visitor_welcome_known(visitor_id=linda.pk, token="an-old-token", page=PAGE, history=None) is None

    linda.refresh_from_db()
    assert (linda.url, linda.pages) == ("http://shop.test/", 1)
    assert not PageView.objects.filter(visitor=linda).exists()
    assert published == []


def test_arrival_of_a_visitor_online_without_a_room_writes_nothing_and_reads_once(site, published):
    linda = make_visitor(site)
    make_room(linda, status=Room.Status.EXPIRED)
    with CaptureQueriesContext(connection) as queries:
        _, room = visitor_arrive(visitor=linda)

    assert room is None
    # The conditional UPDATE (which matches no row) and the live room's id.
    assert len(statements(queries)) == 2


def test_arrival_on_a_page_of_a_visitor_who_had_left_starts_a_visit_on_it_in_one_event(site, peter, published):
    """A hello that carries its page: the arrival and the page view are one write, one event."""
    linda = make_visitor(site, online=False, since=timezone.now() - timedelta(days=1))
    Visitor.objects.filter(pk=linda.pk).update(pages=7)  # the last visit's
    room = make_room(linda, operator=peter)

    _, arrived_in = visitor_arrive(visitor=linda, page=PAGE)

    assert arrived_in.pk == room.pk
    linda.refresh_from_db()
    assert (linda.online, linda.pages, linda.url, linda.title) == (True, 1, PAGE["url"], PAGE["title"])
    assert linda.since > timezone.now() - timedelta(minutes=1)
    assert [event["type"] for event in published] == ["visitor"]
    assert (published[0]["visitor"]["url"], published[0]["visitor"]["pages"]) == (PAGE["url"], 1)
    assert published[0]["visitor"]["room"]["id"] == room.pk
    assert list(PageView.objects.filter(visitor=linda).values_list("url", flat=True)) == [PAGE["url"]]


def test_arrival_on_a_page_of_a_visitor_online_counts_one_more_page_of_the_visit(site, published):
    linda = make_visitor(site)
    visitor_page_view(visitor_id=linda.pk, url="http://shop.test/", title="Home", referrer="")
    linda.refresh_from_db()

    visitor_arrive(visitor=linda, page=PAGE)

    arrived = Visitor.objects.get(pk=linda.pk)
    assert (arrived.pages, arrived.url, arrived.since) == (linda.pages + 1, PAGE["url"], linda.since)
    assert [event["visitor"]["url"] for event in published] == ["http://shop.test/", PAGE["url"]]


def test_arrival_on_a_page_of_a_visitor_deleted_meanwhile_is_refused_and_stores_nothing(site, published):
    linda = make_visitor(site)
    Visitor.objects.filter(pk=linda.pk).delete()
    with pytest.raises(NotFound):
        visitor_arrive(visitor=linda, page=PAGE)
    assert not PageView.objects.exists()
    assert published == []


def test_arrival_on_a_page_reads_the_last_room_for_the_history_with_its_page_view(site, published):
    """What a hello's history needs comes with the arrival: one who never chatted costs no query."""
    linda = make_visitor(site)
    make_room(linda, status=Room.Status.EXPIRED)
    newest = make_room(linda, status=Room.Status.EXPIRED)
    with CaptureQueriesContext(connection) as queries:
        visitor, room = visitor_arrive(visitor=linda, page=PAGE)

    assert (room, visitor.last_room_id) == (None, newest.pk)
    assert len(statements(queries)) == 3
    stranger, _ = visitor_arrive(visitor=make_visitor(site), page=PAGE)
    assert stranger.last_room_id is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page", [None, PAGE], ids=["hello", "hello-with-page"])
def test_a_visitor_back_while_the_sweep_lets_them_go_ends_online(site, published, monkeypatch, page):
    """The sweep checks for a socket under the visitor's row lock and finds none; the visitor's
    new page opens right then, before the sweep commits. They end online, not gone from
    every panel while on the site."""
    linda = make_visitor(site)  # online in the database, no socket: due to leave
    arrival = threading.Thread(target=_arrive, args=(linda.pk, page))
    checked = []

    def connected_among(member_ids: list[int]) -> set[int]:
        checked.append(member_ids)
        if len(checked) == 1:  # the sweep's check, under the lock: the page opens now
            redis_client().sadd(visitor_presence._conns_key(linda.pk), "tab-1")
            arrival.start()
            # PostgreSQL: the arrival sees the visitor online in its snapshot and returns
            # at once. SQLite: it waits for the sweep's write lock, and comes after it.
            arrival.join(0.5)
            return set()
        return real_connected_among(member_ids)

    real_connected_among = visitor_presence.connected_among
    monkeypatch.setattr(visitor_presence, "connected_among", connected_among)

    assert visitor_leave(visitor_id=linda.pk, now=timezone.now())
    arrival.join(10)

    linda.refresh_from_db()
    assert linda.online
    # With a page the arrival writes whether or not the visitor is online: the sweep's second
    # look may come before or after it, one more event then.
    assert [event["type"] for event in published] in (["visitor_gone", "visitor"], ["visitor_gone"] + ["visitor"] * 2)
    assert published[-1]["visitor"]["online"] is True
    if page is None:
        assert len(published) == 2


def _arrive(visitor_id: int, page: dict | None) -> None:
    try:
        visitor_arrive(visitor=Visitor.objects.get(pk=visitor_id), page=page)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page", [None, PAGE], ids=["hello", "hello-with-page"])
def test_a_visitor_back_after_the_sweep_is_told_of_no_room_it_ended(site, peter, published, page):
    """An arrival that waited for the visitor's row (held while their room was ended) answers
    with the room as it is after the wait: on PostgreSQL its statement's snapshot, taken
    before the wait, still saw the room live."""
    linda = make_visitor(site, online=False)
    room = make_room(linda, operator=peter)
    row_held, end_the_room = threading.Event(), threading.Event()

    def room_ending():
        try:
            with transaction.atomic():
                Visitor.objects.select_for_update().get(pk=linda.pk)
                row_held.set()
                end_the_room.wait(10)
                Room.objects.filter(pk=room.pk).update(
                    status=Room.Status.EXPIRED, reason=Room.Reason.VISITOR_LEFT, ended_at=timezone.now()
                )
        finally:
            connections.close_all()

    answer = {}

    def arrive():
        try:
            answer["room"] = visitor_arrive(visitor=linda, page=page)[1]
        finally:
            connections.close_all()

    ending = threading.Thread(target=room_ending)
    ending.start()
    assert row_held.wait(10)
    arrival = threading.Thread(target=arrive)
    arrival.start()
    _until_someone_waits_for_a_lock()
    end_the_room.set()
    ending.join(10)
    arrival.join(10)

    assert answer["room"] is None
    linda.refresh_from_db()
    assert linda.online
    assert published[-1]["visitor"]["room"] is None


def _until_someone_waits_for_a_lock() -> None:
    if connection.vendor != "postgresql":
        time.sleep(0.5)  # SQLite: the arrival waits on the database's write lock (busy timeout)
        return
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the arrival never waited for the row")


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
