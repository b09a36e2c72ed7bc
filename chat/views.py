"""The operator's logout, which ends their shift (chat/shifts.py); files in messages: the visitor's
upload (`/files/visitor/`, called cross-origin by the snippet) and every file's signed link
(`/files/<token>/`). Login and the panel page: operators/views.py."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra.api import error_body
from infra.errors import Invalid, NotAllowed, NotFound, RateLimited
from infra.ratelimit import address_subject, rate_limiter
from operators.i18n import panel_catalog
from operators.models import Operator
from visitors.models import Site, Visitor, hash_token
from visitors.owners import sites_owned_by

from . import events, files, services
from .api import FileUploadMixin, file_message_fields
from .models import Attachment
from .shifts import operator_logout

logger = logging.getLogger(__name__)


@require_POST
def logout(request):
    """Ends every room of the operator at once (R10), closes their panels, then the session."""
    operator = Operator.objects.filter(user_id=request.user.pk).first() if request.user.is_authenticated else None
    if operator is not None:
        operator_logout(operator=operator)
    auth_logout(request)
    return redirect("login")


# The visitor's upload ---------------------------------------------------------------------

# The preflight's answer is kept by the browser this long (seconds).
PREFLIGHT_MAX_AGE = 600


@extend_schema(exclude=True)  # not part of the REST API: the snippet's, like the visitor socket
class VisitorFileView(FileUploadMixin, APIView):
    """`POST /files/visitor/?site=KEY`: a visitor sends a file (and a caption) into their chat,
    from the snippet on the site's page, with XHR (its upload progress needs a CORS preflight).

    The same rules as the visitor socket: the page's Origin must be among the site's allowed
    origins (only then does the answer allow it: `Access-Control-Allow-Origin`, no credentials),
    the visitor is whom the token names on that site, and the message goes through the same
    service as a `message` frame (no live room: a new request, R9; the pre-chat form:
    `details_required`). Answered with the message (201), or an error body."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    site: Site | None = None
    cors_origin: str | None = None

    def initial(self, request, *args, **kwargs):
        # Before anything can fail: an error answer carries CORS too, so the snippet reads it.
        key = request.query_params.get("site", "")[:64]
        self.site = Site.objects.filter(key=key).first() if key else None
        origin = request.headers.get("Origin")
        if self.site is not None and self.site.allows_origin(origin):
            self.cors_origin = origin
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_vary_headers(response, ["Origin"])
        if self.cors_origin:
            response["Access-Control-Allow-Origin"] = self.cors_origin
        return response

    def _site(self) -> Site:
        if self.site is None:
            raise NotFound("no such site: the URL's `site` is a site's key")
        if self.cors_origin is None:
            raise NotAllowed("this page's origin is not among the site's allowed origins")
        return self.site

    def options(self, request, *args, **kwargs):
        """The CORS preflight: allowed for the site's origins only."""
        response = HttpResponse(status=status.HTTP_204_NO_CONTENT)
        if self.site is not None and self.cors_origin:
            response["Access-Control-Allow-Methods"] = "POST"
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response

    def post(self, request, *args, **kwargs):
        site = self._site()
        # Counted before the body is read: one address cannot make the server take file after file.
        address = address_subject(request.META.get("REMOTE_ADDR") or "unknown")
        if rate_limiter.hit([("ip", "upload", address)]):
            raise RateLimited("too many files from this address lately; try again in a minute")
        body, client_id, uploaded = file_message_fields(request)
        token = request.data.get("token")
        if not isinstance(token, str) or not token or len(token) > 100:
            raise Invalid("'token' is required: the visitor's token, as the socket's welcome gave it")
        visitor_id = (
            Visitor.objects.filter(token_hash=hash_token(token), site=site).values_list("pk", flat=True).first()
        )
        if visitor_id is None:
            # Unlike a hello, an upload makes no visitor: the token must be one the socket gave.
            raise NotAllowed("this token names no visitor of this site")
        if rate_limiter.hit([("visitor", "upload", str(visitor_id))]):
            raise RateLimited("too many files lately; try again in a minute")
        with files.stored(uploaded) as upload:
            message = services.message_send_by_visitor(
                visitor_id=visitor_id, body=body, client_id=client_id, upload=upload
            )
        return Response(events.message_payload(message), status=status.HTTP_201_CREATED)


# Serving ------------------------------------------------------------------------------------


def _file_error(status_code: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse(error_body(code, detail), status=status_code)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def file_serve(request, token: str, variant: str = "file"):
    """A file of a message, or an image's thumbnail, by its signed link (chat/files.py): whoever
    was given the link (the room's visitor and operators) while it works. A verified image inline
    as what it is; anything else a download of `application/octet-stream`. Never run as a page:
    nosniff, and a sandboxing Content-Security-Policy that allows nothing."""
    try:
        attachment_id = files.attachment_id_of(token)
    except files.LinkExpired:
        return _file_error(403, "link_expired", "this link has expired: open the conversation again for a fresh one")
    except NotFound:
        return _file_error(404, "not_found", "no such file")
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    name = None
    if attachment is not None:
        name = attachment.thumbnail.name if variant == "thumb" else attachment.file.name
    if not name:
        return _file_error(404, "not_found", "no such file")
    try:
        handle = default_storage.open(name, "rb")
        size = handle.size
    except FileNotFoundError:
        return _file_error(404, "not_found", "this file is no longer stored")
    except Exception:
        logger.exception("could not read %s from the file storage", name)
        return _file_error(503, "unavailable", "the file storage could not be read; try again")
    inline = attachment.is_image
    if variant == "thumb":
        content_type = "image/png" if name.endswith(".png") else "image/jpeg"
    else:
        content_type = attachment.content_type if inline else "application/octet-stream"
    response = StreamingHttpResponse(files.chunks(handle), content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(not inline, attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # The link changes with every payload; one page's copy may be kept for a while.
    response["Cache-Control"] = f"private, max-age={min(3600, settings.WP_FILE_URL_TTL)}"
    # The snippet shows thumbnails on the site's pages, another origin (under COEP too).
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@login_required
def reports_page(request):
    """The owners' reports (issue 25): their sites' conversations per day, drawn by
    static/panel/reports.js from the API (`/api/sites/{id}/reports/`)."""
    sites = list(sites_owned_by(user=request.user).order_by("name", "pk"))
    if not sites:
        raise PermissionDenied("Only site owners see reports.")
    operators = Operator.objects.filter(sites__in=sites).select_related("user").order_by("user__username").distinct()
    today = timezone.localdate()
    return render(
        request,
        "chat/reports.html",
        {
            "sites": sites,
            "operators": [
                {"id": o.pk, "name": o.name, "sites": " ".join(str(pk) for pk in o.site_ids)} for o in operators
            ],
            "start": today - timedelta(days=30),
            "end": today + timedelta(days=1),
            "is_operator": Operator.objects.filter(user=request.user).exists(),
            "i18n": panel_catalog(),
        },
    )
