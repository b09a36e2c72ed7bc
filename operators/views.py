from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from infra.ratelimit import password_reset_refused
from visitors.owners import sites_owned_by

from . import two_factor
from .forms import ConfirmForm, LoginForm, RemoveForm
from .i18n import panel_catalog
from .models import Operator


class LoginView(auth_views.LoginView):
    """Django's login form, with the code of an account that has two-factor login; an address,
    or an account from it, with too many failed logins is told so, with 429, and no password is
    checked; so is an attempt for an account with too many from anywhere that comes within
    seconds of another (infra/ratelimit.py)."""

    template_name = "operators/login.html"
    form_class = LoginForm

    def form_invalid(self, form):
        refusal = getattr(self.request, "login_rate_limited", None)
        if refusal:
            form.errors.clear()
            form.add_error(None, refusal[0].upper() + refusal[1:] + ".")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_invalid(form)


class PasswordForgotView(auth_views.PasswordResetView):
    """ "Forgot your password?": Django's reset form. It answers the same whether an account
    has the address or not (a mail goes only to an active account with a password), and each
    address and each email address asked for may ask a few times an hour (infra/ratelimit.py)."""

    template_name = "operators/password_forgot.html"
    email_template_name = "operators/password_reset_email.txt"
    subject_template_name = "operators/password_reset_subject.txt"
    success_url = reverse_lazy("password-forgot-sent")

    def form_valid(self, form):
        if password_reset_refused(self.request, form.cleaned_data["email"]):
            form.add_error(None, "Too many requests. Wait a while and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordForgotSentView(auth_views.PasswordResetDoneView):
    template_name = "operators/password_forgot_sent.html"


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The link of an invitation or a reset (operators/invitations.py): Django's, which works
    once and for WP_INVITE_TTL, and moves the token out of the URL before the form shows."""

    template_name = "operators/password_set.html"
    success_url = reverse_lazy("password-set-done")


class PasswordSetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "operators/password_set_done.html"


@login_required
def panel(request):
    operator = Operator.objects.select_related("user").filter(user=request.user).first()
    if operator is None:
        raise PermissionDenied("Only operators have a panel.")
    # The bar links to the reports for a site owner (issue 25).
    is_owner = sites_owned_by(user=request.user).exists()
    return render(
        request, "operators/panel.html", {"operator": operator, "i18n": panel_catalog(), "is_owner": is_owner}
    )


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
