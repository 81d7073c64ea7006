from django import forms
from django.contrib import admin

from .models import AgentProfile


class AgentProfileForm(forms.ModelForm):
    base_url = forms.URLField(
        label=AgentProfile._meta.get_field("base_url").verbose_name,
        required=False,
        assume_scheme="https",
        help_text=AgentProfile._meta.get_field("base_url").help_text,
    )

    class Meta:
        model = AgentProfile
        fields = ("name", "persona", "base_url", "model", "api_key", "inboxes", "is_active")
        # The key is write-only: the form never sends a stored key back to the browser.
        widgets = {"api_key": forms.PasswordInput(render_value=False)}

    def clean_api_key(self):
        key = self.cleaned_data.get("api_key")
        return key or (self.instance.api_key if self.instance.pk else "")


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = ("name", "model", "base_url", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    filter_horizontal = ("inboxes",)
