"""Bans (issue 25): an operator blocks a visitor, and maybe their address or their network,
with a reason. Their live room ends at once (`banned`, a line only operators see), their
sockets are told `banned` and closed (4003), and every hello of theirs is refused until an
owner lifts the ban (admin, the API).

A hello asks no database about bans: each process keeps a site's bans in force beside the
site it keeps (visitors/sites.py), read again when it reads the site again. Making or lifting
a ban announces a change of the sites' version, after its commit, so every process reads
them again at its next handshake of that site.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from infra.db import in_database_thread
from infra.errors import Invalid, NotAllowed, NotFound
from operators.models import Operator
from visitors.models import Site, Visitor
from visitors.owners import sites_owned_by
from visitors.sites import kept_stamp, sites_changed
from visitors.visits import visits

from . import events
from .models import Ban, Room
from .services import rooms_expire

# "Their whole network": the block one subscriber is usually given (an IPv4 /24, an IPv6 /48).
NETWORK_PREFIX = {4: 24, 6: 48}
REASON_LENGTH = Ban._meta.get_field("reason").max_length

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    # An IPv4 address mapped into IPv6 (::ffff:a.b.c.d) is the IPv4 address.
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(scope: dict) -> str | None:
    """The socket's client address (daphne's, or with --proxy-headers the proxy's
    X-Forwarded-For), None if it is no IP address (a Unix socket, a test client)."""
    client = scope.get("client")
    ip = _ip(str(client[0])) if client else None
    return str(ip) if ip is not None else None


def banned_address(address: str, *, network: bool) -> str:
    """What a ban of this address blocks: the address itself, or its network (NETWORK_PREFIX)."""
    ip = _ip(address)
    if ip is None:
        raise Invalid("this visitor's address is not known")
    if not network:
        return str(ip)
    return str(ipaddress.ip_network((ip, NETWORK_PREFIX[ip.version]), strict=False))


@dataclass(frozen=True)
class SiteBans:
    """A site's bans in force, as a process keeps them."""

    visitor_ids: frozenset[int] = frozenset()
    networks: tuple[Network, ...] = ()

    def refuses_visitor(self, visitor_id: int) -> bool:
        return visitor_id in self.visitor_ids

    def refuses_address(self, address: str | None) -> bool:
        if not self.networks or not address:
            return False
        ip = _ip(address)
        return ip is not None and any(ip.version == net.version and ip in net for net in self.networks)


def _read_site_bans(site_id: int) -> SiteBans:
    rows = Ban.objects.filter(site_id=site_id, lifted_at=None).values_list("visitor_id", "address")
    visitor_ids, networks = set(), []
    for visitor_id, address in rows:
        if visitor_id is not None:
            visitor_ids.add(visitor_id)
        if address:
            networks.append(ipaddress.ip_network(address, strict=False))
    return SiteBans(frozenset(visitor_ids), tuple(networks))


# site id → (the site's stamp when read, its bans). Only sites a handshake found are kept,
# so at most as many as visitors/sites.py keeps.
_kept: dict[int, tuple[tuple[bytes, float], SiteBans]] = {}
KEPT_AT_MOST = 10_000


async def site_bans(site: Site) -> SiteBans:
    """The site's bans in force: kept while the process keeps the same read of the site (no
    query), read again with it. A process that keeps no site (Redis down) reads them each time."""
    stamp = kept_stamp(site.key)
    kept = _kept.get(site.pk)
    if stamp is not None and kept is not None and kept[0] == stamp:
        return kept[1]
    bans = await in_database_thread(_read_site_bans, site.pk)
    if stamp is None:
        _kept.pop(site.pk, None)
    else:
        if len(_kept) >= KEPT_AT_MOST:
            _kept.clear()
        _kept[site.pk] = (stamp, bans)
    return bans


def visitor_ban(
    *, operator: Operator, visitor_id: int, reason: str, address: bool = False, network: bool = False
) -> Ban:
    """An operator of the visitor's site blocks them (and, if asked, the address their last visit
    came from, or its whole network). Their live room ends now, its question not back in the
    pool; they are gone from every panel; their sockets are told and closed."""
    reason = reason.strip()
    if len(reason) > REASON_LENGTH:
        raise Invalid(f"the reason is longer than {REASON_LENGTH} characters")
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().filter(pk=visitor_id, site_id__in=operator.site_ids).first()
        if visitor is None:
            # Visitors of sites the operator does not serve do not exist for them.
            raise NotFound("no such visitor")
        if Ban.objects.filter(visitor=visitor, lifted_at=None).exists():
            raise NotAllowed("this visitor is blocked already")
        blocked = banned_address(visitor.last_address or "", network=network) if address or network else ""
        ban = Ban.objects.create(
            site_id=visitor.site_id,
            visitor=visitor,
            address=blocked,
            reason=reason,
            created_by=operator,
            created_by_name=operator.name,
            created_at=now,
        )
        rooms_expire(Room.objects.filter(visitor_id=visitor.pk), reason=Room.Reason.BANNED, now=now, by=operator)
        if visitor.online:
            Visitor.objects.filter(pk=visitor.pk).update(online=False, last_seen=now)
            visitor.online, visitor.last_seen = False, now
            events.visitor_gone(visitor)
        events.visitor_sockets_ban(visitor.pk)
        transaction.on_commit(lambda: _banned(visitor.pk))
    ban.visitor = visitor
    return ban


def _banned(visitor_id: int) -> None:
    # Every process reads the site's bans again at its next handshake; the visit is over.
    sites_changed()
    visits.end([visitor_id])


def bans_lift(*, user, ban_ids: list[int], now: datetime | None = None) -> list[Ban]:
    """A site's owner lifts bans of their sites (admin, the API): those in force among them end
    now, and the visitor (or address) may chat again. Returns the bans lifted now."""
    now = now or timezone.now()
    with transaction.atomic():
        bans = list(
            Ban.objects.select_for_update()
            .filter(pk__in=ban_ids, site__in=sites_owned_by(user=user), lifted_at=None)
            .order_by("pk")
        )
        if bans:
            Ban.objects.filter(pk__in=[ban.pk for ban in bans]).update(lifted_at=now, lifted_by=user)
            for ban in bans:
                ban.lifted_at, ban.lifted_by = now, user
            transaction.on_commit(sites_changed)
    return bans


def ban_lift(*, user, ban_id: int) -> Ban:
    """bans_lift for one ban: it, lifted (now or before). NotFound if it is not of a site of theirs."""
    bans_lift(user=user, ban_ids=[ban_id])
    ban = Ban.objects.select_related("lifted_by").filter(pk=ban_id, site__in=sites_owned_by(user=user)).first()
    if ban is None:
        raise NotFound("no such ban")
    return ban
