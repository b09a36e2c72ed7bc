from django.contrib import admin

from .models import Message, Room


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    readonly_fields = ["sender", "name", "body", "at"]
    fields = readonly_fields


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["id", "site", "visitor", "operator", "status", "reason", "created_at"]
    list_filter = ["status", "site", "operator"]
    readonly_fields = ["site", "visitor", "operator", "created_at", "accepted_at", "ended_at"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "sender", "name", "at"]
    list_filter = ["sender"]
    search_fields = ["body"]
