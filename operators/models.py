from functools import cached_property

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from visitors.models import Site


class Operator(models.Model):
    """A person who answers chats: a profile on Django's user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator", verbose_name=_("user")
    )
    sites = models.ManyToManyField(Site, related_name="operators", blank=True, verbose_name=_("sites"))
    # True from the panel's first connection until logout or OPERATOR_TIMEOUT.
    online = models.BooleanField(_("online"), default=False)

    class Status(models.TextChoices):
        """What the operator says of themselves while online (issue 23)."""

        AVAILABLE = "available", _("Available")  # offered new chats, alerted of new requests
        AWAY = "away", _("Away")  # neither offered new chats nor alerted
        BUSY = "busy", _("Busy")  # not offered new chats (routing), still alerted

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    # When routing last gave them a chat: the next goes to whoever waited longest among equals.
    last_assigned_at = models.DateTimeField(_("last given a chat at"), null=True, blank=True)
    # The language of the panel, login and admin for them (issue 24); blank: their browser's.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        default="",
        # The languages by their own names, untranslated: a reader finds theirs whatever the page's language.
        choices=settings.LANGUAGES,
        help_text=_("The language of the panel and admin for this operator; blank: their browser's."),
    )

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @cached_property
    def site_ids(self) -> frozenset[int]:
        # Read once per socket: the panel's groups are joined from the same list.
        return frozenset(self.sites.values_list("id", flat=True))


class CannedReply(models.Model):
    """A prepared answer an operator puts in the composer with "/" and its shortcut (issue 23):
    a site's, for everyone who serves it (its owners manage them), or one operator's own."""

    site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.CASCADE, related_name="canned_replies", verbose_name=_("site")
    )
    operator = models.ForeignKey(
        Operator,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        verbose_name=_("operator"),
    )
    shortcut = models.SlugField(
        _("shortcut"), max_length=40, help_text=_('Typed after "/" in the composer, e.g. "shipping".')
    )
    body = models.TextField(
        _("body"),
        max_length=4000,
        help_text=_("The reply. {visitor.name}, {operator.name} and {page.title} are filled in when it is used."),
    )
    uses = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["shortcut", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(site__isnull=False, operator__isnull=True)
                | models.Q(site__isnull=True, operator__isnull=False),
                name="canned_reply_of_a_site_or_an_operator",
            ),
            models.UniqueConstraint(
                fields=["site", "shortcut"], condition=models.Q(site__isnull=False), name="one_shortcut_per_site"
            ),
            models.UniqueConstraint(
                fields=["operator", "shortcut"],
                condition=models.Q(operator__isnull=False),
                name="one_shortcut_per_operator",
            ),
        ]

    def __str__(self) -> str:
        return "/" + self.shortcut
