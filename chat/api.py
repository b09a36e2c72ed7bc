"""Rooms and their messages over HTTP, and the visitors and operators with their chat state:
the same objects as the sockets (chat/events.py) and, for sending and closing, the same
services with the same rules."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from infra.api import MAX_ID, StringField, error_responses
from infra.errors import Invalid, NotAllowed, NotFound, RateLimited
from infra.ratelimit import rate_limiter
from operators.models import Operator
from operators.selectors import operator_of, operators_visible_to
from visitors import services as visitor_services
from visitors.models import Visitor
from visitors.owners import sites_owned_by
from visitors.selectors import TRAIL_LIMIT, sites_visible_to, visitor_trail, visitor_visible_to, visitors_online
from visitors.visits import visits

from . import bans, events, files, privacy, reports, selectors, services
from .models import Ban, Message, Room
from .selectors import live_rooms_by_visitor

# Objects: declared for the schema, written by chat/events.py ------------------------


class RoomOperatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RoomReturnedSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Room.Reason.choices, help_text="Why the room before it ended.")
    operator = serializers.CharField(allow_null=True, help_text="Whose room that was.")


class RoomContactSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="May be empty.")
    email = serializers.CharField(help_text="May be empty.")


class RoomTranscriptSerializer(serializers.Serializer):
    email = serializers.CharField(help_text="Where it is mailed.")
    asked_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True, help_text="When it was mailed; null until then.")


class RoomSerializer(serializers.Serializer):
    """SPEC §3's room, as the sockets send it."""

    id = serializers.IntegerField()
    site = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Room.Status.choices)
    visitor = serializers.IntegerField()
    operator = RoomOperatorSerializer(allow_null=True)
    visitor_in_room = serializers.BooleanField()
    window_opened = serializers.BooleanField(
        help_text="False in a chat an operator started until the visitor opens its window."
    )
    visitor_seen = serializers.IntegerField(help_text="The newest message of the room its visitor has seen (0: none).")
    operator_seen = serializers.IntegerField(
        help_text="The newest message of the room its operator has seen (0: none)."
    )
    routed = serializers.BooleanField(help_text="Given to its operator by the site's routing, not taken from the pool.")
    rating = serializers.IntegerField(allow_null=True, help_text="The visitor's rating of the chat, 1-5, or null.")
    rating_comment = serializers.CharField(allow_null=True, help_text="The visitor's comment with their rating.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When a `closing` room expires.")
    reason = serializers.ChoiceField(
        choices=Room.Reason.choices, allow_null=True, help_text="Why an `expired` room ended."
    )
    created_at = serializers.DateTimeField()
    returned = RoomReturnedSerializer(
        allow_null=True,
        help_text="A request back in the pool by itself (R14): its visitor's question was left unanswered.",
    )
    after_hours = serializers.BooleanField(
        help_text="Made while its site was outside its business hours (issue 25): the panels do not alert."
    )
    offline_at = serializers.DateTimeField(
        allow_null=True,
        help_text="An offline request (R16) since then: asked while no operator was online, or not taken in time.",
    )
    contact = RoomContactSerializer(
        allow_null=True, help_text="The name and email the visitor left (R16), null if neither."
    )
    transcript = RoomTranscriptSerializer(
        allow_null=True,
        help_text="The visitor asked for the conversation by email (mailed once the room has ended); null if not.",
    )

    def to_representation(self, room: Room) -> dict:
        return events.room_payload(room)


class MessageFileSerializer(serializers.Serializer):
    """The file a message carries (issue 23)."""

    name = serializers.CharField(help_text="The sender's file name, cleaned.")
    size = serializers.IntegerField(help_text="Bytes.")
    type = serializers.CharField(help_text="Its content type as White Panel determined it.")
    image = serializers.BooleanField(help_text="A PNG, JPEG, GIF or WebP image that decoded: shown inline.")
    url = serializers.CharField(
        help_text="The file, relative to this server: a signed link that works for WP_FILE_URL_TTL "
        "(every read of the message gives a fresh one)."
    )
    thumb = serializers.CharField(allow_null=True, help_text="An image's thumbnail (at most 320 px), else null.")
    width = serializers.IntegerField(allow_null=True, help_text="An image's width in pixels, else null.")
    height = serializers.IntegerField(allow_null=True, help_text="An image's height in pixels, else null.")


