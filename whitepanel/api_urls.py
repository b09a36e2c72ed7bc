"""The REST API under /api/ (docs/api.md), its OpenAPI schema and Swagger UI."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from chat import api as chat_api
from infra import api
from integrations import api as integrations_api
from operators import api as operators_api
from visitors import api as visitors_api

urlpatterns = [
    path("token/", operators_api.TokenView.as_view(), name="api-token"),
    path("sites/", visitors_api.SiteListView.as_view(), name="api-sites"),
    path("sites/<int:id>/", visitors_api.SiteDetailView.as_view(), name="api-site"),
    path(
        "sites/<int:id>/identity-secret/",
        visitors_api.SiteIdentitySecretView.as_view(),
        name="api-site-identity-secret",
    ),
    path("sites/<int:id>/webhooks/", integrations_api.SiteWebhookListView.as_view(), name="api-site-webhooks"),
    path("webhooks/<int:id>/", integrations_api.WebhookDetailView.as_view(), name="api-webhook"),
    path("webhooks/<int:id>/test/", integrations_api.WebhookTestView.as_view(), name="api-webhook-test"),
    path(
        "webhooks/<int:id>/deliveries/", integrations_api.WebhookDeliveriesView.as_view(), name="api-webhook-deliveries"
    ),
    path("sites/<int:id>/bans/", chat_api.SiteBanListView.as_view(), name="api-site-bans"),
    path("sites/<int:id>/reports/", chat_api.SiteReportView.as_view(), name="api-site-reports"),
    path("sites/<int:id>/reports.csv", chat_api.SiteReportCsvView.as_view(), name="api-site-reports-csv"),
    path("bans/<int:id>/lift/", chat_api.BanLiftView.as_view(), name="api-ban-lift"),
    path("operators/", chat_api.OperatorListView.as_view(), name="api-operators"),
    path("operators/<int:id>/", chat_api.OperatorDetailView.as_view(), name="api-operator"),
    path("visitors/", chat_api.VisitorListView.as_view(), name="api-visitors"),
    path("visitors/<int:id>/", chat_api.VisitorDetailView.as_view(), name="api-visitor"),
    path("visitors/<int:id>/export/", chat_api.VisitorExportView.as_view(), name="api-visitor-export"),
    path("visitors/<int:id>/ban/", chat_api.VisitorBanView.as_view(), name="api-visitor-ban"),
    path("rooms/", chat_api.RoomListView.as_view(), name="api-rooms"),
    path("rooms/<int:id>/", chat_api.RoomDetailView.as_view(), name="api-room"),
    path("rooms/<int:id>/messages/", chat_api.RoomMessagesView.as_view(), name="api-room-messages"),
    path("rooms/<int:id>/files/", chat_api.RoomFilesView.as_view(), name="api-room-files"),
    path("rooms/<int:id>/close/", chat_api.RoomCloseView.as_view(), name="api-room-close"),
    path("replies/", operators_api.CannedReplyListView.as_view(), name="api-replies"),
    path("replies/<int:id>/", operators_api.CannedReplyDetailView.as_view(), name="api-reply"),
    path("replies/<int:id>/use/", operators_api.CannedReplyUseView.as_view(), name="api-reply-use"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file: the page needs no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ answers in the API's error shape, not an HTML page.
    re_path(r"^.*$", api.not_found),
]
