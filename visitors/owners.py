"""Site owners: staff users listed in `Site.owners`, who manage those sites (admin, API)."""

from django.db.models import QuerySet

from .models import Site


def sites_owned_by(*, user) -> QuerySet[Site]:
    """The sites a user manages: every site for a superuser, the sites they own for staff."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return Site.objects.none()
    if user.is_superuser:
        return Site.objects.all()
    return Site.objects.filter(owners=user)


def site_ids_owned_by(*, user) -> frozenset[int]:
    return frozenset(sites_owned_by(user=user).values_list("id", flat=True))
