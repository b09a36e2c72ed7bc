"""Django admin's site (whitepanel/apps.py makes it the default): its login asks an account with a
device for its code, and a session that did not give it, or a staff user who must still enroll
(WP_REQUIRE_2FA_STAFF), gets no admin page (operators/two_factor.py). The operator admin itself
is chat's (chat/operator_admin.py)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .forms import AdminLoginForm
from .two_factor import State, request_state


class AdminSite(admin.AdminSite):
    # The product's name, not Django's (templates/admin/base_site.html adds its colours and icon).
    site_header = "White Panel"
    site_title = _("White Panel admin")
    index_title = _("Your sites, operators and conversations")
    login_form = AdminLoginForm
    login_template = "admin/two_factor_login.html"

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and request_state(request) == State.PASSED
