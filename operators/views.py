from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from .models import Operator


class LoginView(auth_views.LoginView):
    """Django's login form; an address, or an account from it, with too many failed logins
    is told so, with 429, and no password is checked; so is an attempt for an account with
    too many from anywhere that comes within seconds of another (infra/ratelimit.py)."""

    template_name = "operators/login.html"

    def form_invalid(self, form):
        refusal = getattr(self.request, "login_rate_limited", None)
        if refusal:
            form.errors.clear()
            form.add_error(None, refusal[0].upper() + refusal[1:] + ".")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_invalid(form)


@login_required
def panel(request):
    operator = Operator.objects.select_related("user").filter(user=request.user).first()
    if operator is None:
        raise PermissionDenied("Only operators have a panel.")
    return render(request, "operators/panel.html", {"operator": operator})
