"""Who may see which sites, and the visitors online on them (the REST API's reads)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from .models import Site, Visitor
from .owners import sites_owned_by


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
