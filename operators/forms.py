"""The login forms (the operator's and admin's), each asking an account with a device for its
code after the password (operators/two_factor.py), and the two-factor page's forms."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .two_factor import TwoFactorFailed, login_code_check


def code_field(*, required: bool, label: str = _("Code")) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=12,  # six digits, and the spaces some people type between the groups
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"[0-9 ]*", "size": 8}
        ),
    )


class TwoFactorLoginMixin:
    """The password first (authenticate(): the login limits, the password), then the code of the
    account's device, if it has one; a missing or wrong code is a failed login like a wrong
    password. The device that accepted it is kept in the session at login (django-otp)."""

    def clean(self):
        cleaned_data = super().clean()
        user = self.get_user()
        if user is not None:
            try:
                device = login_code_check(request=self.request, user=user, code=cleaned_data.get("otp"))
            except TwoFactorFailed as failure:
                self.user_cache = None
                raise forms.ValidationError(failure.message, code=failure.code) from None
            user.otp_device = device
        return cleaned_data


class LoginForm(TwoFactorLoginMixin, AuthenticationForm):
    otp = code_field(required=False, label=_("Code (two-factor login)"))


class AdminLoginForm(TwoFactorLoginMixin, AdminAuthenticationForm):
    otp = code_field(required=False, label=_("Code (two-factor login)"))


class ConfirmForm(forms.Form):
    """Setting up: the code the app shows now, proof it holds the secret."""

    code = code_field(required=True)


class RemoveForm(forms.Form):
    """Turning two-factor login off: a current code or the account's password."""

    code = code_field(required=False)
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def clean(self):
        cleaned_data = super().clean()
        if not cleaned_data.get("code") and not cleaned_data.get("password"):
            raise forms.ValidationError(_("Enter a current code or your password."), code="required")
        return cleaned_data
