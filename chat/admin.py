"""Admin for rooms (with their transcript) and messages: read-only records, plus two
actions on rooms: export transcripts as CSV, and end rooms now. And the bans operators made
(issue 25), which owners lift."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from infra.errors import NotAllowed, NotFound
from operators import reply_admin  # noqa: F401 - registers the sites' canned replies' admin
from visitors.admin import OwnedSiteFilter, SiteScopedAdmin, VisitorAdmin
from visitors.models import Visitor

from . import operator_admin, privacy  # noqa: F401 - registers the operators' and their logins' admin
from .bans import bans_lift
from .files import file_url
from .models import Attachment, Ban, Erasure, Message, Room
from .selectors import room_transcript
from .services import rooms_end
from .transcripts import transcripts_csv


def transcript_table(room: Room) -> str:
    """The room's transcript as the panel shows it (R15): the visitor's conversation up to and
    including this room, oldest first; the earlier rooms' lines dimmed and linked to their room,
    the system lines (who was there when) as muted lines of their own. Every text escaped."""
    lines = room_transcript(room=room)
    if not lines:
        return gettext("No messages yet.")
    rows = []
    for line in lines:
        earlier = line.room_id != room.pk
        kind = "system" if line.sender == Message.Sender.SYSTEM else line.sender
        link = reverse("admin:chat_room_change", args=[line.room_id])
        where = (
            format_html('<a href="{}">{}</a>', link, gettext("room %(id)s") % {"id": line.room_id}) if earlier else ""
        )
        who = "" if kind == "system" else line.name
        at = date_format(timezone.localtime(line.at), "Y-m-d H:i:s")
        rows.append(
            (
                f"wp-line wp-{kind}" + (" wp-earlier" if earlier else ""),
                kind,
                at,
                where,
                who,
                line.body,
                file_link(line),
            )
        )
    body = format_html_join(
        "",
        '<tr class="{}" data-sender="{}"><td class="wp-at">{}</td><td>{}</td>'
        '<td class="wp-who">{}</td><td class="wp-body">{}{}</td></tr>',
        rows,
    )
    return format_html(
        '<table class="wp-transcript"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>'
        "</thead><tbody>{}</tbody></table>",
        gettext("at"),
        gettext("room"),
        gettext("who"),
        gettext("message"),
        body,
    )


def file_link(message: Message) -> str:
    """The file a message carries (issue 23): its name, linked to it by a fresh signed link
    (opened in a new tab, telling it nothing of this page)."""
    attachment = message.attachment if message.attachment_id is not None else None
    if attachment is None:
        return ""
    return format_html(
        ' <a class="wp-file" href="{}" target="_blank" rel="noopener noreferrer">{}</a> ({})',
        file_url(attachment),
        attachment.name,
        gettext("%(size)s bytes") % {"size": attachment.size},
    )


class WhenSetFilter(admin.SimpleListFilter):
    """Rows whose `field` (a time) is set, or not: `options` is ((value, label) when set,
    (value, label) when not)."""

    field = ""
    options: tuple[tuple[str, str], tuple[str, str]] = (("yes", _("Yes")), ("no", _("No")))

    def lookups(self, request, model_admin):
        return list(self.options)

    def queryset(self, request, queryset):
        (when_set, _), (when_not, _) = self.options
        if self.value() in (when_set, when_not):
            return queryset.filter(**{f"{self.field}__isnull": self.value() == when_not})
        return queryset


class OfflineFilter(WhenSetFilter):
    """Offline requests (R16): asked while nobody could answer."""

    title = _("offline request")
    parameter_name = "offline"
    field = "offline_at"


class ReadOnlyRecordAdmin(SiteScopedAdmin):
    """Records nothing edits by hand: their page has no save buttons (owners act on them by actions)."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Room)
