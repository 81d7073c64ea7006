"""The admin form of a channel account: the fields its adapter declares, validated, with
secrets kept in the encrypted credentials and never shown again once saved."""

from __future__ import annotations

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _

from .adapters import adapter_class, has_adapter
from .adapters.base import CredentialField
from .models import ChannelAccount

PREFIX = "conn_"


def _region_validate(value: str) -> None:
    if value and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise forms.ValidationError(
            _("“%(value)s” is not a region code such as CN, US or GB."), params={"value": value}
        )


DEFAULT_REGION = CredentialField(
    "default_region",
    _("default phone region"),
    required=False,
    help_text=_(
        "Where a phone number written without a country code is read, e.g. CN. Empty uses "
        "the server's PHONE_DEFAULT_REGION."
    ),
)


def connection_fields(kind: str | None) -> list[CredentialField]:
    """The fields a channel of this kind is configured with (none for the website widget)."""
    if not kind or not has_adapter(kind):
        return []
    return [*adapter_class(kind).fields, DEFAULT_REGION]


class ChannelAccountForm(forms.ModelForm):
    class Meta:
        model = ChannelAccount
        fields = ["name", "kind", "inbox", "team", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection_fields = connection_fields(self.instance.kind if self.instance.pk else None)
        for spec in self.connection_fields:
            self.fields[PREFIX + spec.name] = self._form_field(spec)
        if self.instance.pk:
            # The kind decides the credentials' shape: it is chosen once.
            self.fields["kind"].disabled = True

    def _form_field(self, spec: CredentialField) -> forms.Field:
        if spec.secret:
            stored = bool((self.instance.credentials or {}).get(spec.name))
            return forms.CharField(
                label=spec.label,
                required=spec.required and not stored,
                widget=forms.PasswordInput(
                    render_value=False,
                    attrs={"placeholder": _("saved — leave empty to keep") if stored else ""},
                ),
                help_text=spec.help_text,
                strip=True,
            )
        initial = (self.instance.settings or {}).get(spec.name, spec.default)
        validators = [_region_validate] if spec.name == "default_region" else []
        return forms.CharField(
            label=spec.label,
            required=spec.required,
            initial=initial,
            help_text=spec.help_text,
            validators=validators,
            strip=True,
        )

    def save(self, commit: bool = True) -> ChannelAccount:
        channel = super().save(commit=False)
        credentials = dict(channel.credentials or {})
        settings = dict(channel.settings or {})
        for spec in self.connection_fields:
            value = self.cleaned_data.get(PREFIX + spec.name, "")
            if spec.secret:
                if value:  # empty keeps the saved secret
                    credentials[spec.name] = value
            elif spec.name == "default_region":
                settings[spec.name] = value.upper()
            else:
                settings[spec.name] = value
        channel.credentials = credentials
        channel.settings = settings
        if commit:
            channel.save()
            self.save_m2m()
        return channel