class MessageSerializer(serializers.Serializer):
    """SPEC §3's message, as the sockets send it."""

    id = serializers.IntegerField()
    room = serializers.IntegerField()
    sender = serializers.ChoiceField(
        choices=Message.Sender.choices,
        help_text="`system`: a line of the transcript saying who was there when; `note`: an operators' note, "
        "never shown to the visitor.",
    )
    name = serializers.CharField(help_text="The sender's name; a system line's: whom it is about.")
    body = serializers.CharField(help_text="The text; a system line's, in English.")
    at = serializers.DateTimeField()
    client_id = serializers.CharField(allow_null=True)
    event = serializers.ChoiceField(
        choices=Message.Event.choices,
        allow_null=True,
        help_text="A system line's code (R15: docs/protocol.md lists them); null for what people wrote.",
    )
    file = MessageFileSerializer(allow_null=True, help_text="The file it carries (its body is the caption), or null.")

    def to_representation(self, message: Message) -> dict:
        return events.message_payload(message)


class VisitorSerializer(serializers.Serializer):
    """SPEC §3's visitor, as the panel gets it."""

    id = serializers.IntegerField()
    site = serializers.IntegerField()
    url = serializers.CharField()
    title = serializers.CharField()
    referrer = serializers.CharField()
    online = serializers.BooleanField()
    since = serializers.DateTimeField(help_text="Start of the current visit.")
    pages = serializers.IntegerField(help_text="Pages seen in this visit.")
    browser = serializers.CharField(help_text="Browser and major version from the User-Agent, e.g. `Firefox 128` ('').")
    os = serializers.CharField(help_text="Operating system from the User-Agent, e.g. `iOS 17.5` ('': unknown).")
    device = serializers.ChoiceField(
        choices=["desktop", "phone", "tablet", "bot", ""], help_text="Device type from the User-Agent ('': unknown)."
    )
    language = serializers.CharField(help_text="The first language of the browser's Accept-Language, e.g. `de-CH`.")
    visits = serializers.IntegerField(help_text="Visits so far, this one included.")
    room = RoomSerializer(allow_null=True, help_text="The visitor's live room, if any.")
    name = serializers.CharField(help_text="The name the visitor left (R16), or empty.")
    email = serializers.CharField(help_text="The email the visitor left (R16), or empty.")


class VisitorPageSerializer(serializers.Serializer):
    url = serializers.CharField()
    title = serializers.CharField()
    referrer = serializers.CharField()
    at = serializers.DateTimeField(help_text="When the visitor opened it.")


class VisitorUtmSerializer(serializers.Serializer):
    source = serializers.CharField()
    medium = serializers.CharField()
    campaign = serializers.CharField()
    term = serializers.CharField()
    content = serializers.CharField()


class VisitorEventSerializer(serializers.Serializer):
    name = serializers.CharField()
    at = serializers.DateTimeField(help_text="When the site tracked it.")


class VisitorDetailSerializer(VisitorSerializer):
    """A visitor with what the panel's side panel shows (issue 23)."""

    first_seen = serializers.DateTimeField(help_text="Their first visit's start.")
    last_seen = serializers.DateTimeField(help_text="Their latest page (up to a page view flush behind).")
    landing_url = serializers.CharField(help_text="The first page of this visit.")
    landing_referrer = serializers.CharField(help_text="What sent them there ('': typed or bookmarked).")
    utm = VisitorUtmSerializer(help_text="The landing page's `utm_*` parameters ('' each if absent).")
    note = serializers.CharField(help_text="The operators' note on the visitor ('': none).")
    note_by = serializers.CharField(allow_null=True, help_text="The operator who wrote the note last.")
    note_at = serializers.DateTimeField(allow_null=True, help_text="When.")
    trail = VisitorPageSerializer(many=True, help_text=f"This visit's pages, newest first, {TRAIL_LIMIT} at most.")
    verified = serializers.BooleanField(
        help_text="The site's server vouched for who they are (`identify` with the id's signature, issue 25)."
    )
    external_id = serializers.CharField(allow_null=True, help_text="The site's own id of the person, once verified.")
    attributes = serializers.DictField(
        child=serializers.JSONField(),
        help_text="What the site said of them (`attributes`): names to strings, numbers or booleans.",
    )
    events = VisitorEventSerializer(many=True, help_text="The events the site tracked (`track`), oldest first.")


class ExportSiteSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()


