"""Admin for sites and visitors, and the site-owner scoping every White Panel admin shares.

Superusers see and change everything. A staff user who owns sites (`Site.owners`)
sees only those sites and what belongs to them, whatever Django model permissions
they hold: ownership is the permission.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import PageView, Site, Visitor
from .owners import site_ids_owned_by
from .services import site_rotate_identity_secret, site_save
from .widget_texts import MIN_CONTRAST, RIGHT_TO_LEFT, best_contrast, table


def owned_site_ids(request: HttpRequest) -> frozenset[int]:
    # Asked many times while one admin page renders: read once per request.
    if not hasattr(request, "_wp_owned_site_ids"):
        request._wp_owned_site_ids = site_ids_owned_by(user=request.user)
    return request._wp_owned_site_ids


def is_site_owner(request: HttpRequest) -> bool:
    user = request.user
    return user.is_active and user.is_staff and not user.is_superuser and bool(owned_site_ids(request))


class SiteScopedAdmin(admin.ModelAdmin):
    """A model admin whose rows belong to sites: owners get only their sites' rows.

    `site_lookup` is the path from the model to its site ("site", "room__site").
    Owners may view; subclasses say what else they may do (`owner_may_add`,
    `owner_may_change`); only superusers delete.
    """

    site_lookup = "site"
    owner_may_add = False
    owner_may_change = False

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        # A subquery, not a join: rows reached through several owned sites appear once.
        owned = self.model._default_manager.filter(**{f"{self.site_lookup}__in": owned_site_ids(request)})
        return rows.filter(pk__in=owned.values("pk"))

    def site_ids_of(self, obj) -> set[int]:
        return {getattr(obj, f"{self.site_lookup}_id")}

    def owns(self, request: HttpRequest, obj) -> bool:
        return bool(self.site_ids_of(obj) & owned_site_ids(request))

    def has_module_permission(self, request):
        return super().has_module_permission(request) or is_site_owner(request)

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return is_site_owner(request) and (obj is None or self.owns(request, obj))

    def has_add_permission(self, request):
        if request.user.is_superuser:
            return super().has_add_permission(request)
        return self.owner_may_add and is_site_owner(request)

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return self.owner_may_change and is_site_owner(request) and (obj is None or self.owns(request, obj))

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def owned_choices(self, request: HttpRequest, queryset: QuerySet[Site]) -> QuerySet[Site]:
        return queryset if request.user.is_superuser else queryset.filter(pk__in=owned_site_ids(request))


class OwnedSiteFilter(admin.RelatedOnlyFieldListFilter):
    """A site filter listing only the sites the user manages."""

    def field_choices(self, field, request, model_admin):
        choices = super().field_choices(field, request, model_admin)
        if request.user.is_superuser:
            return choices
        return [(pk, label) for pk, label in choices if pk in owned_site_ids(request)]


# Sites ---------------------------------------------------------------------------


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = [
            "key", "name", "allowed_origins", "greeting", "color", "language", "texts", "launcher_offset",
            "max_chats_per_operator", "routing", "prechat", "transcripts", "timezone", "hours", "closed_days",
            "keep_page_views_days", "keep_conversations_days", "keep_idle_visitors_days", "owners",
        ]  # fmt: skip
        widgets = {
            "allowed_origins": forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"}),
            "color": forms.TextInput(attrs={"type": "color"}),
            "texts": forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"}),
            "hours": forms.Textarea(attrs={"rows": 5, "cols": 60, "spellcheck": "false"}),
            "closed_days": forms.Textarea(attrs={"rows": 2, "cols": 60, "spellcheck": "false"}),
        }
        help_texts = {
            "key": _("The snippet's data-site. Changing it breaks every page that embeds the old key."),
            "greeting": _("The chat window's title while the visitor has no chat."),
            "color": _("The chat button's and window's colour."),
            "owners": _("Staff users who manage this site, its operators and transcripts."),
        }

    # Issue 25: the identity secret is made by the service, never typed in.
    new_identity_secret = forms.BooleanField(
        required=False,
        label=_("Make a new identity secret"),
        help_text=_(
            "The key your server signs its users' ids with for the snippet's identify() "
            "(docs/api.md); the old one verifies nobody from now on."
        ),
    )

    # An emptied box: no hours (always open), no closed days.
    def clean_hours(self):
        return self.cleaned_data.get("hours") or {}

    def clean_closed_days(self):
        return self.cleaned_data.get("closed_days") or []


@admin.register(Site)
class SiteAdmin(SiteScopedAdmin):
    form = SiteForm
    site_lookup = "pk"
    owner_may_change = True
    list_display = ["key", "name", "origins_list", "swatch", "operator_count", "created_at"]
    search_fields = ["key", "name", "allowed_origins"]
    filter_horizontal = ["owners"]
    # The Look fieldset has the widget's preview beside it (templates/admin/visitors/site/change_form.html).
    fieldsets = [
        (_("Site"), {"fields": ["key", "name", "allowed_origins"]}),
        (_("Look"), {"fields": ["greeting", "color", "language", "texts", "launcher_offset"]}),
        (_("Chat"), {"fields": ["routing", "max_chats_per_operator", "prechat", "transcripts"]}),
        (_("Hours"), {"fields": ["timezone", "hours", "closed_days"]}),
        (_("Verified visitors"), {"fields": ["identity_secret", "new_identity_secret"]}),
        (_("Privacy"), {"fields": ["keep_page_views_days", "keep_conversations_days", "keep_idle_visitors_days"]}),
        (_("Owners"), {"fields": ["owners"]}),
    ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The preview's words: the snippet's own table, the one the served snippet carries.
        # The saved look stands in for a field the user may only read.
        site = obj or Site()
        saved = {"greeting": site.greeting, "color": site.color, "language": site.language, "texts": site.texts}
        context["widget_preview"] = {
            "texts": table(),
            "right_to_left": sorted(RIGHT_TO_LEFT),
            "saved": {**saved, "offset": site.launcher_offset},
            # The preview's own line under it (static/admin/site_preview.js fills in the places).
            "words": {
                "fixed": gettext("In %(language)s, as every visitor sees it."),
                "browser": gettext(
                    "In your browser's language (%(code)s); each visitor sees theirs, if the snippet speaks it."
                ),
            },
        }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def site_ids_of(self, obj) -> set[int]:
        return {obj.pk}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(operator_count=Count("operators", distinct=True))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "owners":
            # Owners work in admin: only staff users can be one.
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(is_staff=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # Owners edit how their site looks and where it runs, not who owns it or its key.
        return ["identity_secret"] if request.user.is_superuser else ["key", "owners", "identity_secret"]

    def save_model(self, request, obj, form, change):
        site_save(site=obj)
        if form.cleaned_data.get("new_identity_secret"):
            obj.identity_secret = site_rotate_identity_secret(site_id=obj.pk)
            messages.info(request, gettext("The site has a new identity secret: give it to your server."))
        contrast = best_contrast(obj.color)
        if contrast < MIN_CONTRAST:
            # Issue 24: the snippet picks dark or white text, whichever reads better; on some
            # mid-tones neither reaches WCAG AA.
            messages.warning(
                request,
                gettext(
                    "The colour %(color)s cannot carry readable text: the best the chat button's text reaches "
                    "on it is %(contrast)s:1, under the %(minimum)s:1 visitors with weaker eyesight need. "
                    "A darker or a lighter colour fixes it."
                )
                % {"color": obj.color, "contrast": f"{contrast:.1f}", "minimum": MIN_CONTRAST},
            )

    @admin.display(description=_("allowed origins"))
    def origins_list(self, site: Site) -> str:
        return ", ".join(sorted(site.origins)) or "—"

    @admin.display(description=_("colour"))
    def swatch(self, site: Site) -> str:
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;border-radius:3px;'
            'vertical-align:middle;background:{}"></span> {}',
            site.color,
            site.color,
        )

    @admin.display(description=_("operators"), ordering="operator_count")
    def operator_count(self, site: Site) -> int:
        return site.operator_count


# Visitors ------------------------------------------------------------------------

PAGE_TRAIL_LIMIT = 100


class LatestPageViews(BaseInlineFormSet):
    def get_queryset(self):
        # Newest first (the inline's ordering), the latest ones only: a long visit has thousands.
        return super().get_queryset()[:PAGE_TRAIL_LIMIT]


class ReadOnlyInline(admin.TabularInline):
    """Rows shown inside an object's page, never edited there."""

    extra = 0

    def has_view_permission(self, request, obj=None):
        # Shown only inside its parent's page, which has checked the user may see it.
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PageViewInline(ReadOnlyInline):
    model = PageView
    formset = LatestPageViews
    ordering = ["-at", "-id"]
    fields = readonly_fields = ["at", "url", "title", "referrer"]
    # Lazy: translated when shown, in the page's language.
    verbose_name_plural = lazy(
        lambda: gettext("page trail (latest %(count)s, newest first)") % {"count": PAGE_TRAIL_LIMIT}, str
    )()


@admin.register(Visitor)
class VisitorAdmin(SiteScopedAdmin):
    """Visitors are recorded by the snippet: read-only here."""

    list_display = [
        "id", "site", "online", "given_name", "email", "external_id", "url", "title", "pages", "device", "visits",
        "since", "last_seen",
    ]  # fmt: skip
    list_filter = [("site", OwnedSiteFilter), "online", "device"]
    list_select_related = ["site"]
    search_fields = ["given_name", "email", "external_id", "url", "title", "page_views__url", "page_views__title"]
    date_hierarchy = "last_seen"
    ordering = ["-last_seen"]
    fields = readonly_fields = [
        "site",
        "online",
        "given_name",
        "email",
        "url",
        "title",
        "referrer",
        "pages",
        "since",
        "first_seen",
        "last_seen",
        # Who they are (issue 23): from their browser's headers, when the visit started.
        "browser",
        "os",
        "device",
        "language",
        "visits",
        "landing_url",
        "landing_referrer",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "note",
        "note_by",
        "note_at",
        # Issue 25: the site's own id of them once verified, what it said of them, what it tracked.
        "external_id",
        "attributes",
        "events",
    ]
    inlines = [PageViewInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
