from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Django's admin, whose default site asks accounts with a device for their code."""

    default_site = "operators.admin.AdminSite"
