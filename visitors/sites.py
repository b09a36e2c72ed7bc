"""Sites by key for the visitor socket's handshake, kept by each daphne process.

Every page a visitor opens is a handshake that needs its site (key → allowed origins,
branding), and site rows change rarely. Each process keeps the sites it has read; a
handshake reads one value from Redis instead of the database: the sites' version, a
random token replaced after every committed change to a site (a signal, so admin, the
API and scripts are all covered). A handshake that starts after a change has committed
sees the change, as if it had read the database.

Redis down: the site is read from the database, as before. A version lost with Redis
data, a change whose new version could not be written, or a change that bypasses the
signal (`QuerySet.update()`, raw SQL: nothing in White Panel does) is made up for by
WP_SITE_CACHE_SECONDS: no process keeps a site longer than that without reading it.
"""

import logging
import secrets
import time

import redis
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from infra.db import in_database_thread
from infra.redis_clients import RedisClients

from .models import Site

logger = logging.getLogger(__name__)

_clients = RedisClients()
# key → (version, read at (monotonic), site)
_kept: dict[str, tuple[bytes, float, Site]] = {}
# Only sites that exist are kept (a client making up keys cannot fill the memory), and
# at most this many.
KEPT_AT_MOST = 10_000


def _version_key() -> str:
    return f"{settings.WP_REDIS_PREFIX}:sites:version"


async def _read(key: str) -> Site | None:
    # Reading a site publishes no event: infra's database thread, not chat.db's wrapper.
    return await in_database_thread(Site.objects.filter(key=key).first)


async def _version() -> bytes | None:
    client = _clients.aredis()
    try:
        version = await client.get(_version_key())
        if version is None:
            # First use, or Redis lost its data: a new version nobody has kept sites under.
            await client.set(_version_key(), secrets.token_hex(8), nx=True)
            version = await client.get(_version_key())
        return version
    except redis.RedisError as error:
        logger.warning("could not read the sites' version, reading the site instead: %s", error)
        return None


async def site_by_key(key: str) -> Site | None:
    """The site whose snippet uses this key, None if there is none."""
    if not key:
        return None
    version = await _version()
    kept = _kept.get(key)
    now = time.monotonic()
    if (
        version is not None
        and kept is not None
        and kept[0] == version
        and now - kept[1] < settings.WP_SITE_CACHE_SECONDS
    ):
        return kept[2]
    site = await _read(key)
    if site is None or version is None:
        _kept.pop(key, None)
    else:
        if len(_kept) >= KEPT_AT_MOST:
            _kept.clear()
        _kept[key] = (version, now, site)
    return site


def kept_site_id(key: str) -> int | None:
    """The id of the site this process last read under `key`, without asking anyone: a socket
    joins its site's group before `site_by_key` reads the site, so nothing sent to the group
    after that read can pass it by (chat/visitor_socket.py)."""
    kept = _kept.get(key)
    return kept[2].pk if kept is not None else None


def kept_stamp(key: str) -> tuple[bytes, float] | None:
    """The version and time this process read the site under `key` with, None if it keeps none:
    what it keeps alongside the site (its bans, chat/bans.py) is as fresh while this is the same."""
    kept = _kept.get(key)
    return kept[:2] if kept is not None else None


def sites_changed() -> None:
    """Every process reads its sites again at their next handshake."""
    try:
        _clients.redis().set(_version_key(), secrets.token_hex(8))
    except redis.RedisError as error:
        logger.warning("could not announce a site change (applies within WP_SITE_CACHE_SECONDS): %s", error)


def _site_saved_or_deleted(sender, **kwargs) -> None:
    transaction.on_commit(sites_changed)


def connect_signals() -> None:
    post_save.connect(_site_saved_or_deleted, sender=Site, dispatch_uid="visitors.sites.saved")
    post_delete.connect(_site_saved_or_deleted, sender=Site, dispatch_uid="visitors.sites.deleted")
