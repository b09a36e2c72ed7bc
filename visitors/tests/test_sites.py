"""Sites kept by each process for the visitor handshake (visitors/sites.py): read once, and
read again after any change to a site, whoever makes it."""

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from conftest import OTHER_ORIGIN, SITE_ORIGIN
from infra.redis_clients import RedisClients
from tests.api import make_user
from visitors import sites
from visitors.models import Site
from visitors.services import site_save, site_update

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN_HEADER = [(b"origin", SITE_ORIGIN.encode())]


@pytest.fixture
def owner(site):
    return make_user("owner", staff=True, owns=(site,))


async def test_handshakes_reuse_the_site_read_by_the_first(site):
    first = await sites.site_by_key("shop")
    assert first.pk == site.pk
    assert await sites.site_by_key("shop") is first


async def test_owner_changing_the_origins_applies_from_the_next_handshake(sockets, site, owner):
    assert not await sockets.refused("/ws/visitor/?site=shop", ORIGIN_HEADER)
    await sync_to_async(site_update)(site_id=site.pk, user=owner, allowed_origins=[OTHER_ORIGIN])
    assert await sockets.refused("/ws/visitor/?site=shop", ORIGIN_HEADER)
    assert not await sockets.refused("/ws/visitor/?site=shop", [(b"origin", OTHER_ORIGIN.encode())])


async def test_a_site_saved_anywhere_else_is_read_again(site):
    kept = await sites.site_by_key("shop")
    site.greeting = "Hello from the admin"
    await sync_to_async(site.save)()
    again = await sites.site_by_key("shop")
    assert again is not kept
    assert again.greeting == "Hello from the admin"


async def test_a_deleted_site_refuses_handshakes(sockets, site):
    assert not await sockets.refused("/ws/visitor/?site=shop", ORIGIN_HEADER)
    await sync_to_async(Site.objects.filter(pk=site.pk).delete)()
    assert await sockets.refused("/ws/visitor/?site=shop", ORIGIN_HEADER)


async def test_redis_losing_the_version_makes_processes_read_their_sites_again(site):
    kept = await sites.site_by_key("shop")
    # A change the signal could not announce (Redis away then, its data lost since).
    await sync_to_async(Site.objects.filter(pk=site.pk).update)(greeting="Changed while Redis was away")
    RedisClients().redis().delete(f"{settings.WP_REDIS_PREFIX}:sites:version")
    again = await sites.site_by_key("shop")
    assert again is not kept
    assert again.greeting == "Changed while Redis was away"


async def test_a_site_is_read_again_after_the_longest_time_it_may_be_kept(site, settings):
    kept = await sites.site_by_key("shop")
    settings.WP_SITE_CACHE_SECONDS = 0
    assert await sites.site_by_key("shop") is not kept


async def test_made_up_keys_are_never_kept(site):
    for n in range(20):
        assert await sites.site_by_key(f"nosuchsite{n}") is None
    assert not any(key.startswith("nosuchsite") for key in sites._kept)


def test_origins_are_stored_as_browsers_send_them_each_once_whoever_saves_the_site(site, django_user_model):
    """Admin (site_save) and the API (site_update) store the same list for the same input."""
    site.allowed_origins = "HTTPS://Shop.Example.com:443/\nhttps://shop.example.com\n\nhttp://[::1]:8000"
    site_save(site=site)
    saved = Site.objects.get(pk=site.pk).allowed_origins

    owner = django_user_model.objects.create(username="olivia", is_staff=True)
    site.owners.add(owner)
    site_update(site_id=site.pk, user=owner, allowed_origins=[*saved.split("\n"), "HTTPS://SHOP.EXAMPLE.COM"])

    assert saved == "https://shop.example.com\nhttp://[::1]:8000"
    assert Site.objects.get(pk=site.pk).allowed_origins == saved