class RoomAdmin(ReadOnlyRecordAdmin):
    # Owners act on their rooms (the actions below); every field stays read-only.
    owner_may_change = True
    list_display = [
        "id", "site", "visitor", "contact", "operator", "status", "offline", "reason", "message_count", "rating",
        "created_at", "ended_at",
    ]  # fmt: skip
    list_filter = [
        "status",
        OfflineFilter,
        ("site", OwnedSiteFilter),
        # Operators of the rooms this user may see: the admin's queryset is scoped already.
        ("operator", admin.RelatedOnlyFieldListFilter),
        "reason",
        "rating",
        "created_at",
    ]
    list_select_related = ["site", "visitor", "operator__user"]
    date_hierarchy = "created_at"
    search_fields = ["messages__body", "visitor__given_name", "visitor__email"]
    search_help_text = _("Search the rooms' messages, and the names and emails their visitors left.")
    ordering = ["-created_at"]
    fields = readonly_fields = [
        "site",
        "visitor",
        "contact",
        "operator",
        "status",
        "reason",
        "visitor_in_room",
        "created_at",
        "accepted_at",
        "expires_at",
        "ended_at",
        "offline_at",
        "owners_notified_at",
        "rating",
        "rating_comment",
        "rated_at",
        "transcript_email",
        "transcript_asked_at",
        "transcript_sent_at",
        "transcript",
    ]
    actions = ["export_transcripts", "end_rooms"]

    class Media:
        css = {"all": ["chat/admin-transcript.css"]}

    @admin.display(description=_("transcript"))
    def transcript(self, room: Room) -> str:
        return transcript_table(room)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(description=_("messages"), ordering="message_count")
    def message_count(self, room: Room) -> int:
        return room.message_count

    @admin.display(description=_("offline"), boolean=True, ordering="offline_at")
    def offline(self, room: Room) -> bool:
        return room.offline_at is not None

    @admin.display(description=_("name and email left"))
    def contact(self, room: Room) -> str:
        return " · ".join(filter(None, [room.visitor.given_name, room.visitor.email]))

    @admin.action(description=_("Export transcripts as CSV"), permissions=["view"])
    def export_transcripts(self, request: HttpRequest, queryset) -> StreamingHttpResponse:
        response = StreamingHttpResponse(transcripts_csv(queryset), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="transcripts-{stamp}.csv"'
        return response

    @admin.action(description=_("End selected rooms now"), permissions=["change"])
    def end_rooms(self, request: HttpRequest, queryset) -> None:
        ended = rooms_end(room_ids=queryset.values_list("pk", flat=True), now=timezone.now())
        skipped = queryset.count() - len(ended)
        self.message_user(
            request,
            gettext("Ended %(count)s room(s): their visitors are free to ask again.") % {"count": len(ended)}
            + (" " + gettext("%(count)s had ended already.") % {"count": skipped} if skipped else ""),
            messages.SUCCESS,
        )


@admin.register(Message)
class MessageAdmin(SiteScopedAdmin):
    site_lookup = "room__site"
    list_display = ["id", "room", "site", "sender", "event", "name", "text", "at"]
    list_filter = ["sender", "event", ("room__site", OwnedSiteFilter), "at"]
    list_select_related = ["room__site"]
    date_hierarchy = "at"
    search_fields = ["body"]
    ordering = ["-id"]
    fields = readonly_fields = ["room", "sender", "event", "name", "operator", "body", "file", "client_id", "at"]

    def site_ids_of(self, obj: Message) -> set[int]:
        return {obj.room.site_id}

    @admin.display(description=_("file"))
    def file(self, message: Message) -> str:
        return file_link(message) or "—"

    # A message deleted alone (superusers only) takes its file with it: its attachment, and so
    # the stored files (chat/files.py). Deleted with its room, the room's cascade does it.
    def delete_model(self, request, obj: Message) -> None:
        attachment_id = obj.attachment_id
        super().delete_model(request, obj)
        Attachment.objects.filter(pk=attachment_id).delete()

    def delete_queryset(self, request, queryset) -> None:
        attachment_ids = list(queryset.exclude(attachment=None).values_list("attachment_id", flat=True))
        super().delete_queryset(request, queryset)
        Attachment.objects.filter(pk__in=attachment_ids).delete()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("site"), ordering="room__site")
    def site(self, message: Message):
        return message.room.site

    @admin.display(description=_("message"))
    def text(self, message: Message) -> str:
        return Truncator(message.body).chars(80)


# Visitors' data on request (issue 25): erase, export ---------------------------------------


admin.site.unregister(Visitor)


