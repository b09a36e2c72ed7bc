from django.contrib import admin

from .models import Operator


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["user", "online"]
    list_filter = ["online", "sites"]
    filter_horizontal = ["sites"]
