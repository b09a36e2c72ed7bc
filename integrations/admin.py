"""Webhooks in Django admin (issue 25): a site's owners add and change them, read their
delivery log (newest first, read-only) and send a test. Every save, delete and test goes
through integrations.services, which checks the URL (no private address) and the events."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from infra.errors import Invalid
from visitors.admin import OwnedSiteFilter, SiteScopedAdmin

from . import services
from .models import EVENTS, Delivery, Webhook


class WebhookForm(forms.ModelForm):
    # Fields declared on the form take no label from the model: without one given, theirs is English.
    url = forms.URLField(max_length=500, assume_scheme="https", label=Webhook._meta.get_field("url").verbose_name)
    events = forms.MultipleChoiceField(
        choices=[(event, event) for event in EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=Webhook._meta.get_field("events").verbose_name,
    )
    new_secret = forms.BooleanField(
        required=False, label=_("New secret"), help_text=_("Make a new secret (the old one stops working).")
    )

    class Meta:
        model = Webhook
        fields = ["site", "url", "events", "active"]

    def clean_url(self):
        try:
            return services.webhook_url_check(self.cleaned_data["url"])
        except Invalid as invalid:
            raise ValidationError(invalid.detail) from None


@admin.register(Webhook)
class WebhookAdmin(SiteScopedAdmin):
    form = WebhookForm
    owner_may_add = owner_may_change = True
    list_display = ["url", "site", "event_list", "active", "created_at", "log"]
    list_filter = [("site", OwnedSiteFilter), "active"]
    readonly_fields = ["secret", "created_at"]
    actions = ["send_test"]

    def has_delete_permission(self, request, obj=None):
        # Owners remove their own webhooks (with their log).
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "site":
            field.queryset = self.owned_choices(request, field.queryset)
        return field

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                services.webhook_update(
                    webhook=obj, url=data["url"], events=data["events"], active=data["active"],
                    new_secret=data.get("new_secret", False),
                )  # fmt: skip
            else:
                created = services.webhook_create(
                    site=data["site"], url=data["url"], events=data["events"], active=data["active"]
                )
                obj.pk, obj.secret = created.pk, created.secret
        except Invalid as invalid:
            self.message_user(request, invalid.detail, messages.ERROR)

    def delete_model(self, request, obj):
        services.webhook_delete(webhook=obj)

    def delete_queryset(self, request, queryset):
        for webhook in queryset:
            services.webhook_delete(webhook=webhook)

    @admin.display(description=_("events"))
    def event_list(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events) or "—"

    @admin.display(description=_("delivery log"))
    def log(self, webhook: Webhook) -> str:
        link = reverse("admin:integrations_delivery_changelist") + f"?webhook__id__exact={webhook.pk}"
        return format_html('<a href="{}">{}</a>', link, gettext("deliveries"))

    @admin.action(description=_("Send test (a ping, at once)"))
    def send_test(self, request, queryset):
        for webhook in queryset:
            services.delivery_ping(webhook=webhook)
        self.message_user(
            request,
            gettext("A ping is on its way to %(count)s webhook(s): see their delivery log.")
            % {"count": queryset.count()},
        )


@admin.register(Delivery)
class DeliveryAdmin(SiteScopedAdmin):
    """The delivery log: read-only, newest first."""

    site_lookup = "webhook__site"
    list_display = [
        "id",
        "event",
        "webhook",
        "room_id",
        "status",
        "attempts",
        "response_code",
        "error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "event", ("webhook", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=webhook__id", "=room_id"]
    list_select_related = ["webhook"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def site_ids_of(self, obj) -> set[int]:
        return {obj.webhook.site_id}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
