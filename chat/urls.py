from django.urls import path

from . import views

urlpatterns = [
    path("operators/logout/", views.logout, name="logout"),
    # The owners' reports (issue 25).
    path("panel/reports/", views.reports_page, name="reports"),
    # Files in messages (issue 23): the visitor's upload, and every file's signed link.
    path("files/visitor/", views.VisitorFileView.as_view(), name="visitor-file"),
    path("files/<str:token>/", views.file_serve, name="file"),
    path("files/<str:token>/thumb/", views.file_serve, {"variant": "thumb"}, name="file-thumb"),
]
