"""A channel's mailbox settings, read once with defaults and checked."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

from ..base import PermanentError

SECURITY = ("ssl", "starttls", "none")
IMAP_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
TIMEOUT = 30.0  # seconds, for IMAP and SMTP alike


class MailSettingsInvalid(PermanentError):
    """The channel's mailbox settings cannot work (an unknown security mode, a bad port)."""


@dataclass(frozen=True)
class MailSettings:
    address: str
    display_name: str
    imap_host: str
    imap_port: int
    imap_user: str
    imap_password: str
    imap_security: str
    imap_folder: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str
    smtp_security: str

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1] if "@" in self.address else "localhost"


def _security(value: str, default: str, label: str) -> str:
    value = (value or default).strip().lower()
    if value == "tls":  # what some providers call implicit TLS
        value = "ssl"
    if value not in SECURITY:
        raise MailSettingsInvalid(
            gettext("%(label)s security must be one of ssl, starttls or none, not “%(value)s”.")
            % {"label": label, "value": value}
        )
    return value


def _port(value, default: int, label: str) -> int:
    if value in (None, ""):
        return default
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise MailSettingsInvalid(
            gettext("%(label)s port “%(value)s” is not a port number.")
            % {"label": label, "value": value}
        )
    return port


def mail_settings(channel) -> MailSettings:
    settings = channel.settings or {}
    credentials = channel.credentials or {}
    address = str(settings.get("address", "")).strip()
    imap_security = _security(settings.get("imap_security", ""), "ssl", "IMAP")
    smtp_security = _security(settings.get("smtp_security", ""), "starttls", "SMTP")
    return MailSettings(
        address=address,
        display_name=str(settings.get("display_name", "")).strip(),
        imap_host=str(settings.get("imap_host", "")).strip(),
        imap_port=_port(settings.get("imap_port"), IMAP_PORTS[imap_security], "IMAP"),
        imap_user=str(settings.get("imap_user", "")).strip() or address,
        imap_password=str(credentials.get("imap_password", "")),
        imap_security=imap_security,
        imap_folder=str(settings.get("imap_folder", "")).strip() or "INBOX",
        smtp_host=str(settings.get("smtp_host", "")).strip(),
        smtp_port=_port(settings.get("smtp_port"), SMTP_PORTS[smtp_security], "SMTP"),
        smtp_user=str(settings.get("smtp_user", "")).strip() or address,
        smtp_password=str(credentials.get("smtp_password", "")),
        smtp_security=smtp_security,
    )
