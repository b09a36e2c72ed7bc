"""Webhooks over HTTP (issue 25): a site's owners list, add, change and remove its webhooks,
send a test and read each one's delivery log. Anyone else finds no such site or webhook."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from infra.api import MAX_ID, StringField, error_responses
from infra.errors import NotFound
from visitors.owners import sites_owned_by

from . import services
from .models import EVENTS, Delivery, Webhook


def webhook_payload(webhook: Webhook) -> dict:
    return {
        "id": webhook.pk,
        "site": webhook.site_id,
        "url": webhook.url,
        "events": webhook.events,
        "secret": webhook.secret,
        "active": webhook.active,
        "created_at": webhook.created_at.isoformat(),
    }


def delivery_payload(delivery: Delivery) -> dict:
    return {
        "id": delivery.pk,
        "webhook": delivery.webhook_id,
        "event": delivery.event,
        "room": delivery.room_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat() if delivery.status == Delivery.Status.PENDING else None,
        "response_code": delivery.response_code,
        "last_error": delivery.error,
        "created_at": delivery.created_at.isoformat(),
        "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
        "data": delivery.payload,
    }


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    site = serializers.IntegerField(read_only=True)
    url = StringField(max_length=500, help_text="http(s), on a public address.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), max_length=len(EVENTS), help_text="The events sent to it."
    )
    secret = serializers.CharField(read_only=True, help_text="Signs every body (docs/api.md, Webhooks).")
    active = serializers.BooleanField(required=False, default=True)
    created_at = serializers.DateTimeField(read_only=True)


class WebhookUpdateSerializer(serializers.Serializer):
    url = StringField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), max_length=len(EVENTS), required=False
    )
    active = serializers.BooleanField(required=False)
    new_secret = serializers.BooleanField(required=False, help_text="true: a new secret replaces the old one.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    webhook = serializers.IntegerField()
    event = serializers.CharField()
    room = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="While pending: the next attempt.")
    response_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(help_text="What went wrong at the last attempt, if it failed.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    data = serializers.DictField(help_text="The body's `data`.")


SITE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Site id.")
WEBHOOK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Webhook id.")


def _owned_webhook(request, webhook_id: int) -> Webhook:
    if webhook_id > MAX_ID:
        raise NotFound("no such webhook")
    return services.webhook_owned(user=request.user, webhook_id=webhook_id)


@extend_schema(tags=["webhooks"], parameters=[SITE_ID])
class SiteWebhookListView(generics.GenericAPIView):
    serializer_class = WebhookSerializer
    pagination_class = None  # 20 at most a site

    def get_site(self):
        site_id = self.kwargs["id"]
        site = sites_owned_by(user=self.request.user).filter(pk=site_id).first() if site_id <= MAX_ID else None
        if site is None:
            raise NotFound("no such site of yours")
        return site

    @extend_schema(
        operation_id="webhooks_list",
        summary="A site's webhooks (its owners only)",
        responses={200: WebhookSerializer(many=True), **error_responses(404)},
    )
    def get(self, request, id):
        site = self.get_site()
        return Response([webhook_payload(webhook) for webhook in Webhook.objects.filter(site=site)])

    @extend_schema(
        operation_id="webhooks_create",
        summary="Add a webhook to a site (its owners only)",
        responses={201: WebhookSerializer, **error_responses(400, 404)},
    )
    def post(self, request, id):
        site = self.get_site()
        data = WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_create(site=site, **data.validated_data)
        return Response(webhook_payload(webhook), status=status.HTTP_201_CREATED)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookDetailView(generics.GenericAPIView):
    serializer_class = WebhookSerializer

    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="One webhook",
        responses={200: WebhookSerializer, **error_responses(404)},
    )
    def get(self, request, id):
        return Response(webhook_payload(_owned_webhook(request, id)))

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook's URL, events or whether it is active, or give it a new secret",
        request=WebhookUpdateSerializer,
        responses={200: WebhookSerializer, **error_responses(400, 404)},
    )
    def patch(self, request, id):
        webhook = _owned_webhook(request, id)
        data = WebhookUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_update(webhook=webhook, **data.validated_data)
        return Response(webhook_payload(webhook))

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Remove a webhook and its delivery log",
        responses={204: None, **error_responses(404)},
    )
    def delete(self, request, id):
        services.webhook_delete(webhook=_owned_webhook(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookTestView(generics.GenericAPIView):
    serializer_class = DeliverySerializer

    @extend_schema(
        operation_id="webhooks_test",
        summary="Send test: a `ping` delivered at once",
        request=None,
        responses={202: DeliverySerializer, **error_responses(404)},
    )
    def post(self, request, id):
        delivery = services.delivery_ping(webhook=_owned_webhook(request, id))
        return Response(delivery_payload(delivery), status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["webhooks"], parameters=[WEBHOOK_ID])
class WebhookDeliveriesView(generics.ListAPIView):
    """The delivery log of a webhook, newest first."""

    serializer_class = DeliverySerializer

    def get_queryset(self):
        return Delivery.objects.filter(webhook=_owned_webhook(self.request, self.kwargs["id"])).order_by("-id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([delivery_payload(delivery) for delivery in page])

    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="A webhook's delivery log, newest first",
        responses={200: DeliverySerializer(many=True), **error_responses(404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
