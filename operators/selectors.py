"""Operators as the REST API shows them."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from visitors.selectors import sites_visible_to

from .models import Operator


def operators_visible_to(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Operator]:
    """Active operators of the sites the user may see; a superuser sees every one."""
    operators = Operator.objects.filter(user__is_active=True).select_related("user").order_by("id")
    if user.is_authenticated and user.is_active and user.is_superuser:
        return operators
    serving = Operator.objects.filter(sites__in=sites_visible_to(user=user)).values("pk")
    return operators.filter(pk__in=serving)


def operator_of(*, user: AbstractBaseUser | AnonymousUser) -> Operator | None:
    """The operator profile of a user, if they are one."""
    if not user.is_authenticated:
        return None
    return Operator.objects.select_related("user").filter(user=user).first()
