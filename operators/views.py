from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from .models import Operator


class LoginView(auth_views.LoginView):
    """Django's login form; an account or address with too many failed logins
    (infra/ratelimit.py) is told so, with 429, and no password is checked."""

    template_name = "operators/login.html"

    def form_invalid(self, form):
        if getattr(self.request, "login_rate_limited", False):
            form.errors.clear()
            form.add_error(None, "Too many failed logins. Wait a few minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_invalid(form)


@login_required
def panel(request):
    operator = Operator.objects.select_related("user").filter(user=request.user).first()
    if operator is None:
        raise PermissionDenied("Only operators have a panel.")
    return render(request, "operators/panel.html", {"operator": operator})
