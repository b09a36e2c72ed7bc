from django.apps import AppConfig


class VisitorsConfig(AppConfig):
    name = "visitors"

    def ready(self) -> None:
        from .sites import connect_signals

        connect_signals()
