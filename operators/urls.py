from django.contrib.auth.views import LoginView
from django.urls import path

from . import views

urlpatterns = [
    path("operators/login/", LoginView.as_view(template_name="operators/login.html"), name="login"),
    path("operators/logout/", views.logout, name="logout"),
    path("panel/", views.panel, name="panel"),
]
