"""Django's makemessages, which also finds the panel's t("…") and n("…", "…", count) calls
(static/panel/i18n.js) in the djangojs domain: `make messages` (docs/architecture.md, Languages)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=t", "--keyword=n:1,2"]