class ExportVisitorSerializer(VisitorDetailSerializer):
    room = None
    trail = None


class ExportMessageSerializer(MessageSerializer):
    internal = serializers.BooleanField(help_text="An operators' note about the visitor, never shown to them.")


class ExportConversationSerializer(RoomSerializer):
    accepted_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True, help_text="null while the room is live.")
    rated_at = serializers.DateTimeField(allow_null=True)
    messages = ExportMessageSerializer(many=True, help_text="Oldest first, the operators' notes included.")


class VisitorExportSerializer(serializers.Serializer):
    """Everything stored about a visitor (issue 25, docs/privacy.md)."""

    exported_at = serializers.DateTimeField()
    site = ExportSiteSerializer()
    visitor = ExportVisitorSerializer()
    page_views = VisitorPageSerializer(many=True, help_text="Every page view stored, oldest first.")
    conversations = ExportConversationSerializer(many=True, help_text="Every room of theirs, oldest first.")


class VisitorNoteSerializer(serializers.Serializer):
    note = StringField(
        max_length=settings.WP_MAX_VISITOR_NOTE_LENGTH,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Replaces the note; '' removes it.",
    )


class OperatorSerializer(serializers.Serializer):
    """SPEC §3's operator, as the panel gets it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    online = serializers.BooleanField(help_text="A panel of theirs is connected.")
    status = serializers.ChoiceField(
        choices=Operator.Status.choices, help_text="What they say of themselves: available, away or busy."
    )

    def to_representation(self, operator: Operator) -> dict:
        return events.operator_payload(operator)


# Input ------------------------------------------------------------------------------


class MessageCreateSerializer(serializers.Serializer):
    """The socket's `message` frame without its type and room: the same limits."""

    body = StringField(max_length=settings.WP_MAX_MESSAGE_LENGTH, trim_whitespace=False)
    client_id = StringField(
        max_length=settings.WP_MAX_CLIENT_ID_LENGTH,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Chosen by the client: sending again with the same one stores the message once.",
    )

    def validate_body(self, body: str) -> str:
        if not body.strip():
            raise serializers.ValidationError("the message is empty")
        return body


class FileCaptionSerializer(serializers.Serializer):
    """The text fields of a message carrying a file (multipart/form-data)."""

    body = StringField(
        max_length=settings.WP_MAX_MESSAGE_LENGTH,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="A caption; may be empty.",
    )
    client_id = StringField(
        max_length=settings.WP_MAX_CLIENT_ID_LENGTH,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Chosen by the client: sending again with the same one stores the message once.",
    )

    def validate_body(self, body: str) -> str:
        if "\x00" in body:
            raise serializers.ValidationError("the caption contains a NUL character")
        return body

    def validate_client_id(self, client_id: str) -> str:
        if "\x00" in client_id:
            raise serializers.ValidationError("the client_id contains a NUL character")
        return client_id


class FileMessageCreateSerializer(FileCaptionSerializer):
    """A message carrying a file: multipart/form-data."""

    file = serializers.FileField(
        help_text="The file: an extension among WP_UPLOAD_TYPES, at most WP_UPLOAD_MAX_BYTES. Images (png, "
        "jpg, gif, webp) must decode as such."
    )


def file_message_fields(request) -> tuple[str, str, object]:
    """(caption, client_id, uploaded file) of a multipart request carrying a file (both upload
    endpoints): `too_large` past WP_UPLOAD_MAX_BYTES, `invalid` without a file or with bad fields."""
    files.check_request_size(request._request)
    data = request.data  # parsed here, the size limit first among the upload handlers
    files.check_request_size(request._request)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        raise Invalid("'file' is required: a multipart/form-data field with the file")
    fields = FileCaptionSerializer(data={name: data[name] for name in ("body", "client_id") if name in data})
    fields.is_valid(raise_exception=True)
    return fields.validated_data.get("body", ""), fields.validated_data.get("client_id", ""), uploaded


class FileUploadMixin:
    """A view taking one file in a multipart form (issue 23): the size limit is installed before
    anything reads the body (a session's CSRF check reads the form)."""

    parser_classes = [MultiPartParser]

    def initialize_request(self, request, *args, **kwargs):
        files.prepare_request(request)
        return super().initialize_request(request, *args, **kwargs)


ORDERINGS = ["created_at", "-created_at", "id", "-id"]


