"""What every endpoint of the REST API shares: error bodies and pagination.

Every 4xx/5xx answer has one shape, `{"error": {"code", "detail"}}` (plus `fields`
for a rejected input), with the socket's codes where the two overlap (docs/api.md).

REST_FRAMEWORK's settings name this module, so it imports no views: DRF loads it
while it is still importing its own generic views.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from redis import RedisError
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .errors import (
    ChatError,
    DetailsRequired,
    Invalid,
    NotAllowed,
    NotFound,
    RateLimited,
    RoomExpired,
    RoomTaken,
    TooLarge,
    TypeNotAllowed,
)

logger = logging.getLogger(__name__)

# Ids are PostgreSQL bigints: a larger number names nothing.
MAX_ID = 2**63 - 1

# Errors -------------------------------------------------------------------------

CHAT_ERROR_STATUS = {
    Invalid: status.HTTP_400_BAD_REQUEST,
    NotAllowed: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    RoomTaken: status.HTTP_409_CONFLICT,
    RoomExpired: status.HTTP_409_CONFLICT,
    DetailsRequired: status.HTTP_403_FORBIDDEN,
    TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    TypeNotAllowed: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
}

# DRF's exceptions under the socket's names where there is one (docs/protocol.md).
DRF_ERROR_CODES = {
    exceptions.ParseError: "bad_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "not_allowed",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}

ERROR_CODES = [
    "bad_json",
    "invalid",
    "too_long",
    "not_authenticated",
    "authentication_failed",
    "not_allowed",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "taken",
    "expired",
    "throttled",
    "too_large",
    "type_not_allowed",
    "rate_limited",
    "server_error",
    "unavailable",
]


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    error = {"code": code, "detail": detail}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail, prefix: str = "") -> list[tuple[str, str, str]]:
    """(field path, message, DRF code) for every message of a ValidationError's detail."""
    if isinstance(detail, dict):
        # A list field's errors are keyed by item index: name the field, the message says which value.
        return [
            item
            for key, value in detail.items()
            for item in _flatten(value, prefix if isinstance(key, int) else f"{prefix}{key}.")
        ]
    if isinstance(detail, list):
        return [item for value in detail for item in _flatten(value, prefix)]
    return [(prefix.rstrip(".") or "non_field_errors", str(detail), getattr(detail, "code", "invalid"))]


def _validation_error(exc: exceptions.ValidationError) -> tuple[str, str, dict]:
    problems = _flatten(exc.detail)
    fields: dict[str, list[str]] = {}
    for field, message, _ in problems:
        fields.setdefault(field, []).append(message)
    code = "too_long" if any(drf_code == "max_length" for _, _, drf_code in problems) else "invalid"
    detail = (
        "; ".join(message if field == "non_field_errors" else f"{field}: {message}" for field, message, _ in problems)
        or "invalid input"
    )
    return code, detail, fields


def exception_handler(exc: Exception, context: dict) -> Response:
    """REST_FRAMEWORK's EXCEPTION_HANDLER: any error a view raises, as an error body."""
    if isinstance(exc, ChatError):
        set_rollback()
        return Response(error_body(exc.code, exc.detail), status=CHAT_ERROR_STATUS.get(type(exc), 403))
    if isinstance(exc, DatabaseError | RedisError):
        logger.exception("storage error in %s", context.get("view").__class__.__name__)
        set_rollback()
        return Response(
            error_body("unavailable", "the server could not store or read this; try again"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    # Bad input, whatever part of the request it broke: a 4xx, never a 5xx with a traceback.
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("too_long", f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        # A form with more files or fields than Django takes (DATA_UPLOAD_MAX_NUMBER_FILES: one
        # file a message), or one it cannot read.
        return Response(error_body("invalid", str(exc) or "malformed request"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RecursionError):
        # JSON nested deeper than the parser goes (DRF's parser turns only ValueError into a 400).
        exc = exceptions.ParseError("JSON parse error - nested too deeply")
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("error in %s", context.get("view").__class__.__name__)
        set_rollback()
        return Response(
            error_body("server_error", "something went wrong on the server"),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    # DRF answered Django's own exceptions already; name them like its own.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(*_validation_error(exc))
    else:
        code = next((c for cls, c in DRF_ERROR_CODES.items() if isinstance(exc, cls)), None)
        detail = getattr(exc, "detail", "") or str(exc)
        response.data = error_body(code or getattr(exc, "default_code", "invalid"), str(detail))
    return response


@csrf_exempt  # answers 404 to every method: there is nothing to protect, and a CSRF page would be HTML
def not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other URL under /api/: the same error body as the endpoints."""
    return JsonResponse(error_body("not_found", "no such endpoint (API URLs end with a slash)"), status=404)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ERROR_CODES)
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For `invalid` and `too_long`: the messages of each rejected field.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERROR_DESCRIPTIONS = {
    400: "Invalid input: `bad_json`, `invalid` or `too_long`.",
    401: "No or bad credentials: `not_authenticated`, `authentication_failed`.",
    403: "Not allowed (`not_allowed`), or a session request without its CSRF token.",
    404: "No such object among those you may see (`not_found`).",
    409: "The room changed under you: `taken` or `expired`.",
    413: "The file is larger than the server takes (`too_large`): WP_UPLOAD_MAX_BYTES, or an image's pixels.",
    415: "A file of a type the server does not take, or not what its name says (`type_not_allowed`).",
    429: "Too many of these lately (`rate_limited`): try again in a minute.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error answers an endpoint documents; every endpoint may answer 401 (it needs a login)."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code]) for code in sorted({401, *codes})
    }


# Input ----------------------------------------------------------------------------


class StringField(serializers.CharField):
    """A text field that takes JSON strings only, as the sockets do: 42 is not a message."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# Pagination ----------------------------------------------------------------------


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M`: 50 a page by default, 200 at most."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
