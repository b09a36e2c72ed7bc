from django.urls import path

from . import i18n, views

urlpatterns = [
    path("operators/login/", views.LoginView.as_view(), name="login"),
    path("operators/password/forgot/", views.PasswordForgotView.as_view(), name="password-forgot"),
    path("operators/password/sent/", views.PasswordForgotSentView.as_view(), name="password-forgot-sent"),
    path("operators/password/done/", views.PasswordSetDoneView.as_view(), name="password-set-done"),
    # An invitation's or a reset's link (operators/invitations.py).
    path("operators/password/<uidb64>/<token>/", views.PasswordSetView.as_view(), name="password-set"),
    path("operators/2fa/", views.two_factor_page, name="two-factor"),
    path("panel/", views.panel, name="panel"),
    # The operator's language (issue 24): saved on them, from the panel's bar.
    path("operators/language/", i18n.set_operator_language, name="operator-language"),
]
