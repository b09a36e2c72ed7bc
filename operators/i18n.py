"""The panel in the operator's language (issue 24, docs/architecture.md, Languages).

The panel's scripts read their words from the djangojs catalog of the page's language, put into
panel.html as JSON (no second request, no inline script: static/panel/i18n.js reads it). An
operator picks their language in the panel's bar (or an owner in admin): saved on them
(Operator.language, applied on every request by OperatorLanguageMiddleware) and in Django's
language cookie, so the login page after a logout speaks it too."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation.trans_real import DjangoTranslation
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog

from .models import Operator


def panel_catalog() -> dict:
    """{"language": code, "catalog": {msgid: text, or [forms] for plurals}} of the active language:
    the project's own djangojs catalog only (locale/), not Django's admin calendar words."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    view = JavaScriptCatalog()
    view.translation = DjangoTranslation(
        language, domain="djangojs", localedirs=[str(p) for p in settings.LOCALE_PATHS]
    )
    return {"language": language, "catalog": view.get_catalog()}


@require_POST
@login_required
def set_operator_language(request):
    """The operator's language from the panel's bar: one of LANGUAGES, or "" for the browser's."""
    operator = Operator.objects.filter(user=request.user).first()
    if operator is None:
        return HttpResponseForbidden("Only operators choose a language here.")
    choice = request.POST.get("language", "")
    if choice and choice not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest("No such language.")
    operator.language = choice
    operator.save(update_fields=["language"])
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "panel"
    response = redirect(target)
    if choice:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            choice,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response
