from django.contrib import admin
from django.urls import include, path

from visitors.views import widget_js

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("whitepanel.api_urls")),
    path("widget.js", widget_js, name="widget-js"),
    path("widget-chat.js", widget_js, {"name": "widget-chat.js"}, name="widget-chat-js"),
    path("demo/", include("demo.urls")),
    path("", include("operators.urls")),
    path("", include("chat.urls")),
]
