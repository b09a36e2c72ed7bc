"""Admin for operators: one form creates the login and the operator, who is mailed an
invitation to set their own password (operators/invitations.py); unticking "active" (or the
action) deactivates them through `operator_deactivate`, which closes their open panels and
releases their rooms at once. In chat because it ends shifts (chat/shifts.py); chat/admin.py
registers it."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from operators.invitations import InvitationRefused, operator_invite
from operators.models import Operator
from visitors.admin import OwnedSiteFilter, SiteScopedAdmin, owned_site_ids
from visitors.models import Site

from .shifts import operator_deactivate, operator_delete, operator_save, user_delete

User = get_user_model()

DEACTIVATE_HELP = _(
    "Untick to deactivate: they can no longer log in, their open panels close at once "
    "and their chats are released (visitors go back to the pool)."
)
LOCKED_EMAIL_HELP = _(
    "Theirs to keep: they have set their password, and links to set a new one go to this address. "
    "A superuser can change it."
)


class OperatorForm(forms.ModelForm):
    """The operator's login (a Django user) and profile, in one form."""

    # The login's fields are the user model's, named as it names them (Django translates those).
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        label=User._meta.get_field("username").verbose_name,
        help_text=_("What they log in with: letters, digits and @/./+/-/_ only."),
    )
    first_name = forms.CharField(max_length=150, required=False, label=User._meta.get_field("first_name").verbose_name)
    last_name = forms.CharField(max_length=150, required=False, label=User._meta.get_field("last_name").verbose_name)
    email = forms.EmailField(required=False, label=User._meta.get_field("email").verbose_name)
    is_active = forms.BooleanField(required=False, initial=True, label=_("Active"), help_text=DEACTIVATE_HELP)
    password1 = forms.CharField(
        label=_("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Operator
        fields = ["sites", "language"]
        help_texts = {"sites": _("The sites whose visitors and chats this operator sees.")}

    # Set by OperatorAdmin.get_form: an owner changes no address that the account's password
    # resets go to once its holder has set a password (else they could send one to themselves).
    email_locked = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.instance.user if self.instance.pk else None
        if user is not None:
            for name in ("username", "first_name", "last_name", "email", "is_active"):
                self.initial[name] = getattr(user, name)
            self.fields["password1"].help_text = gettext("Leave empty to keep the current password.")
            if self.email_locked:
                self.fields["email"].disabled = True
                self.fields["email"].help_text = LOCKED_EMAIL_HELP
        else:
            # Nobody sets a new operator's password: they are mailed a link to set their own.
            del self.fields["password1"], self.fields["password2"]
            self.fields["email"].required = True
            self.fields["email"].help_text = gettext("An invitation with a link to set their password goes here.")

    @property
    def user(self):
        return self.instance.user if self.instance.pk else None

    def clean_username(self) -> str:
        username = User.normalize_username(self.cleaned_data["username"])
        taken = User.objects.filter(username=username)
        if self.user is not None:
            taken = taken.exclude(pk=self.user.pk)
        if taken.exists():
            raise forms.ValidationError(gettext("A user with that username already exists."))
        return username

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 or password2:
            if password1 != password2:
                self.add_error("password2", gettext("The two passwords differ."))
            else:
                try:
                    password_validation.validate_password(password1, self.user)
                except forms.ValidationError as error:
                    self.add_error("password1", error)
        return cleaned

    def account(self) -> dict:
        """What operator_save takes from the form."""
        names = ("username", "first_name", "last_name", "email", "is_active")
        return {name: self.cleaned_data[name] for name in names} | {"password": self.cleaned_data.get("password1", "")}


@admin.register(Operator)
class OperatorAdmin(SiteScopedAdmin):
    form = OperatorForm
    site_lookup = "sites"
    owner_may_add = owner_may_change = True
    fieldsets = [
        (None, {"fields": ["username", "first_name", "last_name", "email", "is_active"]}),
        (_("Password"), {"fields": ["password1", "password2"]}),
        (_("Sites"), {"fields": ["sites"]}),
        # The panel's and admin's language for them (issue 24); blank: their browser's.
        (_("Language"), {"fields": ["language"]}),
    ]
    list_display = ["name", "username", "active", "online", "site_list", "last_login"]
    list_filter = ["online", "user__is_active", ("sites", OwnedSiteFilter)]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    list_select_related = ["user"]
    ordering = ["user__username"]
    filter_horizontal = ["sites"]
    actions = ["invite", "deactivate"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(Prefetch("sites", queryset=Site.objects.order_by("name")))

    def site_ids_of(self, obj: Operator) -> set[int]:
        return set(obj.sites.values_list("id", flat=True))

    def has_change_permission(self, request, obj=None):
        if obj is not None and not request.user.is_superuser:
            # Nobody manages an account with more power than their own (issue 21: an owner
            # set the password of a superuser who also operated their site, then logged in as
            # them): an owner changes no superuser, no other staff account (owners are staff).
            if obj.user_id != request.user.pk and (obj.user.is_superuser or obj.user.is_staff):
                return False
            # Changing an operator (deactivating them above all) touches every site they serve:
            # an owner may do it only when all of those are theirs.
            sites = self.site_ids_of(obj)
            if not sites or not sites <= owned_site_ids(request):
                return False
        return super().has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not request.user.is_superuser:
            # A new operator sets their own password from an invitation; owners never set one.
            fieldsets = [(name, options) for name, options in fieldsets if "password1" not in options["fields"]]
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.email_locked = bool(obj and not request.user.is_superuser and obj.user.has_usable_password())
        return form

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "sites":
            kwargs["queryset"] = self.owned_choices(request, Site.objects.order_by("name"))
            # An owner's operator must serve one of their sites, or the owner loses sight of them.
            kwargs["required"] = not request.user.is_superuser
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Operator, form: OperatorForm, change: bool) -> None:
        # The sites are saved later (save_related): the offline event of a deactivation
        # goes to the sites whose operators saw this one online.
        account = form.account()
        if change and not request.user.is_superuser:
            # An owner never sets an existing account's password (the form shows no such
            # field to them; a posted one is ignored): its holder changes it, or resets it.
            account["password"] = ""
        operator_save(operator=obj, **account)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            # After the sites, which the invitation names.
            self.send_invitations(request, [form.instance])

    def send_invitations(self, request: HttpRequest, operators: list[Operator]) -> None:
        origin = request.build_absolute_uri("/")
        sent, refused = [], []
        for operator in operators:
            try:
                sent.append(operator_invite(operator=operator, origin=origin, invited_by=request.user))
            except InvitationRefused as error:
                refused.append(
                    gettext("No link sent to %(user)s: %(error)s.")
                    % {"user": operator.user.get_username(), "error": error}
                )
            except OSError as error:  # the mail server's (smtplib's errors are OSErrors)
                refused.append(
                    gettext("The mail to %(email)s failed (%(error)s): send it again with the action.")
                    % {"email": operator.user.email, "error": error}
                )
        if sent:
            self.message_user(
                request,
                gettext("A link to set their password was mailed to %(addresses)s.") % {"addresses": ", ".join(sent)},
                messages.SUCCESS,
            )
        for text in refused:
            self.message_user(request, text, messages.WARNING)

    @admin.display(description=_("username"), ordering="user__username")
    def username(self, operator: Operator) -> str:
        return operator.user.username

    @admin.display(description=_("active"), boolean=True, ordering="user__is_active")
    def active(self, operator: Operator) -> bool:
        return operator.user.is_active

    @admin.display(description=_("sites"))
    def site_list(self, operator: Operator) -> str:
        return ", ".join(site.name for site in operator.sites.all()) or "—"

    @admin.display(description=_("last login"), ordering="user__last_login")
    def last_login(self, operator: Operator):
        return operator.user.last_login

    @admin.action(description=_("Send a new invitation (a link to set their password)"), permissions=["change"])
    def invite(self, request: HttpRequest, queryset) -> None:
        # The same rule as changing them: never a superuser's or another staff account's link,
        # nor one of an operator who also serves a site the owner does not own.
        allowed = [operator for operator in queryset if self.has_change_permission(request, operator)]
        self.send_invitations(request, allowed)
        if len(allowed) < len(queryset):
            self.message_user(
                request,
                gettext("%(count)s operator(s) you may not manage: no link sent.")
                % {"count": len(queryset) - len(allowed)},
                messages.WARNING,
            )

    @admin.action(description=_("Deactivate selected operators"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        allowed = [operator for operator in queryset if self.has_change_permission(request, operator)]
        for operator in allowed:
            operator_deactivate(operator=operator)
        self.message_user(
            request,
            gettext("Deactivated %(count)s operator(s): their panels were closed and their chats released.")
            % {"count": len(allowed)},
            messages.SUCCESS,
        )
        if len(allowed) < len(queryset):
            self.message_user(
                request,
                gettext("%(count)s operator(s) also serve sites you do not own: left as they were.")
                % {"count": len(queryset) - len(allowed)},
                messages.WARNING,
            )

    # Deleting an operator (superusers) first ends their shift (operator_delete).
    def delete_model(self, request, obj):
        operator_delete(operator=obj)

    def delete_queryset(self, request, queryset):
        for operator in queryset:
            operator_delete(operator=operator)


# Django's user admin (superusers only) deactivates and deletes operators the same way.
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    def delete_model(self, request, obj):
        user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user)

    def save_model(self, request, obj, form, change):
        deactivates = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        operator = Operator.objects.filter(user=obj).first() if deactivates else None
        if operator is not None:
            operator_deactivate(operator=operator)
