from django.contrib import admin

from .models import PageView, Site, Visitor


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "created_at"]
    search_fields = ["key", "name"]


class PageViewInline(admin.TabularInline):
    model = PageView
    extra = 0
    can_delete = False
    readonly_fields = ["url", "title", "referrer", "at"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["id", "site", "online", "url", "pages", "since", "last_seen"]
    list_filter = ["site", "online"]
    readonly_fields = [f.name for f in Visitor._meta.fields]
    inlines = [PageViewInline]
