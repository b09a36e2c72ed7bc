"""Two-factor login on every request (operators/two_factor.py): a session that never gave the code
of its account's device counts as nobody's, and a staff user who must still set one up
(WP_REQUIRE_2FA_STAFF) reaches only the set-up page, logging in and out."""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import translation

from infra.api import error_body

from .two_factor import State, request_state

# What a staff user who must enroll may still reach: the page itself, logging in and out.
ENROLLMENT_VIEWS = frozenset({"two-factor", "login", "logout", "admin:logout"})


class TwoFactorMiddleware:
    """After AuthenticationMiddleware and OTPMiddleware. A session that never gave the code of
    its account's device is anonymous (the login page asks for it); a staff user who must enroll
    (WP_REQUIRE_2FA_STAFF) is sent to /operators/2fa/, or answered 403 under /api/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        state = request_state(request)
        if state == State.CODE_NEEDED:
            request.user = AnonymousUser()
            request.user.otp_device = None
            request.user.is_verified = lambda: False
        elif state == State.ENROLLMENT_NEEDED and request.resolver_match.view_name not in ENROLLMENT_VIEWS:
            if request.path.startswith("/api/"):
                detail = "this account must set up two-factor login first, at /operators/2fa/"
                return JsonResponse(error_body("not_allowed", detail), status=403)
            return redirect("two-factor")
        return None


class OperatorLanguageMiddleware:
    """After AuthenticationMiddleware and LocaleMiddleware (issue 24): a signed-in operator who chose
    a language (Operator.language) reads every page in it; with none chosen, LocaleMiddleware's
    pick stands (the language cookie, else the browser's Accept-Language)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            operator = getattr(user, "operator", None)  # a related object that may not exist
            language = operator.language if operator is not None else ""
            if language and language in dict(settings.LANGUAGES):
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
