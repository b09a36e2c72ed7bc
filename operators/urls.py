from django.urls import path

from . import views

urlpatterns = [
    path("operators/login/", views.LoginView.as_view(), name="login"),
    path("operators/2fa/", views.two_factor_page, name="two-factor"),
    path("panel/", views.panel, name="panel"),
]
