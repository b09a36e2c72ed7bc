"""Sites over HTTP (the visitors online on them: chat/api.py, with their rooms)."""

from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response

from infra.api import MAX_ID, StringField, error_responses
from infra.errors import NotAllowed, NotFound

from . import hours, services
from .models import Site
from .origins import parse_origin
from .selectors import site_is_owned_by, sites_visible_to

MAX_ORIGINS = 100
MAX_ORIGIN_LENGTH = 200


def origin_lines(site: Site) -> list[str]:
    # As the owner wrote them, in order (Site.origins is the set the handshake checks).
    return [line.strip().rstrip("/") for line in site.allowed_origins.splitlines() if line.strip()]


class SiteSerializer(serializers.ModelSerializer):
    allowed_origins = serializers.SerializerMethodField()

    class Meta:
        model = Site
        fields = [
            "id", "key", "name", "allowed_origins", "greeting", "color", "language", "texts", "launcher_offset",
            "max_chats_per_operator", "routing", "prechat", "transcripts", "created_at",
            "timezone", "hours", "closed_days", "open_now", "back_at",
            "keep_page_views_days", "keep_conversations_days", "keep_idle_visitors_days",
        ]  # fmt: skip
        read_only_fields = fields

    open_now = serializers.SerializerMethodField(help_text="Whether the site is within its business hours now.")
    back_at = serializers.SerializerMethodField(help_text="When it opens next, while outside its hours; else null.")

    def get_open_now(self, site: Site) -> bool:
        return hours.open_now(site, timezone.now())

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_back_at(self, site: Site) -> datetime | None:
        return hours.next_open(site, timezone.now())

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_origins(self, site: Site) -> list[str]:
        return origin_lines(site)


class OriginField(StringField):
    """An origin as browsers send it, scheme://host[:port]; stored the way admin stores it."""

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_ORIGIN_LENGTH, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if len(value) > MAX_ORIGIN_LENGTH:
            self.fail("max_length", max_length=MAX_ORIGIN_LENGTH)
        try:
            return parse_origin(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class SiteUpdateSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, models.CharField: StringField}
    allowed_origins = serializers.ListField(
        child=OriginField(),
        max_length=MAX_ORIGINS,
        required=False,
        help_text="The origins whose pages may embed the snippet; replaces the whole list.",
    )

    class Meta:
        model = Site
        fields = [
            "greeting", "color", "language", "texts", "launcher_offset", "allowed_origins", "max_chats_per_operator",
            "routing", "prechat", "transcripts",
            "greeting", "color", "allowed_origins", "max_chats_per_operator", "routing", "prechat", "transcripts",
            "timezone", "hours", "closed_days",
            "keep_page_views_days", "keep_conversations_days", "keep_idle_visitors_days",
        ]  # fmt: skip
        extra_kwargs = {
            "greeting": {"required": False},
            "color": {"required": False},
            "max_chats_per_operator": {"required": False, "max_value": 1000},
            "routing": {"required": False},
            "prechat": {"required": False},
            "transcripts": {"required": False},
            "language": {"required": False},
            "texts": {"required": False},
            "launcher_offset": {"required": False},
            "timezone": {"required": False},
            "hours": {"required": False},
            "closed_days": {"required": False},
            "keep_page_views_days": {"required": False},
            "keep_conversations_days": {"required": False},
            "keep_idle_visitors_days": {"required": False},
        }


SITE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Site id.")


@extend_schema(tags=["sites"])
class SiteListView(generics.ListAPIView):
    serializer_class = SiteSerializer

    def get_queryset(self):
        return sites_visible_to(user=self.request.user).order_by("id")

    @extend_schema(
        operation_id="sites_list",
        summary="The sites you serve or own",
        responses={200: SiteSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["sites"])
class SiteDetailView(generics.GenericAPIView):
    serializer_class = SiteSerializer

    def get_site(self) -> Site:
        site_id = self.kwargs["id"]
        site = sites_visible_to(user=self.request.user).filter(pk=site_id).first() if site_id <= MAX_ID else None
        if site is None:
            raise NotFound("no such site")
        return site

    @extend_schema(
        operation_id="sites_retrieve",
        summary="One site",
        parameters=[SITE_ID],
        responses={200: SiteSerializer, **error_responses(404)},
    )
    def get(self, request, id):
        return Response(SiteSerializer(self.get_site()).data)

    @extend_schema(
        operation_id="sites_partial_update",
        summary="Change a site's greeting, colour or allowed origins (its owners only)",
        parameters=[SITE_ID],
        request=SiteUpdateSerializer,
        responses={200: SiteSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, id):
        site = self.get_site()
        # Not allowed comes before invalid; the service checks ownership again under its lock.
        if not site_is_owned_by(site=site, user=request.user):
            raise NotAllowed("only the site's owners may change it")
        data = SiteUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "timezone" in fields:
            fields["timezone_name"] = fields.pop("timezone")
        site = services.site_update(site_id=site.pk, user=request.user, **fields)
        return Response(SiteSerializer(site).data)


class IdentitySecretSerializer(serializers.Serializer):
    identity_secret = serializers.CharField(
        allow_null=True,
        help_text="The key the site's server signs its users' ids with (hex HMAC-SHA256, issue 25); null until made.",
    )


@extend_schema(tags=["sites"])
class SiteIdentitySecretView(generics.GenericAPIView):
    """The site's identity secret, for its owners only: what verifies the snippet's `identify`."""

    serializer_class = IdentitySecretSerializer
    get_site = SiteDetailView.get_site

    def owned_site(self) -> Site:
        site = self.get_site()
        if not site_is_owned_by(site=site, user=self.request.user):
            raise NotAllowed("only the site's owners may see or change its identity secret")
        return site

    @extend_schema(
        operation_id="sites_identity_secret_retrieve",
        summary="The site's identity secret (its owners only)",
        parameters=[SITE_ID],
        responses={200: IdentitySecretSerializer, **error_responses(403, 404)},
    )
    def get(self, request, id):
        site = self.owned_site()
        return Response({"identity_secret": site.identity_secret or None})

    @extend_schema(
        operation_id="sites_identity_secret_rotate",
        summary="Make the site a new identity secret (its owners only); the old one verifies nobody from now on",
        parameters=[SITE_ID],
        request=None,
        responses={200: IdentitySecretSerializer, **error_responses(403, 404)},
    )
    def post(self, request, id):
        site = self.owned_site()
        secret = services.site_rotate_identity_secret(site_id=site.pk, user=request.user)
        return Response({"identity_secret": secret})
