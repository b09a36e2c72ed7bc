from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    if created:
        return
    # set_password() keeps the new raw password in `_password` until save() is done with it:
    # it is set here only when this save stores a password changed by set_password() (a
    # hasher upgrade at login clears it first, so it does not count).
    password_changed = getattr(instance, "_password", None) is not None
    if password_changed or not instance.is_active:
        # Every way a password changes or an account is deactivated saves the user (admin,
        # the password reset, the API, the shell): none leaves an API token working (issue 21).
        from operators.tokens import api_tokens_revoke

        api_tokens_revoke(user_id=instance.pk)
    if password_changed:
        from .shifts import operator_password_changed

        operator_password_changed(user=instance)


def _operator_sites_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    # Either side of the relation: an operator's sites changed, or a site's operators.
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    from operators.models import Operator

    from .availability import sites_availability_update_later
    from .shifts import operator_sites_changed

    if not reverse:
        operator_sites_changed(operator_ids=[instance.pk])
        sites = instance.sites.values_list("pk", flat=True) if action == "pre_clear" else pk_set or ()
    else:
        if action == "pre_clear":
            operator_sites_changed(operator_ids=Operator.objects.filter(sites=instance).values_list("pk", flat=True))
        else:
            operator_sites_changed(operator_ids=pk_set or ())
        sites = [instance.pk]
    # Whether anyone is online for those sites may have changed with who serves them (R16).
    sites_availability_update_later(site_ids=sites)


def _site_deleted(sender, instance, **kwargs) -> None:
    from operators.models import Operator

    from .shifts import operator_sites_changed

    operator_sites_changed(operator_ids=Operator.objects.filter(sites=instance).values_list("pk", flat=True))


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

        from operators.models import Operator
        from visitors.models import Site

        post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="chat.password_changed")
        # Every way an operator's sites change (admin, code) reaches their open panels (issue 21).
        m2m_changed.connect(_operator_sites_changed, sender=Operator.sites.through, dispatch_uid="chat.sites")
        pre_delete.connect(_site_deleted, sender=Site, dispatch_uid="chat.site_deleted")
        # A file sent in a chat leaves the storage with its attachment (its room, visitor, site).
        from .files import attachment_deleted
        from .models import Attachment

        post_delete.connect(attachment_deleted, sender=Attachment, dispatch_uid="chat.attachment_deleted")
