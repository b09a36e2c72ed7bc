from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from . import two_factor
from .forms import ConfirmForm, LoginForm, RemoveForm
from .models import Operator


class LoginView(auth_views.LoginView):
    """Django's login form, with the code of an account that has two-factor login; an account
    or address with too many failed logins (infra/ratelimit.py) is told so, with 429, and no
    password is checked."""

    template_name = "operators/login.html"
    form_class = LoginForm

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


@login_required
def two_factor_page(request):
    """An operator's or owner's own two-factor login: set up (QR code, secret, a code to confirm)
    or turned off (a current code or the password)."""
    user = request.user
    device = two_factor.two_factor_device(user=user)
    confirm_form = remove_form = None
    status = 200
    if device is None:
        confirm_form = ConfirmForm(request.POST if request.method == "POST" else None)
        if confirm_form.is_valid():
            try:
                device = two_factor.totp_confirm(user=user, code=confirm_form.cleaned_data["code"])
            except two_factor.TwoFactorFailed as failure:
                confirm_form.add_error("code", failure.message)
            else:
                two_factor.session_code_passed(request, device)
                return redirect("two-factor")
        pending = two_factor.totp_enrollment(user=user)
    else:
        remove_form = RemoveForm(request.POST if request.method == "POST" else None)
        if remove_form.is_valid():
            try:
                two_factor.totp_remove(request=request, user=user, **remove_form.cleaned_data)
            except two_factor.TwoFactorFailed as failure:
                remove_form.add_error(None, failure.message)
                status = 429 if failure.code == "rate_limited" else 200
            else:
                return redirect("two-factor")
        pending = None
    context = {
        "device": device,
        "pending": pending,
        "qr_code": two_factor.qr_code_data_uri(pending) if pending else None,
        "secret": two_factor.secret_text(pending) if pending else None,
        "required": two_factor.two_factor_required(user=user),
        "confirm_form": confirm_form,
        "remove_form": remove_form,
        "is_operator": Operator.objects.filter(user=user).exists(),
    }
    return render(request, "operators/two_factor.html", context, status=status)
