"""Who may see which sites, and the visitors online on them (the REST API's reads)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from .models import PageView, Site, Visitor
from .owners import sites_owned_by
from .visits import visits

# The pages of a visit a visitor's detail lists at most, newest first.
TRAIL_LIMIT = 50


def sites_visible_to(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Site]:
    """Superusers see every site; an operator the sites they serve; a staff owner the sites they own.

    Everything else the API shows (operators, visitors, rooms, messages) is what
    lives on these sites."""
    if not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.all()
    served = Site.objects.filter(operators__user=user).values("pk")
    owned = sites_owned_by(user=user).values("pk")
    return Site.objects.filter(Q(pk__in=served) | Q(pk__in=owned))


def site_is_owned_by(*, site: Site, user: AbstractBaseUser) -> bool:
    """May this user change the site's settings (greeting, colour, origins)?"""
    return sites_owned_by(user=user).filter(pk=site.pk).exists()


def visitors_online(*, sites: QuerySet[Site]) -> QuerySet[Visitor]:
    """Online visitors of these sites, longest on the site first (the panel's order)."""
    return Visitor.objects.filter(site__in=sites, online=True).order_by("since", "id")


def visitor_visible_to(*, user: AbstractBaseUser | AnonymousUser, visitor_id: int) -> Visitor | None:
    """A visitor of a site the user sees (sites_visible_to), online or not; None otherwise."""
    return Visitor.objects.filter(pk=visitor_id, site__in=sites_visible_to(user=user)).first()


def visitor_trail(*, visitor: Visitor, limit: int = TRAIL_LIMIT) -> list[dict]:
    """The pages of the visitor's current (or last) visit, newest first, with their times:
    the stored page views and, for a visit in progress, those still waiting in Redis
    (visitors/visits.py). The stream is read first: a view a flush stores in between is in
    both reads, and listed once."""
    waiting = visits.waiting_of(visitor.pk) if visitor.online else []
    stored = PageView.objects.filter(visitor_id=visitor.pk, at__gte=visitor.since).order_by("-at", "-pk")
    seen = set()
    trail = []
    for view in [*waiting, *stored.only("url", "title", "referrer", "at")[:limit]]:
        key = (view.url, view.at)
        if key not in seen and view.at >= visitor.since:
            seen.add(key)
            trail.append({"url": view.url, "title": view.title, "referrer": view.referrer, "at": view.at})
    trail.sort(key=lambda page: page["at"], reverse=True)
    return trail[:limit]
