"""Security headers on every answer (docs/security.md): the Content-Security-Policy, and
cookies marked Secure on a request that came over HTTPS.

Django's own middleware does the rest: X-Frame-Options (XFrameOptionsMiddleware),
nosniff, Referrer-Policy and HSTS (SecurityMiddleware, WP_HSTS_SECONDS)."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings


class SecurityHeadersMiddleware:
    """First in MIDDLEWARE, so it sees the cookies every other middleware has set."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._secure(request, self.get_response(request))

    async def _acall(self, request):
        return self._secure(request, await self.get_response(request))

    def _secure(self, request, response):
        policy = settings.WP_CONTENT_SECURITY_POLICY
        # A view that knows better (none does today) may send its own.
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        if request.is_secure():
            # Over HTTPS the session and CSRF cookies must never travel over plain HTTP; a
            # local `make run` on http:// keeps working without a setting.
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response
