"""API tokens for operators and owners (who serves the sites you see, and who is online: chat/api.py)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.api import ErrorSerializer

from .tokens import api_token_issue


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True, help_text="When the token stops working.")


class TokenView(APIView):
    """Exchange a username and password for a new API token. Each call issues another; each
    works until its expiry (WP_API_TOKEN_TTL), the account's password changes or it is
    deactivated, whichever comes first. Only the token's digest is stored."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="token_create",
        request=AuthTokenSerializer,
        responses={
            200: TokenOutSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad credentials."),
            429: OpenApiResponse(ErrorSerializer, description="Too many failed logins, from here or for this user."),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            # Set by infra.ratelimit.LoginRateLimitBackend: no password was even checked.
            refusal = getattr(request, "login_rate_limited", None)
            if refusal:
                raise Throttled(detail=refusal)
            raise ValidationError(serializer.errors)
        token, expiry = api_token_issue(user=serializer.validated_data["user"])
        return Response({"token": token, "expiry": expiry.isoformat() if expiry else None})
