"""Sites and online visitors over the REST API: who sees which, and owners changing their site."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import events
from chat.models import Room
from conftest import SITE_ORIGIN
from tests.api import client_for, error_of, ids, make_room, make_user, make_visitor
from visitors.models import Site
from visitors.visits import visits

PAGE = {"url": "http://shop.test/boots", "title": "Boots", "referrer": ""}

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(site):
    return make_user("owner", staff=True, owns=(site,))


def patch_site(user, site_id: int, body):
    return client_for(user).patch(f"/api/sites/{site_id}/", body, format="json")


# Sites ----------------------------------------------------------------------------------------


def test_each_role_lists_the_sites_it_serves_or_owns(site, other_site, peter, olga, owner):
    assert ids(client_for(peter.user).get("/api/sites/")) == [site.pk]
    assert ids(client_for(olga.user).get("/api/sites/")) == [other_site.pk]
    assert ids(client_for(owner).get("/api/sites/")) == [site.pk]
    assert ids(client_for(make_user("staff", staff=True)).get("/api/sites/")) == []
    assert ids(client_for(make_user("root", superuser=True)).get("/api/sites/")) == [site.pk, other_site.pk]
    assert client_for(None).get("/api/sites/").status_code == 401


def test_site_shows_its_settings(site, peter):
    site.allowed_origins = "http://shop.test\nhttps://www.shop.test/"
    site.save()
    body = client_for(peter.user).get(f"/api/sites/{site.pk}/").json()
    assert body["key"] == "shop"
    assert body["allowed_origins"] == ["http://shop.test", "https://www.shop.test"]
    assert body["greeting"] == site.greeting
    assert body["color"] == site.color


def test_site_one_neither_serves_nor_owns_is_404(site, other_site, peter):
    response = client_for(peter.user).get(f"/api/sites/{other_site.pk}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_owner_changes_greeting_colour_and_origins_of_their_site(site, owner):
    response = patch_site(
        owner,
        site.pk,
        {"greeting": "Hi! Ask us anything.", "color": "#aa3300", "allowed_origins": ["https://Shop.Example/"]},
    )
    assert response.status_code == 200
    assert response.json()["allowed_origins"] == ["https://shop.example"]
    site.refresh_from_db()
    assert (site.greeting, site.color) == ("Hi! Ask us anything.", "#aa3300")
    assert site.allows_origin("https://shop.example")
    assert not site.allows_origin(SITE_ORIGIN)


def test_owner_switches_transcripts_by_email_off(site, owner):
    assert patch_site(owner, site.pk, {}).json()["transcripts"] is True
    response = patch_site(owner, site.pk, {"transcripts": False})
    assert response.status_code == 200
    assert response.json()["transcripts"] is False
    assert Site.objects.get(pk=site.pk).transcripts is False


def test_origins_are_stored_as_browsers_send_them_once_each(site, owner):
    response = patch_site(owner, site.pk, {"allowed_origins": ["https://shop.example:443/", "https://SHOP.example"]})
    assert response.json()["allowed_origins"] == ["https://shop.example"]


def test_partial_change_keeps_the_other_settings(site, owner):
    assert patch_site(owner, site.pk, {"color": "#000000"}).status_code == 200
    site.refresh_from_db()
    assert site.color == "#000000"
    assert site.allows_origin(SITE_ORIGIN)


def test_superuser_may_change_any_site(other_site):
    root = make_user("root", superuser=True)
    assert patch_site(root, other_site.pk, {"greeting": "Hello"}).status_code == 200


def test_operator_who_does_not_own_the_site_may_not_change_it(site, peter):
    response = patch_site(peter.user, site.pk, {"greeting": "Mine now"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_allowed"
    assert Site.objects.get(pk=site.pk).greeting != "Mine now"


def test_owner_of_another_site_gets_404(site, other_site):
    stranger = make_user("stranger", staff=True, owns=(other_site,))
    response = patch_site(stranger, site.pk, {"greeting": "Hello"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"color": "red"}, "invalid", "color"),
        ({"color": "#12345g"}, "invalid", "color"),
        ({"greeting": ""}, "invalid", "greeting"),
        ({"greeting": 7}, "invalid", "greeting"),
        ({"greeting": "x" * 201}, "too_long", "greeting"),
        ({"allowed_origins": "http://shop.test"}, "invalid", "allowed_origins"),
        ({"allowed_origins": ["ftp://shop.test"]}, "invalid", "allowed_origins"),
        ({"allowed_origins": ["http://shop.test/shoes"]}, "invalid", "allowed_origins"),
        ({"allowed_origins": ["http://shop.test:99999"]}, "invalid", "allowed_origins"),
        ({"allowed_origins": ["shop.test"]}, "invalid", "allowed_origins"),
        ({"allowed_origins": ["*"]}, "invalid", "allowed_origins"),
        ({"allowed_origins": ["http://user@shop.test"]}, "invalid", "allowed_origins"),
        ({"allowed_origins": [f"http://{'a' * 200}.test"]}, "too_long", "allowed_origins"),
        ({"transcripts": "maybe"}, "invalid", "transcripts"),
        ({"transcripts": [True]}, "invalid", "transcripts"),
    ],
)
def test_bad_site_settings_are_refused_and_nothing_changes(site, owner, body, code, field):
    response = patch_site(owner, site.pk, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code
    assert field in error["fields"]
    fresh = Site.objects.get(pk=site.pk)
    assert (fresh.greeting, fresh.color, fresh.allowed_origins) == (site.greeting, site.color, site.allowed_origins)


def test_site_cannot_be_replaced_whole_or_created(site, owner):
    client = client_for(owner)
    response = client.put(f"/api/sites/{site.pk}/", {"greeting": "Hi"}, format="json")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert client.post("/api/sites/", {"key": "new"}, format="json").status_code == 405


@pytest.mark.django_db(transaction=True)
async def test_new_origin_is_let_in_at_the_next_handshake(sockets, site):
    owner = await database_sync_to_async(make_user)("owner", staff=True, owns=(site,))
    assert await sockets.refused("/ws/visitor/?site=shop", [(b"origin", b"https://new.shop.test")])
    response = await database_sync_to_async(patch_site)(
        owner, site.pk, {"allowed_origins": [SITE_ORIGIN, "https://new.shop.test"]}
    )
    assert response.status_code == 200
    visitor = await sockets.visitor(origin="https://new.shop.test")
    assert visitor.welcome["visitor"]


# Online visitors ---------------------------------------------------------------------------


def test_operator_sees_the_online_visitors_of_their_sites_with_their_rooms(site, other_site, peter):
    browsing = make_visitor(site, url="http://shop.test/shoes")
    chatting = make_visitor(site)
    room = make_room(chatting, operator=peter)
    make_visitor(site, online=False)
    make_visitor(other_site)
    body = client_for(peter.user).get("/api/visitors/").json()
    assert body["count"] == 2
    by_id = {visitor["id"]: visitor for visitor in body["results"]}
    assert by_id[browsing.pk] == events.visitor_payload(browsing, None)
    assert by_id[browsing.pk]["url"] == "http://shop.test/shoes"
    assert by_id[chatting.pk]["room"] == events.room_payload(Room.objects.get(pk=room.pk))


def test_visitor_list_shows_the_page_a_visit_is_on_before_its_page_views_are_flushed(site, peter):
    linda = make_visitor(site, url="http://shop.test/")
    visits.fill(linda, live_room_id=None, last_room_id=None)  # the visit in progress, in Redis
    visit = async_to_sync(visits.page)(linda.pk, page=PAGE, now=timezone.now())
    assert visit.pages == 2
    (listed,) = client_for(peter.user).get("/api/visitors/").json()["results"]
    assert (listed["url"], listed["title"], listed["pages"]) == (PAGE["url"], PAGE["title"], 2)
    linda.refresh_from_db()
    assert linda.url == "http://shop.test/"  # the row is a flush behind


def test_visitor_whose_room_expired_shows_no_room(site, peter):
    visitor = make_visitor(site)
    make_room(visitor, operator=peter, status=Room.Status.EXPIRED)
    (listed,) = client_for(peter.user).get("/api/visitors/").json()["results"]
    assert listed["room"] is None


def test_online_visitors_filter_by_site(site, other_site):
    here, there = make_visitor(site), make_visitor(other_site)
    root = client_for(make_user("root", superuser=True))
    assert set(ids(root.get("/api/visitors/"))) == {here.pk, there.pk}
    assert ids(root.get(f"/api/visitors/?site={there.site_id}")) == [there.pk]
    owner = client_for(make_user("owner", staff=True, owns=(site,)))
    assert ids(owner.get(f"/api/visitors/?site={other_site.pk}")) == []
    assert owner.get("/api/visitors/?site=shop").status_code == 400


def test_visitors_come_longest_on_the_site_first(site, peter):
    now = timezone.now()
    late = make_visitor(site, since=now - timedelta(minutes=1))
    early = make_visitor(site, since=now - timedelta(minutes=30))
    assert ids(client_for(peter.user).get("/api/visitors/")) == [early.pk, late.pk]
