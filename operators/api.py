"""API tokens for operators and owners (who serves the sites you see, and who is online: chat/api.py)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import PermissionDenied, Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.api import MAX_ID, ErrorSerializer, error_responses

from . import replies
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


# Canned replies (issue 23) -------------------------------------------------------------------


class CannedReplySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    site = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        required=False,
        help_text="The site whose operators are offered it; null: your own.",
    )
    operator = serializers.IntegerField(read_only=True, allow_null=True, source="operator_id")
    shortcut = serializers.SlugField(max_length=40, help_text='Typed after "/" in the panel\'s composer.')
    body = serializers.CharField(
        max_length=4000, help_text="{visitor.name}, {operator.name} and {page.title} are filled in when it is used."
    )
    uses = serializers.IntegerField(read_only=True)

    def to_representation(self, reply) -> dict:
        return canned_reply_payload(reply)


class CannedReplyFilterSerializer(serializers.Serializer):
    site = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text="Only this site's.")


class CannedReplyUpdateSerializer(serializers.Serializer):
    shortcut = serializers.SlugField(max_length=40, required=False)
    body = serializers.CharField(max_length=4000, required=False)


def canned_reply_payload(reply) -> dict:
    return {
        "id": reply.pk,
        "site": reply.site_id,
        "operator": reply.operator_id,
        "shortcut": reply.shortcut,
        "body": reply.body,
        "uses": reply.uses,
    }


REPLY_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The reply's id.")


@extend_schema(tags=["replies"])
class CannedReplyListView(generics.ListCreateAPIView):
    """Canned replies: your own and those of the sites you serve or own, most used first."""

    serializer_class = CannedReplySerializer
    pagination_class = None

    def get_queryset(self):
        return replies.canned_replies_for(user=self.request.user)

    @extend_schema(
        operation_id="replies_list",
        summary="The canned replies you are offered or manage",
        parameters=[CannedReplyFilterSerializer],
        responses={200: CannedReplySerializer(many=True), **error_responses(400)},
    )
    def get(self, request, *args, **kwargs):
        params = CannedReplyFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        shown = self.get_queryset()
        if "site" in params.validated_data:
            shown = shown.filter(site_id=params.validated_data["site"])
        return Response([canned_reply_payload(reply) for reply in shown])

    @extend_schema(
        operation_id="replies_create",
        summary="Add a canned reply: your own, or (with `site`) one of a site you own",
        responses={201: CannedReplySerializer, **error_responses(400, 403)},
    )
    def post(self, request, *args, **kwargs):
        data = CannedReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = replies.canned_reply_create(
            user=request.user,
            shortcut=data.validated_data["shortcut"],
            body=data.validated_data["body"],
            site_id=data.validated_data.get("site"),
        )
        return Response(canned_reply_payload(reply), status=status.HTTP_201_CREATED)


@extend_schema(tags=["replies"], parameters=[REPLY_ID])
class CannedReplyDetailView(generics.GenericAPIView):
    serializer_class = CannedReplySerializer

    @extend_schema(
        operation_id="replies_update",
        summary="Change a canned reply (your own, or one of a site you own)",
        request=CannedReplyUpdateSerializer,
        responses={200: CannedReplySerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request, id):
        data = CannedReplyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = replies.canned_reply_update(user=request.user, reply_id=id, **data.validated_data)
        return Response(canned_reply_payload(reply))

    @extend_schema(
        operation_id="replies_delete",
        summary="Remove a canned reply (your own, or one of a site you own)",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request, id):
        replies.canned_reply_delete(user=request.user, reply_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["replies"], parameters=[REPLY_ID])
class CannedReplyUseView(generics.GenericAPIView):
    serializer_class = CannedReplySerializer

    @extend_schema(
        operation_id="replies_use",
        summary="Count a use of a canned reply (the panel calls it when one goes into a message)",
        request=None,
        responses={200: CannedReplySerializer, **error_responses(404)},
    )
    def post(self, request, id):
        return Response(canned_reply_payload(replies.canned_reply_use(user=request.user, reply_id=id)))
