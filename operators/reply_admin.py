"""Admin for a site's canned replies (issue 23). Registered by chat/admin.py: this module uses
visitors.admin, which must not be imported while operators.admin, the admin site, loads."""

from django.contrib import admin, messages

from infra.errors import ChatError
from visitors.admin import OwnedSiteFilter, SiteScopedAdmin, is_site_owner

from .models import CannedReply
from .replies import canned_reply_save


@admin.register(CannedReply)
class CannedReplyAdmin(SiteScopedAdmin):
    """A site's canned replies, for its owners to manage (issue 23); operators keep their own in
    the panel, which owners do not see here."""

    list_display = ["shortcut", "site", "operator", "uses", "updated_at"]
    list_filter = [("site", OwnedSiteFilter)]
    search_fields = ["shortcut", "body"]
    fields = ["site", "shortcut", "body", "uses"]
    readonly_fields = ["uses"]
    owner_may_add = True
    owner_may_change = True

    def has_delete_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return is_site_owner(request) and (obj is None or self.owns(request, obj))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "site":
            field.queryset = self.owned_choices(request, field.queryset)
            field.required = True
        return field

    def save_model(self, request, obj, form, change):
        try:
            canned_reply_save(user=request.user, reply=obj)
        except ChatError as error:
            # Checked by the form's own validation first; a race with another save lands here.
            self.message_user(request, error.detail, level=messages.ERROR)
