from django.contrib import admin

from .models import DailyRollup


@admin.register(DailyRollup)
class DailyRollupAdmin(admin.ModelAdmin):
    list_display = ("metric", "day", "dimension", "value", "sample_size", "computed_at")
    list_filter = ("metric",)
    search_fields = ("metric", "dimension")
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
