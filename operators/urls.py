from django.urls import path

from . import views

urlpatterns = [
    path("operators/login/", views.LoginView.as_view(), name="login"),
    path("panel/", views.panel, name="panel"),
]