class RoomFilterSerializer(serializers.Serializer):
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=Room.Status.choices),
        required=False,
        help_text="Repeat for several: `?status=active&status=closing`.",
    )
    site = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    operator = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    visitor = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="Created at or after (ISO 8601).")
    created_before = serializers.DateTimeField(required=False, help_text="Created before (ISO 8601).")
    q = StringField(
        required=False,
        min_length=2,
        max_length=100,
        help_text="Text in the conversation (what was said, notes included) or in the visitor's name or email.",
    )
    ordering = serializers.ChoiceField(choices=ORDERINGS, default="-created_at")


class MessageFilterSerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, max_value=MAX_ID, default=0, help_text="Only messages with a greater id."
    )


class SiteFilterSerializer(serializers.Serializer):
    site = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


def query(serializer_class: type[serializers.Serializer], request) -> dict:
    """Validated query parameters (a bad one is a 400 `invalid`)."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


ROOM_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Room id.")


# Views ------------------------------------------------------------------------------


class VisibleRoomMixin:
    def get_queryset(self):
        return selectors.rooms_visible_to(user=self.request.user)

    def get_room(self) -> Room:
        # Rooms of other sites do not exist for this user: 404, as on the socket.
        room_id = self.kwargs["id"]
        room = self.get_queryset().filter(pk=room_id).first() if room_id <= MAX_ID else None
        if room is None:
            raise NotFound("no such room")
        return room


def visitor_operator(request, visitor: Visitor, *, doing: str) -> Operator:
    """Only operators of the visitor's site act on them (`doing`: what, for the error)."""
    operator = operator_of(user=request.user)
    if operator is None or visitor.site_id not in operator.site_ids:
        raise NotAllowed(f"only operators of the visitor's site may {doing}")
    return operator


def acting_operator(request, room: Room):
    """Only operators act on rooms; the services decide whether this room is theirs."""
    operator = operator_of(user=request.user)
    if operator is None or room.site_id not in operator.site_ids:
        raise NotAllowed("only the room's operator may do this")
    return operator


