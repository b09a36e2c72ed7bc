import hashlib

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .hours import CLOSED_DAYS_HELP, HOURS_HELP, validate_closed_days, validate_hours, validate_timezone
from .origins import validate_origins
from .widget_texts import validate_texts

# The longest any retention setting may be (about 100 years); 0 means for ever.
MAX_KEEP_DAYS = 36_500


class Site(models.Model):
    """A website that embeds the snippet."""

    key = models.SlugField(_("key"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    # One origin a line, e.g. "https://shop.example.com".
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        validators=[validate_origins],
        help_text=_(
            "One origin a line, scheme://host[:port], e.g. https://shop.example.com: "
            "the pages allowed to embed the snippet."
        ),
    )
    # What the chat window says before anyone has written, and its colour.
    greeting = models.CharField(_("greeting"), max_length=200, default="Questions? Write to us.")
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#2457d6",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #2457d6.")],
    )
    # Issue 23: how many chats an operator may have open on this site at once (0: no limit), and
    # whether a new request waits in the pool (the seed's way) or goes to an available operator.
    max_chats_per_operator = models.PositiveSmallIntegerField(
        _("max chats per operator"),
        default=0,
        help_text=_("The most chats an operator may have open on this site at once; 0: no limit."),
    )

    class Routing(models.TextChoices):
        POOL = "pool", _("The general pool: operators take requests")
        ASSIGN = "assign", _("Assign each request to the available operator with the fewest chats")

    routing = models.CharField(_("routing"), max_length=10, choices=Routing.choices, default=Routing.POOL)

    class Prechat(models.TextChoices):
        OFF = "off", _("No form: the visitor writes at once")
        OPTIONAL = "optional", _("Ask for a name and email first; the visitor may skip it")
        REQUIRED = "required", _("A name and email before the first message")

    # Issue 23: the pre-chat form the window shows before a first message.
    prechat = models.CharField(_("pre-chat form"), max_length=10, choices=Prechat.choices, default=Prechat.OFF)
    # Issue 23: whether a visitor may ask for their conversation by email (the `transcript` frame).
    transcripts = models.BooleanField(
        _("transcripts by email"),
        default=True,
        help_text=_("Visitors may ask for their conversation by email when a chat ends."),
    )
    # Issue 24: the snippet's language (empty: each visitor's browser's), the site's own words
    # in place of any of the snippet's, and how far above the page's bottom its button sits.
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        # The languages by their own names, untranslated: a reader finds theirs whatever the page's language.
        choices=[
            ("", _("The visitor's browser language")),
            ("en", "English"),
            ("de", "Deutsch"),
            ("fr", "Français"),
            ("es", "Español"),
            ("ar", "العربية"),
        ],
        help_text=_("The chat window's language; by default each visitor's browser's, among those the snippet speaks."),
    )
    texts = models.JSONField(
        _("texts"),
        default=dict,
        blank=True,
        validators=[validate_texts],
        help_text=_(
            'The site\'s own words in place of the snippet\'s, per language, e.g. {"en": {"waiting": '
            '"One moment, a person is coming"}}. The words are listed in docs/embedding.md.'
        ),
    )
    launcher_offset = models.PositiveSmallIntegerField(
        _("launcher offset"),
        default=0,
        validators=[MaxValueValidator(400)],
        help_text=_("Pixels to lift the chat button by, above a bottom bar of the site's own (0 to 400)."),
    )
    # Issue 25: business hours (visitors/hours.py). Outside them the site counts as offline (R16).
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text=_('The time zone of the hours below, an IANA name like "Europe/Paris".'),
    )
    hours = models.JSONField(
        _("opening hours"), default=dict, blank=True, validators=[validate_hours], help_text=HOURS_HELP
    )
    closed_days = models.JSONField(
        _("closed days"), default=list, blank=True, validators=[validate_closed_days], help_text=CLOSED_DAYS_HELP
    )
    # Whether the site is within its hours, as its snippets were told: kept by the sweep
    # (chat.availability.sites_hours_update), which announces each change; never by a form.
    hours_open = models.BooleanField(_("within its hours"), default=True, editable=False)
    # Issue 25: how long what the site's visitors leave behind is kept (days; 0: for ever),
    # purged in batches by chat.retention on Celery beat (docs/privacy.md).
    keep_page_views_days = models.PositiveIntegerField(
        _("keep page views (days)"),
        default=90,
        validators=[MaxValueValidator(MAX_KEEP_DAYS)],
        help_text=_("Days a visitor's page views are kept; 0: for ever."),
    )
    keep_conversations_days = models.PositiveIntegerField(
        _("keep conversations (days)"),
        default=0,
        validators=[MaxValueValidator(MAX_KEEP_DAYS)],
        help_text=_("Days an ended conversation (its messages, files, rating) is kept after it ended; 0: for ever."),
    )
    keep_idle_visitors_days = models.PositiveIntegerField(
        _("keep idle visitors (days)"),
        default=30,
        validators=[MaxValueValidator(MAX_KEEP_DAYS)],
        help_text=_(
            "Days a visitor with no conversation and no page view left is kept after they were last seen; 0: for ever."
        ),
    )
    # Site owners: staff users who manage this site in admin and the API.
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("owners"), related_name="owned_sites", blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # R16: whether any operator of the site is online, as the snippet is told. Kept by
    # chat.availability under the site's row lock as operators come and go (never by a form:
    # `visitors.services.site_save` leaves it out), so each change is seen exactly once.
    operators_online = models.BooleanField(_("operators online"), default=False, editable=False)
    # Issue 25: the key of the HMAC-SHA256 an owner's server signs its users' ids with, so that a
    # visitor's `identify` is believed (chat/identity.py). Empty until made; made and remade only
    # by visitors.services.site_rotate_identity_secret (admin's checkbox, the API), never by a form.
    identity_secret = models.CharField(_("identity secret"), max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.name

    @property
    def available(self) -> bool:
        """Whether the snippet says someone can answer (R16): an operator is online and the site
        is within its hours."""
        return self.operators_online and self.hours_open

    @property
    def origins(self) -> set[str]:
        return {line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()}

    def allows_origin(self, origin: str | None) -> bool:
        return bool(origin) and origin in self.origins


def hash_token(token: str) -> str:
    # Only a digest is stored: a leaked database does not hand out live tokens.
    return hashlib.sha256(token.encode()).hexdigest()


DEVICES = ("desktop", "phone", "tablet", "bot")
# How admin names them (its list filter, column and page); the code stays what the API says.
DEVICE_LABELS = {"desktop": _("Desktop"), "phone": _("Phone"), "tablet": _("Tablet"), "bot": _("Bot")}


class Visitor(models.Model):
    """An anonymous person on a site, the same on every page and tab (one token)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors", verbose_name=_("site"))
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    first_seen = models.DateTimeField(_("first seen"))
    # Start of the current visit; a visitor who left and came back starts a new one.
    since = models.DateTimeField(_("visit started"))
    last_seen = models.DateTimeField(_("last seen"))
    online = models.BooleanField(_("online"), default=False)
    # The page they are on (or were on last).
    url = models.CharField(_("page URL"), max_length=2048, blank=True)
    title = models.CharField(_("page title"), max_length=500, blank=True)
    referrer = models.CharField(_("referrer"), max_length=2048, blank=True)
    # Pages seen in the current visit.
    pages = models.PositiveIntegerField(_("pages"), default=0)
    # Who they are, as their browser says, and how this visit began (issue 23): written when a
    # visit starts (chat/visiting.py), from the socket's headers (visitors/clients.py).
    browser = models.CharField(_("browser"), max_length=100, blank=True)
    os = models.CharField(_("operating system"), max_length=100, blank=True)
    device = models.CharField(_("device"), max_length=10, blank=True, choices=list(DEVICE_LABELS.items()))
    language = models.CharField(_("language"), max_length=35, blank=True)
    landing_url = models.CharField(_("landing page"), max_length=2048, blank=True)
    landing_referrer = models.CharField(_("landing referrer"), max_length=2048, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=200, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=200, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=200, blank=True)
    utm_term = models.CharField(_("UTM term"), max_length=200, blank=True)
    utm_content = models.CharField(_("UTM content"), max_length=200, blank=True)
    # Visits so far, this one included.
    visits = models.PositiveIntegerField(_("visits"), default=0)
    # The operators' note on the visitor (WP_MAX_VISITOR_NOTE_LENGTH), who wrote it last and when.
    note = models.TextField(_("note"), blank=True)
    note_by = models.CharField(_("note written by"), max_length=150, blank=True)
    note_at = models.DateTimeField(_("note written at"), null=True, blank=True)
    # What the visitor gave to be answered by email (R16, the `details` frame); either may be empty.
    given_name = models.CharField(_("name left"), max_length=100, blank=True)
    email = models.EmailField(_("email left"), max_length=254, blank=True)
    # The address their last visit came from (issue 25, bans): written with the visit's start,
    # in the same UPDATE (chat/visiting.py), so an operator can block it too.
    last_address = models.GenericIPAddressField(_("last IP address"), null=True, blank=True)
    # Issue 25: the owner's id of this person, set only by a verified `identify` (its hash signed
    # with the site's identity secret): one visitor per id and site, on every device they use.
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    # Counts the rotations of a verified visitor's token, which is derived (chat/identity.py).
    token_generation = models.PositiveIntegerField(_("token generation"), default=0)
    # Issue 25: what the site says of the visitor (`attributes`), and the last events it tracked
    # (`track`): [{"name", "at"}], oldest first, WP_VISITOR_EVENTS_KEPT at most.
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    events = models.JSONField(_("events"), default=list, blank=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        indexes = [models.Index(fields=["site", "online"])]
        constraints = [
            # One visitor per verified id and site: two devices identifying at once make one.
            models.UniqueConstraint(
                fields=["site", "external_id"], condition=~models.Q(external_id=""), name="visitor_one_per_external_id"
            )
        ]

    def __str__(self) -> str:
        # Admin's name for them, in the owner's language; `name` is what messages store and
        # the sockets send (the panel and the snippet say it in their reader's language).
        return _("Visitor %(id)s") % {"id": self.pk}

    @property
    def name(self) -> str:
        return f"Visitor {self.pk}"

    @property
    def verified(self) -> bool:
        # Only a verified identify sets an external id: there is no unverified one.
        return bool(self.external_id)


class PageView(models.Model):
    # No index of its own: the (visitor, at) index below serves every lookup by visitor, and
    # each page a visitor opens inserts a row (one index fewer to write, docs/benchmarks.md).
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="page_views", db_index=False, verbose_name=_("visitor")
    )
    url = models.CharField(_("URL"), max_length=2048)
    title = models.CharField(_("title"), max_length=500, blank=True)
    referrer = models.CharField(_("referrer"), max_length=2048, blank=True)
    at = models.DateTimeField(_("viewed at"))

    class Meta:
        verbose_name = _("page view")
        verbose_name_plural = _("page views")
        indexes = [models.Index(fields=["visitor", "at"])]

    def __str__(self) -> str:
        return self.url


class OnlineSample(models.Model):
    """How many visitors (and operators) were online at a moment: counts only, taken by Celery
    beat every WP_ONLINE_SAMPLE_INTERVAL for the owners' reports (visitors/online_history.py).
    Each run writes a row for each site with anyone online, and one without a site: the whole
    install's, which also says that a run took place. A site with no row in a run had 0."""

    # No index of its own: the (site, at) index below serves every read, one index fewer to write.
    site = models.ForeignKey(Site, null=True, on_delete=models.CASCADE, related_name="online_samples", db_index=False)
    at = models.DateTimeField()
    visitors = models.PositiveIntegerField()
    operators = models.PositiveIntegerField()

    class Meta:
        # Only its name is ever shown: in the list of what deleting a site deletes with it.
        verbose_name = _("online count")
        verbose_name_plural = _("online counts")
        indexes = [models.Index(fields=["site", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M}: {self.visitors}"
