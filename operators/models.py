from functools import cached_property

from django.conf import settings
from django.db import models

from visitors.models import Site


class Operator(models.Model):
    """A person who answers chats: a profile on Django's user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator")
    sites = models.ManyToManyField(Site, related_name="operators", blank=True)
    # True from the panel's first connection until logout or OPERATOR_TIMEOUT.
    online = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @cached_property
    def site_ids(self) -> frozenset[int]:
        # Read once per socket: the panel's groups are joined from the same list.
        return frozenset(self.sites.values_list("id", flat=True))
