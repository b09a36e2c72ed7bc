"""Operators over HTTP: who serves the sites you see, who is online, and API tokens."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import events
from chat.api import query
from infra.api import MAX_ID, ErrorSerializer, error_responses
from infra.errors import NotFound
from visitors.api import SiteFilterSerializer

from .models import Operator
from .selectors import operators_visible_to


class OperatorSerializer(serializers.Serializer):
    """SPEC §3's operator, as the panel gets it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    online = serializers.BooleanField(help_text="A panel of theirs is connected.")

    def to_representation(self, operator: Operator) -> dict:
        return events.operator_payload(operator)


@extend_schema(tags=["operators"])
class OperatorListView(generics.ListAPIView):
    serializer_class = OperatorSerializer

    def get_queryset(self):
        operators = operators_visible_to(user=self.request.user)
        params = query(SiteFilterSerializer, self.request)
        if "site" in params:
            operators = operators.filter(pk__in=Operator.objects.filter(sites=params["site"]).values("pk"))
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


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField()


class TokenView(APIView):
    """Exchange a username and password for the user's API token (the same token every time)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="token_create",
        request=AuthTokenSerializer,
        responses={
            200: TokenOutSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad credentials."),
            429: OpenApiResponse(ErrorSerializer, description="Too many failed logins for this user or address."),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            # Set by infra.ratelimit.LoginRateLimitBackend: no password was even checked.
            if getattr(request, "login_rate_limited", False):
                raise Throttled(detail="too many failed logins; try again later")
            raise ValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