@admin.register(Visitor)
class VisitorPrivacyAdmin(VisitorAdmin):
    """The visitors' admin (visitors/admin.py) with, on each visitor's page, "Export (JSON)"
    (everything stored about them, as a download) and "Erase" (after a confirmation page),
    for the owners of their site (chat/privacy.py)."""

    change_form_template = "admin/visitors/visitor/change_form.html"

    def get_urls(self):
        own = [
            path("<int:visitor_id>/erase/", self.admin_site.admin_view(self.erase_view), name="visitors_visitor_erase"),
            path(
                "<int:visitor_id>/export/", self.admin_site.admin_view(self.export_view), name="visitors_visitor_export"
            ),
        ]
        return own + super().get_urls()

    def _visitor_or_404(self, request: HttpRequest, visitor_id: int) -> Visitor:
        visitor = self.get_queryset(request).filter(pk=visitor_id).first()
        if visitor is None or not self.has_view_permission(request, visitor):
            raise Http404("no such visitor")
        return visitor

    def export_view(self, request: HttpRequest, visitor_id: int) -> HttpResponse:
        self._visitor_or_404(request, visitor_id)
        try:
            document = privacy.visitor_export(user=request.user, visitor_id=visitor_id)
        except (NotFound, NotAllowed) as error:
            raise PermissionDenied(str(error)) from None
        response = JsonResponse(document, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="visitor-{visitor_id}.json"'
        return response

    def erase_view(self, request: HttpRequest, visitor_id: int) -> HttpResponse:
        visitor = self._visitor_or_404(request, visitor_id)
        if request.method == "POST":
            try:
                privacy.visitor_erase(user=request.user, visitor_id=visitor_id)
            except (NotFound, NotAllowed) as error:
                raise PermissionDenied(str(error)) from None
            self.message_user(
                request, gettext("%(name)s and everything stored about them were erased.") % {"name": visitor.name}
            )
            return HttpResponseRedirect(reverse("admin:visitors_visitor_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Erase %(name)s?") % {"name": visitor.name},
            "opts": self.model._meta,
            "visitor": visitor,
            "rooms": visitor.rooms.count(),
            "page_views": visitor.page_views.count(),
        }
        return TemplateResponse(request, "admin/visitors/visitor/erase_confirmation.html", context)


@admin.register(Erasure)
class ErasureAdmin(SiteScopedAdmin):
    """Who erased which visitor id, when: a record, never changed."""

    list_display = ["at", "site", "visitor_id", "by_name"]
    list_filter = [("site", OwnedSiteFilter)]
    list_select_related = ["site"]
    ordering = ["-at"]
    fields = readonly_fields = ["at", "site", "visitor_id", "by_name"]

    def has_delete_permission(self, request, obj=None):
        return False


class BanStateFilter(WhenSetFilter):
    """Bans in force, or lifted."""

    title = _("state")
    parameter_name = "state"
    field = "lifted_at"
    options = (("lifted", _("Lifted")), ("active", _("In force")))


@admin.register(Ban)
class BanAdmin(ReadOnlyRecordAdmin):
    """The visitors (and addresses) operators blocked from the panel (issue 25). Owners see their
    sites' and lift them; nothing is edited by hand."""

    owner_may_change = True  # the lift action; every field stays read-only
    list_display = [
        "id",
        "site",
        "visitor",
        "address",
        "reason_text",
        "created_by_name",
        "created_at",
        "active",
        "lifted_at",
    ]
    list_filter = [BanStateFilter, ("site", OwnedSiteFilter), "created_at"]
    list_select_related = ["site", "visitor"]
    search_fields = ["reason", "address"]
    ordering = ["-created_at"]
    fields = readonly_fields = [
        "site", "visitor", "address", "reason", "created_by_name", "created_at", "lifted_at", "lifted_by",
    ]  # fmt: skip
    actions = ["lift_bans"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("in force"), boolean=True, ordering="lifted_at")
    def active(self, ban: Ban) -> bool:
        return ban.lifted_at is None

    @admin.display(description=_("reason"))
    def reason_text(self, ban: Ban) -> str:
        return Truncator(ban.reason).chars(80)

    @admin.action(description=_("Lift selected bans"), permissions=["change"])
    def lift_bans(self, request: HttpRequest, queryset) -> None:
        lifted = bans_lift(user=request.user, ban_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            gettext("Lifted %(count)s ban(s): those visitors and addresses may chat again.") % {"count": len(lifted)},
            messages.SUCCESS,
        )
