from django.urls import path

from . import views

urlpatterns = [
    path("operators/logout/", views.logout, name="logout"),
]