@extend_schema(tags=["rooms"])
class RoomListView(VisibleRoomMixin, generics.ListAPIView):
    serializer_class = RoomSerializer

    def get_queryset(self):
        params = query(RoomFilterSerializer, self.request)
        rooms = super().get_queryset()
        if params.get("status"):
            rooms = rooms.filter(status__in=params["status"])
        for name in ("site", "operator", "visitor"):
            if name in params:
                rooms = rooms.filter(**{f"{name}_id": params[name]})
        if "created_after" in params:
            rooms = rooms.filter(created_at__gte=params["created_after"])
        if "created_before" in params:
            rooms = rooms.filter(created_at__lt=params["created_before"])
        if params.get("q"):
            rooms = rooms.filter(selectors.rooms_matching(text=params["q"]))
        ordering = params["ordering"]
        # Ties on created_at are broken by id, so pages never overlap.
        return rooms.order_by(ordering, ordering.replace("created_at", "id"))

    @extend_schema(
        operation_id="rooms_list",
        summary="Rooms of the sites you see, newest first",
        parameters=[RoomFilterSerializer],
        responses={200: RoomSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["rooms"])
class RoomDetailView(VisibleRoomMixin, generics.GenericAPIView):
    serializer_class = RoomSerializer

    @extend_schema(
        operation_id="rooms_retrieve",
        summary="One room",
        parameters=[ROOM_ID],
        responses={200: RoomSerializer, **error_responses(404)},
    )
    def get(self, request, id):
        return Response(events.room_payload(self.get_room()))


@extend_schema(tags=["rooms"])
class RoomMessagesView(VisibleRoomMixin, generics.GenericAPIView):
    serializer_class = MessageSerializer

    @extend_schema(
        operation_id="rooms_messages_list",
        summary="A room's messages, oldest first",
        parameters=[ROOM_ID, MessageFilterSerializer],
        responses={200: MessageSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request, id):
        room = self.get_room()
        after = query(MessageFilterSerializer, request)["after"]
        page = self.paginate_queryset(selectors.room_messages(room_id=room.pk, after=after))
        return self.get_paginated_response([events.message_payload(message) for message in page])

    @extend_schema(
        operation_id="rooms_messages_create",
        summary="Send a message to the visitor, as the room's operator",
        description="The same action as the operator socket's `message` frame: the visitor's tabs get it at once.",
        parameters=[ROOM_ID],
        request=MessageCreateSerializer,
        responses={201: MessageSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request, id):
        room = self.get_room()
        operator = acting_operator(request, room)
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_send_by_operator(
            room_id=room.pk,
            operator=operator,
            body=data.validated_data["body"],
            client_id=data.validated_data.get("client_id", ""),
        )
        return Response(events.message_payload(message), status=status.HTTP_201_CREATED)


@extend_schema(tags=["rooms"])
class RoomFilesView(FileUploadMixin, VisibleRoomMixin, generics.GenericAPIView):
    serializer_class = MessageSerializer

    @extend_schema(
        operation_id="rooms_files_create",
        summary="Send a file or image to the visitor, as the room's operator",
        description="A message carrying a file, with an optional caption: the same action as the `message` "
        "frame, the visitor's tabs get it at once. multipart/form-data; the file's type and size are checked "
        "(docs/features.md, Files and images).",
        parameters=[ROOM_ID],
        request=FileMessageCreateSerializer,
        responses={201: MessageSerializer, **error_responses(400, 403, 404, 409, 413, 415, 429)},
    )
    def post(self, request, id):
        room = self.get_room()
        operator = acting_operator(request, room)
        if rate_limiter.hit([("operator", "upload", str(operator.pk))]):
            raise RateLimited("too many files lately; try again in a minute")
        body, client_id, uploaded = file_message_fields(request)
        with files.stored(uploaded) as upload:
            message = services.message_send_by_operator(
                room_id=room.pk, operator=operator, body=body, client_id=client_id, upload=upload
            )
        return Response(events.message_payload(message), status=status.HTTP_201_CREATED)


@extend_schema(tags=["rooms"])
class RoomCloseView(VisibleRoomMixin, generics.GenericAPIView):
    serializer_class = RoomSerializer

    @extend_schema(
        operation_id="rooms_close",
        summary="Close a room, as its operator: it expires WP_ROOM_EXPIRY later",
        description="The same action as the operator socket's `close` frame (R9).",
        parameters=[ROOM_ID],
        request=None,
        responses={200: RoomSerializer, **error_responses(403, 404, 409)},
    )
    def post(self, request, id):
        room = self.get_room()
        operator = acting_operator(request, room)
        return Response(events.room_payload(services.room_close(room_id=room.pk, operator=operator)))


@extend_schema(tags=["visitors"])
class VisitorListView(generics.ListAPIView):
    serializer_class = VisitorSerializer

    def get_queryset(self):
        sites = sites_visible_to(user=self.request.user)
        params = query(SiteFilterSerializer, self.request)
        if "site" in params:
            sites = sites.filter(pk=params["site"])
        return visitors_online(sites=sites)

    @extend_schema(
        operation_id="visitors_list",
        summary="Visitors online on the sites you see, longest on the site first",
        parameters=[SiteFilterSerializer],
        responses={200: VisitorSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        page: list[Visitor] = visits.overlay(self.paginate_queryset(self.get_queryset()))
        rooms = live_rooms_by_visitor(visitor_ids=[visitor.pk for visitor in page])
        return self.get_paginated_response([events.visitor_payload(v, rooms.get(v.pk)) for v in page])


VISITOR_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Visitor id.")


@extend_schema(tags=["visitors"])
class VisitorDetailView(generics.GenericAPIView):
    serializer_class = VisitorDetailSerializer

    def get_visitor(self) -> Visitor:
        # Visitors of other sites do not exist for this user: 404.
        visitor_id = self.kwargs["id"]
        visitor = visitor_visible_to(user=self.request.user, visitor_id=visitor_id) if visitor_id <= MAX_ID else None
        if visitor is None:
            raise NotFound("no such visitor")
        return visitor

    def detail(self, visitor: Visitor) -> dict:
        [visitor] = visits.overlay([visitor])
        return events.visitor_detail_payload(
            visitor, selectors.live_room(visitor_id=visitor.pk), visitor_trail(visitor=visitor)
        )

    @extend_schema(
        operation_id="visitors_retrieve",
        summary="One visitor: who they are, how this visit began, its pages, the operators' note",
        description="Online or not, of a site you see. The page trail includes the pages still "
        "waiting to be stored (up to a second's worth).",
        parameters=[VISITOR_ID],
        responses={200: VisitorDetailSerializer, **error_responses(404)},
    )
    def get(self, request, id):
        return Response(self.detail(self.get_visitor()))

    @extend_schema(
        operation_id="visitors_partial_update",
        summary="Write the note on a visitor, as an operator of their site",
        description="Colleagues who open the visitor later see it, with your name and the time.",
        parameters=[VISITOR_ID],
        request=VisitorNoteSerializer,
        responses={200: VisitorDetailSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, id):
        visitor = self.get_visitor()
        operator = visitor_operator(request, visitor, doing="write the note")
        data = VisitorNoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        visitor = visitor_services.visitor_note_update(
            visitor_id=visitor.pk, site_ids=operator.site_ids, note=data.validated_data["note"], by=operator.name
        )
        return Response(self.detail(visitor))

    @extend_schema(
        operation_id="visitors_destroy",
        summary="Erase a visitor and everything stored about them (the owners of their site only)",
        description="Their live room ends first (its operator sees it end), then their rooms, messages, "
        "notes, files, page views and their state in Redis are deleted; an erasure record keeps who "
        "erased which visitor id and when (docs/privacy.md).",
        parameters=[VISITOR_ID],
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request, id):
        if id > MAX_ID:
            raise NotFound("no such visitor")
        privacy.visitor_erase(user=request.user, visitor_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["visitors"])
class VisitorExportView(generics.GenericAPIView):
    serializer_class = VisitorExportSerializer

    @extend_schema(
        operation_id="visitors_export",
        summary="Everything stored about a visitor, as one JSON document (the owners of their site only)",
        description="Who they are, every page view, every conversation with its messages (the operators' "
        "notes included, marked `internal`), ratings, transcript requests and files (fresh signed links): "
        "the document to hand a visitor who asks for their data (docs/privacy.md).",
        parameters=[VISITOR_ID],
        responses={200: VisitorExportSerializer, **error_responses(403, 404)},
    )
    def get(self, request, id):
        if id > MAX_ID:
            raise NotFound("no such visitor")
        return Response(privacy.visitor_export(user=request.user, visitor_id=id))


@extend_schema(tags=["operators"])
class OperatorListView(generics.ListAPIView):
    serializer_class = OperatorSerializer

    def get_queryset(self):
        operators = operators_visible_to(user=self.request.user)
        params = query(SiteFilterSerializer, self.request)
        if "site" in params:
            # Only among the sites the caller sees: another tenant's site id names nobody
            # (it listed which of the caller's colleagues also serve it: issue 21, case 9).
            site = sites_visible_to(user=self.request.user).filter(pk=params["site"])
            operators = operators.filter(pk__in=Operator.objects.filter(sites__in=site).values("pk"))
        return operators

    @extend_schema(
        operation_id="operators_list",
        summary="Operators of the sites you see",
        parameters=[SiteFilterSerializer],
        responses={200: OperatorSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["operators"])
class OperatorDetailView(generics.GenericAPIView):
    serializer_class = OperatorSerializer

    @extend_schema(
        operation_id="operators_retrieve",
        summary="One operator",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Operator id.")],
        responses={200: OperatorSerializer, **error_responses(404)},
    )
    def get(self, request, id):
        visible = operators_visible_to(user=request.user)
        operator = visible.filter(pk=id).first() if id <= MAX_ID else None
        if operator is None:
            raise NotFound("no such operator")
        return Response(events.operator_payload(operator))


# Bans (issue 25): what operators blocked, for the sites' owners -----------------------


class BanOperatorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class BanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    site = serializers.IntegerField()
    visitor = serializers.IntegerField(allow_null=True, help_text="The visitor blocked (null: deleted since).")
    address = serializers.CharField(
        allow_null=True, help_text='The address ("203.0.113.7") or network ("203.0.113.0/24") blocked too, or null.'
    )
    reason = serializers.CharField(help_text="The operator's reason; may be empty.")
    created_by = BanOperatorSerializer(allow_null=True, help_text="The operator who blocked (null: deleted since).")
    created_at = serializers.DateTimeField()
    active = serializers.BooleanField(help_text="In force: not lifted.")
    lifted_at = serializers.DateTimeField(allow_null=True)
    lifted_by = serializers.CharField(allow_null=True, help_text="The name of who lifted it.")

    def to_representation(self, ban: Ban) -> dict:
        return events.ban_payload(ban)


class BanFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["active", "lifted"], required=False, help_text="Only bans in force, or only lifted ones."
    )


@extend_schema(tags=["bans"], parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Site id.")])
class SiteBanListView(generics.ListAPIView):
    """A site's bans, newest first: its owners only."""

    serializer_class = BanSerializer

    def get_queryset(self):
        site_id = self.kwargs["id"]
        site = sites_owned_by(user=self.request.user).filter(pk=site_id).first() if site_id <= MAX_ID else None
        if site is None:
            raise NotFound("no such site of yours")
        rows = Ban.objects.filter(site=site).select_related("lifted_by").order_by("-id")
        state = query(BanFilterSerializer, self.request).get("state")
        if state is not None:
            rows = rows.filter(lifted_at__isnull=state == "active")
        return rows

    @extend_schema(
        operation_id="bans_list",
        summary="A site's bans, newest first (its owners only)",
        parameters=[BanFilterSerializer],
        responses={200: BanSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["bans"], parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Ban id.")])
class BanLiftView(generics.GenericAPIView):
    serializer_class = BanSerializer

    @extend_schema(
        operation_id="bans_lift",
        summary="Lift a ban: the visitor (and address) may chat again (the site's owners only)",
        request=None,
        responses={200: BanSerializer, **error_responses(404)},
    )
    def post(self, request, id):
        if id > MAX_ID:
            raise NotFound("no such ban")
        return Response(events.ban_payload(bans.ban_lift(user=request.user, ban_id=id)))


class BanCreateSerializer(serializers.Serializer):
    reason = StringField(
        max_length=bans.REASON_LENGTH, allow_blank=True, required=False, default="", help_text="Why; optional."
    )
    address = serializers.BooleanField(
        default=False, help_text="Block the address their visit came from too (new visitors from it included)."
    )
    network = serializers.BooleanField(
        default=False, help_text="Block that address's whole network too (an IPv4 /24, an IPv6 /48)."
    )


@extend_schema(tags=["bans"])
class VisitorBanView(generics.GenericAPIView):
    serializer_class = BanSerializer

    @extend_schema(
        operation_id="visitors_ban",
        summary="Block a visitor of your sites, as an operator (maybe their address or network too)",
        description="The same action as the operator socket's `ban` frame: their live room ends at once "
        "(its question does not go back to the pool), their sockets are told and closed, and their next "
        "hellos are refused until an owner lifts the ban.",
        parameters=[VISITOR_ID],
        request=BanCreateSerializer,
        responses={201: BanSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request, id):
        visitor = visitor_visible_to(user=request.user, visitor_id=id) if id <= MAX_ID else None
        if visitor is None:
            raise NotFound("no such visitor")
        operator = visitor_operator(request, visitor, doing="block them")
        data = BanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ban = bans.visitor_ban(operator=operator, visitor_id=visitor.pk, **data.validated_data)
        return Response(events.ban_payload(ban), status=status.HTTP_201_CREATED)


# Reports (issue 25) ------------------------------------------------------------------


class ReportQuerySerializer(serializers.Serializer):
    def get_fields(self):
        # `from` is a Python keyword: the fields are named here.
        return {
            "from": serializers.DateField(help_text="The first day, YYYY-MM-DD, in the site's time zone."),
            "to": serializers.DateField(help_text="The day after the last (excluded), YYYY-MM-DD."),
            "operator": serializers.IntegerField(
                required=False, min_value=1, max_value=MAX_ID, help_text="Only this operator's conversations."
            ),
        }

    def validate(self, attrs):
        days = (attrs["to"] - attrs["from"]).days
        if days < 1:
            raise serializers.ValidationError({"to": "must be after from"})
        if days > reports.MAX_DAYS:
            raise serializers.ValidationError({"to": f"a report covers at most {reports.MAX_DAYS} days"})
        return attrs


class ReportNumbersSerializer(serializers.Serializer):
    conversations = serializers.IntegerField(help_text="Rooms made (requests, and chats operators started).")
    accepted = serializers.IntegerField(help_text="Of them, accepted by an operator (or given one by routing).")
    missed = serializers.IntegerField(
        help_text="Of them, never accepted: ended unanswered, or left as an offline request."
    )
    accept_p50 = serializers.FloatField(allow_null=True, help_text="Seconds from the request to its accept: median.")
    accept_p95 = serializers.FloatField(allow_null=True, help_text="The same, 95th percentile.")
    first_response_p50 = serializers.FloatField(
        allow_null=True, help_text="Seconds from the request to the first operator message: median."
    )
    first_response_p95 = serializers.FloatField(allow_null=True, help_text="The same, 95th percentile.")
    length_p50 = serializers.FloatField(
        allow_null=True, help_text="Seconds from the accept to the end of the conversation: median."
    )
    ratings = serializers.IntegerField(help_text="Conversations the visitor rated.")
    rating_avg = serializers.FloatField(allow_null=True, help_text="Their average, 1-5.")
    online_peak = serializers.IntegerField(
        allow_null=True,
        help_text="The site's visitors online at the highest of the counts taken (the whole site's, "
        "with or without `operator`); null if none was taken.",
    )
    online_avg = serializers.FloatField(
        allow_null=True, help_text="The mean of those counts, one decimal (a count finding no one is 0)."
    )


class ReportDaySerializer(ReportNumbersSerializer):
    date = serializers.DateField()


class ReportOnlineHourSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="The hour's start, in the site's time zone.")
    visitors = serializers.IntegerField(
        allow_null=True, help_text="The site's visitors online at the hour's highest count; null if none was taken."
    )


class ReportRatingsSerializer(serializers.Serializer):
    def get_fields(self):
        return {str(stars): serializers.IntegerField() for stars in range(1, 6)}


class ReportSerializer(serializers.Serializer):
    def get_fields(self):
        return {
            "site": serializers.IntegerField(),
            "timezone": serializers.CharField(help_text="The site's time zone: where each day begins."),
            "operator": serializers.IntegerField(allow_null=True),
            "from": serializers.DateField(),
            "to": serializers.DateField(),
            "days": ReportDaySerializer(many=True),
            "totals": ReportNumbersSerializer(help_text="The whole range (percentiles over all its conversations)."),
            "ratings": ReportRatingsSerializer(help_text="How many conversations got each number of stars."),
            "online_hourly": ReportOnlineHourSerializer(
                many=True, help_text="For a range of up to 7 days, each hour's visitors online; else empty."
            ),
        }


SITE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Site id.")


def _report(request, site_id: int) -> dict:
    """The report asked for: the owners of the site only (its operators are refused)."""
    site = sites_visible_to(user=request.user).filter(pk=site_id).first() if site_id <= MAX_ID else None
    if site is None:
        raise NotFound("no such site")
    if not sites_owned_by(user=request.user).filter(pk=site.pk).exists():
        raise NotAllowed("only the site's owners see its reports")
    params = query(ReportQuerySerializer, request)
    operator_id = params.get("operator")
    if operator_id is not None and not site.operators.filter(pk=operator_id).exists():
        raise Invalid("no such operator of the site")
    return reports.site_report(site=site, start=params["from"], end=params["to"], operator_id=operator_id)


REPORT_DESCRIPTION = (
    "Each day from `from` up to `to` (excluded), in the site's time zone: the conversations made "
    "that day, and of them the accepted and the missed, the seconds to accept and to the first "
    "operator message (median and 95th percentile: over the visitors' requests, not the chats "
    "operators started), the conversations' median length, and their ratings; and the site's "
    "visitors online, counted every few minutes: the day's highest count and their mean (the "
    "whole site's, also with `operator`). At most 366 days."
)


@extend_schema(tags=["reports"], parameters=[SITE_ID, ReportQuerySerializer])
class SiteReportView(generics.GenericAPIView):
    serializer_class = ReportSerializer

    @extend_schema(
        operation_id="reports_retrieve",
        summary="A site's conversations per day over a date range (its owners only)",
        description=REPORT_DESCRIPTION,
        responses={200: ReportSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request, id):
        return Response(_report(request, id))


@extend_schema(tags=["reports"], parameters=[SITE_ID, ReportQuerySerializer])
class SiteReportCsvView(generics.GenericAPIView):
    serializer_class = ReportSerializer

    @extend_schema(
        operation_id="reports_csv",
        summary="The same report as CSV: a row a day, then the totals (its owners only)",
        description=REPORT_DESCRIPTION,
        responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(400, 403, 404)},
    )
    def get(self, request, id):
        report = _report(request, id)
        response = HttpResponse(reports.report_csv(report), content_type="text/csv; charset=utf-8")
        name = f"whitepanel-site{report['site']}-{report['from']}-{report['to']}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
