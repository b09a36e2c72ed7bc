"""API tokens for operators and owners (who serves the sites you see, and who is online: chat/api.py)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.api import ErrorSerializer


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
