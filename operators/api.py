"""API tokens for operators and owners (who serves the sites you see, and who is online: chat/api.py)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import PermissionDenied, Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.api import ErrorSerializer

from .tokens import api_token_issue
from .two_factor import TwoFactorFailed, login_code_check, two_factor_required


class TokenInSerializer(AuthTokenSerializer):
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=12,
        help_text="The 6-digit code of the account's authenticator app: required when it has two-factor login.",
    )


class TokenOutSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True, help_text="When the token stops working.")


class TokenView(APIView):
    """Exchange a username and password (and the current code of an account with two-factor
    login, `otp`) for a new API token. Each call issues another; each works until its expiry
    (WP_API_TOKEN_TTL), the account's password changes or it is deactivated, whichever comes
    first. Only the token's digest is stored."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="token_create",
        request=TokenInSerializer,
        responses={
            200: TokenOutSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Bad credentials, or a missing or wrong `otp`."),
            403: OpenApiResponse(
                ErrorSerializer, description="A staff account that must set up two-factor login first (`not_allowed`)."
            ),
            429: OpenApiResponse(ErrorSerializer, description="Too many failed logins, from here or for this user."),
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        serializer = TokenInSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            # Set by infra.ratelimit.LoginRateLimitBackend: no password was even checked.
            refusal = getattr(request, "login_rate_limited", None)
            if refusal:
                raise Throttled(detail=refusal)
            raise ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        try:
            device = login_code_check(request=request, user=user, code=serializer.validated_data.get("otp"))
        except TwoFactorFailed as failure:
            raise ValidationError({"otp": [failure.message]}) from None
        if device is None and two_factor_required(user=user):
            raise PermissionDenied("this account must set up two-factor login first, at /operators/2fa/")
        token, expiry = api_token_issue(user=user)
        return Response({"token": token, "expiry": expiry.isoformat() if expiry else None})
