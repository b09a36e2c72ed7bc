"""Django admin for sites and visitors: what a superuser and a site owner see and may change,
allowed origins checked on save, and the site's greeting and colour reaching the snippet."""

import json

import pytest
from channels.db import database_sync_to_async

from chat.files import upload_limits
from conftest import SITE_ORIGIN
from tests.owners import admin_client, make_page_views, make_staff, make_visitor
from visitors.models import Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(site):
    return make_staff("owner", site)


@pytest.fixture
def other_owner(other_site):
    return make_staff("other-owner", other_site)


@pytest.fixture(params=["superuser", "owner"])
def manager(request, site, owner):
    """Whoever manages the `site`: a superuser, or its owner."""
    return make_staff("root", superuser=True) if request.param == "superuser" else owner


def site_form(site: Site, **changes) -> dict:
    data = {
        "key": site.key,
        "name": site.name,
        "allowed_origins": site.allowed_origins,
        "greeting": site.greeting,
        "color": site.color,
        "max_chats_per_operator": site.max_chats_per_operator,
        "routing": site.routing,
        "prechat": site.prechat,
        "language": site.language,
        "texts": json.dumps(site.texts),
        "launcher_offset": site.launcher_offset,
        "timezone": site.timezone,
        "hours": json.dumps(site.hours),
        "closed_days": json.dumps(site.closed_days),
        "keep_page_views_days": site.keep_page_views_days,
        "keep_conversations_days": site.keep_conversations_days,
        "keep_idle_visitors_days": site.keep_idle_visitors_days,
    }
    # A checkbox: sent when ticked, left out when not.
    data.update({"transcripts": "on"} if site.transcripts else {})
    return {**data, **changes}


def test_site_and_visitor_pages_load_for_superuser_and_owner(manager, site):
    linda = make_visitor(site, url="http://shop.test/shoes", title="Shoes")
    make_page_views(linda, 3)
    client = admin_client(manager)
    for url in [
        "/admin/",
        "/admin/visitors/site/",
        f"/admin/visitors/site/{site.pk}/change/",
        "/admin/visitors/visitor/",
        f"/admin/visitors/visitor/?site__id__exact={site.pk}&online__exact=1",
        "/admin/visitors/visitor/?q=shoes",
        f"/admin/visitors/visitor/{linda.pk}/change/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    assert b"Shoes" in client.get("/admin/visitors/visitor/?q=shoes").content


def test_owner_sees_and_edits_only_their_own_sites(site, other_site, owner, other_owner):
    make_visitor(other_site, url="http://other.test/secret-page")
    client = admin_client(owner)

    listing = client.get("/admin/visitors/site/").content.decode()
    assert site.name in listing
    assert other_site.name not in listing
    assert "secret-page" not in client.get("/admin/visitors/visitor/").content.decode()

    # Another owner's site does not exist for them: Django admin's "no such object" redirect.
    page = client.get(f"/admin/visitors/site/{other_site.pk}/change/")
    assert page.status_code == 302
    assert page.url == "/admin/"
    client.post(f"/admin/visitors/site/{other_site.pk}/change/", site_form(other_site, name="Hijacked"))
    other_site.refresh_from_db()
    assert other_site.name == "Other"


def test_owner_cannot_add_sites_nor_change_key_or_owners(site, owner, other_owner):
    client = admin_client(owner)
    assert client.get("/admin/visitors/site/add/").status_code == 403

    response = client.post(
        f"/admin/visitors/site/{site.pk}/change/",
        site_form(site, key="stolen", name="Shop & Co", owners=[other_owner.pk]),
    )

    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.key, site.name) == ("shop", "Shop & Co")
    assert list(site.owners.all()) == [owner]


def test_user_who_owns_no_site_gets_no_admin(site):
    staff = make_staff("nobody")
    client = admin_client(staff)
    assert client.get("/admin/visitors/site/").status_code == 403
    assert client.get(f"/admin/visitors/site/{site.pk}/change/").status_code == 403


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "http://x.com/path", "*", "https://*.example.com"])
def test_site_form_refuses_what_is_not_an_origin(manager, site, bad):
    client = admin_client(manager)

    response = client.post(
        f"/admin/visitors/site/{site.pk}/change/",
        site_form(site, allowed_origins=f"https://shop.example.com\n{bad}"),
    )

    assert response.status_code == 200  # the form again, with the error
    assert "Line 2:" in response.content.decode()
    site.refresh_from_db()
    assert site.allowed_origins == SITE_ORIGIN


