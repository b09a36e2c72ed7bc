"""API tokens (`POST /api/token/`): django-rest-knox's, stored as SHA-512 digests (a leaked
database hands out no token), each valid for WP_API_TOKEN_TTL from when it was issued, and
all of an account's revoked when its password changes or it is deactivated (issue 21)."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox import auth
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework import exceptions

from .two_factor import two_factor_device, two_factor_required


class TokenAuthentication(auth.TokenAuthentication):
    """knox's `Authorization: Token <token>`, with a token that is not even text (bytes that
    are not UTF-8 in the header) refused like any wrong token instead of failing the request."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        user, auth_token = super().authenticate_credentials(token)
        # A token issued before WP_REQUIRE_2FA_STAFF was turned on works again once the account has a device.
        if two_factor_required(user=user) and two_factor_device(user=user) is None:
            raise exceptions.AuthenticationFailed("Set up two-factor login first, at /operators/2fa/.")
        return user, auth_token


class TokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI schema, as `Authorization: Token <token>` (tokenAuth)."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )


def api_token_issue(*, user: AbstractBaseUser) -> tuple[str, datetime | None]:
    """A new token for the user (shown once: only its digest is kept) and when it expires."""
    instance, token = AuthToken.objects.create(user=user)
    return token, instance.expiry


def api_tokens_revoke(*, user_id: int) -> int:
    """Every API token of the account stops working: how many there were."""
    deleted, _ = AuthToken.objects.filter(user_id=user_id).delete()
    return deleted
