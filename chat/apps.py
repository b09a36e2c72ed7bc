from django.apps import AppConfig


def _user_saved(sender, instance, created: bool, **kwargs) -> None:
    # set_password() keeps the new raw password in `_password` until save() is done with it:
    # it is set here only when this save stores a password changed by set_password() (a
    # hasher upgrade at login clears it first, so it does not count).
    if not created and getattr(instance, "_password", None) is not None:
        from .shifts import operator_password_changed

        operator_password_changed(user=instance)


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="chat.password_changed")