def test_site_form_stores_origins_as_browsers_send_them(manager, site):
    client = admin_client(manager)
    typed = "https://shop.example.com\n\n  http://127.0.0.1:8000  \nHTTPS://Shop.Example.com:443/\n"

    response = client.post(f"/admin/visitors/site/{site.pk}/change/", site_form(site, allowed_origins=typed))

    assert response.status_code == 302
    site.refresh_from_db()
    assert site.allowed_origins == "https://shop.example.com\nhttp://127.0.0.1:8000"


def test_visitor_page_trail_shows_latest_pages_newest_first(manager, site):
    linda = make_visitor(site)
    make_page_views(linda, 120)

    page = admin_client(manager).get(f"/admin/visitors/visitor/{linda.pk}/change/").content.decode()

    assert page.index("http://shop.test/page-119") < page.index("http://shop.test/page-118")
    assert "http://shop.test/page-20<" in page  # the 100th newest
    assert "http://shop.test/page-19<" not in page


def test_visitors_are_read_only_in_admin(manager, site):
    linda = make_visitor(site, url="http://shop.test/cart", title="Cart")
    client = admin_client(manager)

    assert client.get("/admin/visitors/visitor/add/").status_code == 403
    client.post(f"/admin/visitors/visitor/{linda.pk}/change/", {"url": "http://evil.test/"})

    linda.refresh_from_db()
    assert linda.url == "http://shop.test/cart"


@pytest.mark.django_db(transaction=True)
async def test_greeting_and_colour_set_in_admin_reach_the_snippet(sockets, site):
    owner = await database_sync_to_async(make_staff)("owner", site)
    client = await database_sync_to_async(admin_client)(owner)
    form = site_form(site, greeting="Hej! Need a size?", color="#0a7d3b")
    response = await database_sync_to_async(client.post)(f"/admin/visitors/site/{site.pk}/change/", form)
    assert response.status_code == 302

    linda = await sockets.visitor()

    assert linda.welcome["site"] == {
        "key": "shop",
        "online": False,
        "back_at": None,
        "name": "Shop",
        "greeting": "Hej! Need a size?",
        "color": "#0a7d3b",
        "prechat": "off",
        "transcripts": True,
        "language": "",
        "texts": {},
        "offset": 0,
        "uploads": upload_limits(),
    }


@pytest.mark.django_db(transaction=True)
async def test_origin_added_in_admin_lets_that_page_connect(sockets, site):
    root = await database_sync_to_async(make_staff)("root", superuser=True)
    client = await database_sync_to_async(admin_client)(root)
    assert await sockets.refused("/ws/visitor/?site=shop", [(b"origin", b"http://127.0.0.1:8000")])

    form = site_form(site, allowed_origins=f"{SITE_ORIGIN}\nhttp://127.0.0.1:8000/")
    response = await database_sync_to_async(client.post)(f"/admin/visitors/site/{site.pk}/change/", form)
    assert response.status_code == 302

    linda = await sockets.visitor(origin="http://127.0.0.1:8000")
    assert linda.welcome["visitor"]


def test_owner_sees_the_identity_secret_read_only_and_makes_a_new_one(site, owner):
    """Issue 25: the key the owner's server signs its users' ids with; typed in by nobody."""
    client = admin_client(owner)
    url = f"/admin/visitors/site/{site.pk}/change/"
    assert client.get(url).status_code == 200
    # A secret typed into the form is ignored; the checkbox makes one.
    assert client.post(url, site_form(site, identity_secret="chosen")).status_code == 302
    site.refresh_from_db()
    assert site.identity_secret == ""
    assert client.post(url, site_form(site, new_identity_secret="on")).status_code == 302
    site.refresh_from_db()
    first = site.identity_secret
    assert len(first) == 64
    assert first in client.get(url).content.decode()
    # Saving without the box keeps it; ticking it again replaces it.
    client.post(url, site_form(site, name="Shop & Co"))
    site.refresh_from_db()
    assert (site.name, site.identity_secret) == ("Shop & Co", first)
    client.post(url, site_form(site, new_identity_secret="on"))
    site.refresh_from_db()
    assert site.identity_secret not in ("", first)
