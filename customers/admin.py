from django.contrib import admin

from .models import Customer, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "verified", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "lead_status", "country", "language", "last_seen_at", "is_blocked")
    list_filter = ("lead_status", "is_blocked", "country")
    search_fields = ("display_name", "identities__value")
    date_hierarchy = "created_at"
    inlines = [IdentityInline]


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("value", "kind", "customer", "verified", "created_at")
    list_filter = ("kind", "verified")
    search_fields = ("value", "customer__display_name")
    raw_id_fields = ("customer",)
