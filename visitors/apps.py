from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitorsConfig(AppConfig):
    name = "visitors"
    verbose_name = _("Visitors")

    def ready(self) -> None:
        from django.db import transaction
        from django.db.models.signals import post_delete

        from .models import Visitor
        from .visits import visits

        def forget_visit(sender, instance: Visitor, **kwargs) -> None:
            # However a visitor is erased (admin, a site deleted): their token names nobody,
            # in Redis too (visitors/visits.py).
            visitor_id = instance.pk
            transaction.on_commit(lambda: visits.forget(visitor_id))

        post_delete.connect(forget_visit, sender=Visitor, weak=False, dispatch_uid="visitors.forget_visit")

        from .sites import connect_signals

        connect_signals()
