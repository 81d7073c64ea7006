"""WhatsApp Business Cloud API (Meta's Graph API), one business phone number per channel.

Ingress: Meta verifies the callback with a GET (`hub.verify_token` = the channel's webhook
secret) and signs every POST with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
the app secret). One body can carry several messages and receipts for several numbers;
`split` makes one stored event per message or receipt, each carrying the envelope data
(`metadata`, the sender's `contacts` entry) that `parse` needs.

Egress: `POST /{phone_number_id}/messages`. Files are uploaded first (`/media`) and sent by
id; outside the 24-hour customer service window only approved templates go out.

Reference: developers.facebook.com/documentation/business-messaging/whatsapp (webhooks
reference, messages API, media, templates, error codes, business-scoped user ids).
"""

from __future__ import annotations

import json
import mimetypes
import re

import httpx
import phonenumbers
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.enums import IdentityKind
from inbox.enums import DeliveryStatus

from .base import (
    Adapter,
    ChannelRules,
    ConnectionCheck,
    ContactCard,
    CredentialField,
    Event,
    FetchedMedia,
    Ignored,
    InboundMessage,
    Location,
    MediaRef,
    MessageDeletion,
    MessageEdit,
    OutboundFile,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    Postback,
    RawEvent,
    Reaction,
    Referral,
    Sender,
    SendResult,
    StatusUpdate,
    TransientError,
    body_digest,
    from_timestamp,
    json_body,
    request_send,
    retry_after_seconds,
)
from .meta_webhooks import meta_handshake, meta_signature_verify

MB = 1024 * 1024

# Meta's supported media table: type → largest size. Audio/ogg must be Opus.
IMAGE_TYPES = {"image/jpeg": 5 * MB, "image/png": 5 * MB}
VIDEO_TYPES = {"video/mp4": 16 * MB, "video/3gpp": 16 * MB}
AUDIO_TYPES = {
    "audio/aac": 16 * MB,
    "audio/amr": 16 * MB,
    "audio/mpeg": 16 * MB,
    "audio/mp4": 16 * MB,
    "audio/ogg": 16 * MB,
}
# WhatsApp shows WebP only as a sticker (static ≤ 100 KB, animated ≤ 500 KB).
STICKER_TYPES = {"image/webp": 500 * 1024}
DOCUMENT_TYPES = {
    "application/pdf": 100 * MB,
    "text/plain": 100 * MB,
    "application/msword": 100 * MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * MB,
    "application/vnd.ms-excel": 100 * MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * MB,
    "application/vnd.ms-powerpoint": 100 * MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * MB,
}
# Media captions are shorter than text messages.
MAX_CAPTION = 1024
# Enough for any real account, small enough that a paging loop cannot run away.
MAX_TEMPLATE_PAGES = 20

# A business-scoped user id (BSUID), sent when a user hides their number behind a
# username: "US.13491208655302741918", or a parent one "US.ENT.11815799212886844830".
BSUID_RE = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9.]+$")

STATUS_MAP = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    # A voice message was played: it was read.
    "played": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}

# Graph error codes Meta documents as throttling or temporary: worth trying again later.
TRANSIENT_CODES = frozenset(
    {
        2,  # API Service: temporary downtime or overload
        4,  # API Too Many Calls (app rate limit)
        80007,  # WABA rate limit
        130429,  # Cloud API throughput reached
        131000,  # Something went wrong; Meta says try again
        131016,  # Service temporarily unavailable
        131048,  # Spam rate limit
        131056,  # Pair rate limit: too many messages to this customer
        131057,  # Account in maintenance mode
        133004,  # Server temporarily unavailable
    }
)
# Refusals that stay refusals whatever HTTP status Meta sent (code 3 comes with a 500).
AUTH_CODES = frozenset({0, 3, 10, 190})


def _explain(code: int | None) -> str:
    """A short sentence for the agent about Meta's error code (Meta's own text follows)."""
    if code is None:
        return _("WhatsApp refused the message.")
    explanations = {
        0: _("WhatsApp could not authenticate the channel's access token."),
        3: _("The access token lacks a permission this needs."),
        10: _("The access token lacks a permission this needs."),
        190: _(
            "The channel's access token has expired or was revoked: an admin must set a "
            "new one (a permanent system-user token)."
        ),
        100: _("WhatsApp refused the request as invalid."),
        368: _("The WhatsApp Business Account is restricted for a policy violation."),
        131008: _("WhatsApp refused the request: a required value is missing."),
        131009: _("WhatsApp refused the request: a value is not valid."),
        131021: _("The recipient is the business number itself."),
        131026: _(
            "WhatsApp could not deliver to this number: it may not use WhatsApp, may have "
            "blocked the business, or may need to update the app."
        ),
        131030: _("This test number may only write to the numbers on its allowed list."),
        131031: _("The WhatsApp Business Account is locked."),
        131042: _("There is a problem with the WhatsApp Business Account's payment method."),
        131045: _("The business phone number is not correctly registered."),
        131047: _(
            "More than 24 hours have passed since the customer last wrote: only an approved "
            "template can be sent until they write again."
        ),
        131049: _(
            "Meta did not deliver this marketing message to keep the customer's engagement "
            "healthy; do not resend it at once."
        ),
        131050: _("The customer has stopped marketing messages from this business."),
        131051: _("WhatsApp does not support this kind of message."),
        131052: _("WhatsApp could not download the customer's file."),
        131053: _("WhatsApp could not process the file; check its type and size."),
        132000: _("The number of variables does not match the template."),
        132001: _("The template does not exist in this language or is not approved."),
        132005: _("The template's text is too long once its variables are filled in."),
        132007: _("The template's content breaks a WhatsApp policy."),
        132012: _("The template's variables are not in the format it expects."),
        132015: _("The template is paused for low quality."),
        132016: _("The template was paused too often and is now disabled."),
        133010: _("The business phone number is not registered with WhatsApp."),
    }
    if code in explanations:
        return explanations[code]
    if code in TRANSIENT_CODES:
        return _("WhatsApp is busy or limiting the rate of messages; it will be retried.")
    if 200 <= code <= 299:
        return _("The access token lacks a permission this needs.")
    if 132000 <= code <= 132999:
        return _("WhatsApp refused the template.")
    return _("WhatsApp refused the message.")


def _meta_text(error: dict) -> str:
    """Meta's own words: the message ("(#131047) Re-engagement message") and details."""
    message = str(error.get("message") or error.get("title") or "").strip()
    details = str((error.get("error_data") or {}).get("details") or "").strip()
    if details and details not in message:
        message = f"{message}: {details}" if message else details
    return message


def _graph_error(response: httpx.Response) -> TransientError | PermanentError:
    """The outbox's view of a Graph API error answer, with Meta's message in the reason."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    code = code if isinstance(code, int) else None
    said = _meta_text(error)
    if code is None and not said:
        reason = _("WhatsApp answered with HTTP status %(status)s.") % {
            "status": response.status_code
        }
    else:
        reason = _explain(code)
        if said:
            reason = _("%(explanation)s WhatsApp said: %(said)s") % {
                "explanation": reason,
                "said": said,
            }
    code_text = str(code) if code is not None else str(response.status_code)
    permanent_auth = code is not None and (code in AUTH_CODES or 200 <= code <= 299)
    if not permanent_auth and (
        code in TRANSIENT_CODES or response.status_code == 429 or response.status_code >= 500
    ):
        return TransientError(reason, retry_after=retry_after_seconds(response), code=code_text)
    return PermanentError(reason, code=code_text)


def _mime(content_type: str) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


class WhatsAppAdapter(Adapter):
    kind = "whatsapp"
    identity_kind = IdentityKind.WHATSAPP.value
    rules = ChannelRules(
        max_text_length=4096,
        media_limits={
            **IMAGE_TYPES,
            **VIDEO_TYPES,
            **AUDIO_TYPES,
            **STICKER_TYPES,
            **DOCUMENT_TYPES,
        },
        reply_window_hours=24,
        outside_window="template",
        # Cloud API throughput per business number (Meta's default tier).
        rate_per_second=80.0,
        # One file per WhatsApp message; the text rides along as its caption.
        max_files=1,
        text_with_files=True,
    )
    fields = (
        CredentialField(
            "access_token",
            gettext_lazy("Access token"),
            secret=True,
            help_text=gettext_lazy(
                "A permanent token of a system user with the whatsapp_business_messaging and "
                "whatsapp_business_management permissions (Meta Business settings → System "
                "users)."
            ),
        ),
        CredentialField(
            "app_secret",
            gettext_lazy("App secret"),
            secret=True,
            help_text=gettext_lazy(
                "The Meta app's secret (App settings → Basic): it checks that webhook calls "
                "come from Meta."
            ),
        ),
        CredentialField(
            "phone_number_id",
            gettext_lazy("Phone number ID"),
            help_text=gettext_lazy("WhatsApp → API Setup in the Meta app: the number's ID."),
        ),
        CredentialField(
            "business_account_id",
            gettext_lazy("WhatsApp Business Account ID"),
            help_text=gettext_lazy(
                "WhatsApp → API Setup in the Meta app: used to read templates and subscribe "
                "the app."
            ),
        ),
        CredentialField(
            "default_region",
            gettext_lazy("Default phone region"),
            required=False,
            help_text=gettext_lazy(
                "Two-letter country code (e.g. US) for numbers typed without a country code "
                "when starting a conversation."
            ),
        ),
    )

    # Ingress ------------------------------------------------------------------------
    def handshake(self, request) -> HttpResponse:
        return meta_handshake(request, verify_token=self.channel.webhook_secret or "")

    def verify(self, request) -> None:
        meta_signature_verify(request, app_secret=self.credentials.get("app_secret") or "")

    def split(self, body: bytes, request) -> list[RawEvent]:
        data = json_body(body)
        if data.get("object") != "whatsapp_business_account":
            raise PayloadMalformed("Not a WhatsApp Business Account webhook.")
        entries = data.get("entry")
        if not isinstance(entries, list):
            raise PayloadMalformed("The webhook has no entry list.")
        events: list[RawEvent] = []
        for entry in entries:
            entry = _dict(entry)
            waba_id = str(entry.get("id") or "")
            for change in _list(entry.get("changes")):
                change = _dict(change)
                events.extend(self._split_change(waba_id, change))
        return events

    def _split_change(self, waba_id: str, change: dict) -> list[RawEvent]:
        field_name = _str(change.get("field"))
        value = _dict(change.get("value"))
        events: list[RawEvent] = []
        if field_name == "messages":
            envelope = {"waba_id": waba_id, "metadata": _dict(value.get("metadata"))}
            contacts = [c for c in _list(value.get("contacts")) if isinstance(c, dict)]
            for message in _list(value.get("messages")):
                if not isinstance(message, dict) or not _str(message.get("id")):
                    continue
                payload = {
                    "kind": "message",
                    **envelope,
                    "contact": self._contact_for(message, contacts),
                    "message": message,
                }
                events.append(RawEvent(self._key(message["id"], payload), payload))
            for status in _list(value.get("statuses")):
                if not isinstance(status, dict) or not _str(status.get("id")):
                    continue
                payload = {"kind": "status", **envelope, "status": status}
                key = f"status:{status['id']}:{_str(status.get('status'))}"
                events.append(RawEvent(self._key(key, payload), payload))
        if events:
            return events
        # Anything else (template or account updates, errors without a message): stored
        # once, keyed by its content since Meta gives it no id.
        payload = {"kind": "other", "waba_id": waba_id, "field": field_name, "value": value}
        return [RawEvent(self._digest(change), payload)]

    @staticmethod
    def _contact_for(message: dict, contacts: list[dict]) -> dict:
        sender, user_id = _str(message.get("from")), _str(message.get("from_user_id"))
        for contact in contacts:
            if (sender and contact.get("wa_id") == sender) or (
                user_id and contact.get("user_id") == user_id
            ):
                return contact
        return contacts[0] if len(contacts) == 1 else {}

    @staticmethod
    def _digest(item) -> str:
        return body_digest(json.dumps(item, sort_keys=True, separators=(",", ":")).encode())

    def _key(self, key: str, payload: dict) -> str:
        # The stored key is at most 255 characters; Meta's ids are far shorter.
        return key if len(key) <= 255 else self._digest(payload)

    def parse(self, payload: dict) -> list[Event]:
        try:
            kind = payload.get("kind")
            if kind == "message":
                return self._parse_message(payload)
            if kind == "status":
                return self._parse_status(payload)
            return [self._parse_other(payload)]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Total by contract: a well-formed but surprising event is stored, not raised.
            return [Ignored(reason=f"Unreadable WhatsApp event ({exc.__class__.__name__}).")]

    def _for_other_number(self, payload: dict) -> bool:
        own = str(self.settings.get("phone_number_id") or "")
        theirs = str(_dict(payload.get("metadata")).get("phone_number_id") or "")
        return bool(own and theirs and own != theirs)

    def _parse_other(self, payload: dict) -> Ignored:
        field_name = _str(payload.get("field")) or "?"
        errors = _list(_dict(payload.get("value")).get("errors"))
        if errors:
            return Ignored(
                reason=f"WhatsApp reported an error: {_meta_text(_dict(errors[0]))}"[:500]
            )
        return Ignored(reason=f"WhatsApp '{field_name}' event is not used.")

    def _sender(self, message: dict, contact: dict) -> Sender | None:
        profile = _dict(contact.get("profile"))
        wa_id = _str(contact.get("wa_id")) or _str(message.get("from"))
        user_id = _str(contact.get("user_id")) or _str(message.get("from_user_id"))
        details = {
            key: value
            for key, value in (
                ("user_id", user_id),
                ("parent_user_id", _str(contact.get("parent_user_id"))),
                ("username", _str(profile.get("username"))),
            )
            if value
        }
        name = _str(profile.get("name"))
        if wa_id:
            # WhatsApp proves the number: the wa_id is the user's phone number.
            return Sender(
                kind=self.identity_kind,
                value=wa_id,
                name=name,
                phones=("+" + wa_id,),
                details=details,
            )
        if user_id:
            # A user who hides their number behind a username: only the BSUID is known.
            return Sender(kind=self.identity_kind, value=user_id, name=name, details=details)
        return None

    def _parse_message(self, payload: dict) -> list[Event]:
        message = _dict(payload.get("message"))
        if self._for_other_number(payload):
            return [Ignored(reason="Addressed to another phone number of the account.")]
        if message.get("group_id"):
            # Cloud API groups: a reply must go to the group, which we do not support.
            return [Ignored(reason="WhatsApp group message.")]
        sender = self._sender(message, _dict(payload.get("contact")))
        if sender is None:
            return [Ignored(reason="WhatsApp message without a sender.")]
        kind = _str(message.get("type"))
        at = from_timestamp(message.get("timestamp"))
        errors = _list(message.get("errors"))
        if errors or kind == "unsupported":
            said = _meta_text(_dict(errors[0])) if errors else ""
            return [Ignored(reason=f"Unsupported WhatsApp message. {said}".strip()[:500])]
        if kind == "reaction":
            reaction = _dict(message.get("reaction"))
            return [
                Reaction(
                    external_id=_str(reaction.get("message_id")),
                    sender=sender,
                    emoji=_str(reaction.get("emoji")),
                    at=at,
                )
            ]
        if kind == "edit":
            edit = _dict(message.get("edit"))
            edited = _dict(edit.get("message"))
            body = _dict(edited.get(_str(edited.get("type"))))
            text = _str(body.get("body")) or _str(body.get("caption"))
            return [
                MessageEdit(
                    external_id=_str(edit.get("original_message_id")),
                    sender=sender,
                    text=text,
                    at=at,
                )
            ]
        if kind == "revoke":
            revoke = _dict(message.get("revoke"))
            return [
                MessageDeletion(
                    external_id=_str(revoke.get("original_message_id")), sender=sender, at=at
                )
            ]
        if kind in ("system", "request_welcome"):
            system = _dict(message.get("system"))
            return [Ignored(reason=f"WhatsApp {kind} message: {_str(system.get('body'))}"[:500])]

        context = _dict(message.get("context"))
        fields: dict = {}
        extra: dict = {}
        if kind == "text":
            fields["text"] = _str(_dict(message.get("text")).get("body"))
        elif kind in ("image", "video", "audio", "document", "sticker"):
            media = _dict(message.get(kind))
            if not _str(media.get("id")):
                return [Ignored(reason=f"WhatsApp {kind} without a media id.")]
            fields["media"] = (self._media_ref(kind, media),)
            fields["text"] = _str(media.get("caption"))
        elif kind == "location":
            location = _dict(message.get("location"))
            fields["location"] = Location(
                latitude=float(location["latitude"]),
                longitude=float(location["longitude"]),
                name=_str(location.get("name")),
                address=_str(location.get("address")),
                url=_str(location.get("url")),
            )
        elif kind == "contacts":
            fields["contacts"] = tuple(
                self._contact_card(_dict(card)) for card in _list(message.get("contacts"))
            )
        elif kind == "interactive":
            interactive = _dict(message.get("interactive"))
            reply_type = _str(interactive.get("type"))
            if reply_type in ("button_reply", "list_reply"):
                reply = _dict(interactive.get(reply_type))
                title = _str(reply.get("title"))
                fields["postback"] = Postback(payload=_str(reply.get("id")), title=title)
                fields["text"] = title
            elif reply_type == "nfm_reply":
                # A WhatsApp Flow was completed: its answers are JSON.
                reply = _dict(interactive.get("nfm_reply"))
                fields["text"] = _str(reply.get("body"))
                try:
                    extra["flow_response"] = json.loads(_str(reply.get("response_json")) or "{}")
                except ValueError:
                    extra["flow_response"] = _str(reply.get("response_json"))
                extra["flow_name"] = _str(reply.get("name"))
            else:
                return [Ignored(reason=f"WhatsApp interactive '{reply_type}' is not used.")]
        elif kind == "button":
            # A quick-reply button of a template we sent.
            button = _dict(message.get("button"))
            title = _str(button.get("text"))
            fields["postback"] = Postback(payload=_str(button.get("payload")) or title, title=title)
            fields["text"] = title
        elif kind == "order":
            order = _dict(message.get("order"))
            fields["text"] = _str(order.get("text"))
            extra["order"] = order
        else:
            return [Ignored(reason=f"WhatsApp message type '{kind}' is not used.")]

        referral = _dict(message.get("referral"))
        if referral:
            fields["referral"] = Referral(
                source=_str(referral.get("source_type")) or "ad",
                source_id=_str(referral.get("source_id")),
                source_url=_str(referral.get("source_url")),
                headline=_str(referral.get("headline")),
                body=_str(referral.get("body")),
                click_id=_str(referral.get("ctwa_clid")),
            )
        if context.get("forwarded") or context.get("frequently_forwarded"):
            extra["forwarded"] = True
        if context.get("referred_product"):
            extra["referred_product"] = context["referred_product"]
        return [
            InboundMessage(
                external_id=_str(message.get("id")),
                sender=sender,
                sent_at=at,
                reply_to_external_id=_str(context.get("id")),
                extra=extra,
                **fields,
            )
        ]

    @staticmethod
    def _media_ref(kind: str, media: dict) -> MediaRef:
        if kind == "audio":
            media_kind = "voice" if media.get("voice") else "audio"
        else:
            media_kind = {"document": "file"}.get(kind, kind)
        return MediaRef(
            ref=_str(media.get("id")),
            content_type=_str(media.get("mime_type")),
            name=_str(media.get("filename")),
            kind=media_kind,
        )

    @staticmethod
    def _contact_card(card: dict) -> ContactCard:
        name = _dict(card.get("name"))
        full = _str(name.get("formatted_name")) or " ".join(
            part for part in (_str(name.get("first_name")), _str(name.get("last_name"))) if part
        )
        return ContactCard(
            name=full,
            phones=tuple(
                _str(_dict(p).get("phone")) for p in _list(card.get("phones")) if _dict(p)
            ),
            emails=tuple(
                _str(_dict(e).get("email")) for e in _list(card.get("emails")) if _dict(e)
            ),
            organization=_str(_dict(card.get("org")).get("company")),
        )

    def _parse_status(self, payload: dict) -> list[Event]:
        status = _dict(payload.get("status"))
        if self._for_other_number(payload):
            return [Ignored(reason="Receipt for another phone number of the account.")]
        value = _str(status.get("status"))
        if value not in STATUS_MAP:
            return [Ignored(reason=f"WhatsApp status '{value}' is not used.")]
        error = error_code = ""
        errors = _list(status.get("errors"))
        if errors:
            first = _dict(errors[0])
            code = first.get("code")
            said = _meta_text(first)
            explanation = _explain(code if isinstance(code, int) else None)
            error = (
                _("%(explanation)s WhatsApp said: %(said)s")
                % {"explanation": explanation, "said": said}
                if said
                else explanation
            )
            error_code = str(code) if code is not None else ""
        return [
            StatusUpdate(
                external_id=_str(status.get("id")),
                status=STATUS_MAP[value].value,
                at=from_timestamp(status.get("timestamp")),
                error=error,
                error_code=error_code,
            )
        ]

    # Graph API ----------------------------------------------------------------------
    def _graph_url(self, path: str) -> str:
        base = django_settings.META_GRAPH_URL
        return f"{base}/{django_settings.META_GRAPH_VERSION}/{path.lstrip('/')}"

    def _auth(self) -> dict:
        token = self.credentials.get("access_token") or ""
        if not token:
            raise PermanentError(_("The WhatsApp channel has no access token."), code="config")
        return {"Authorization": f"Bearer {token}"}

    def _setting(self, name: str, label: str) -> str:
        value = str(self.settings.get(name) or "").strip()
        if not value:
            raise PermanentError(
                _("The WhatsApp channel has no %(field)s.") % {"field": label}, code="config"
            )
        return value

    def _call(self, client: httpx.Client, method: str, url: str, **kwargs) -> dict:
        """One Graph request; its JSON answer, or the mapped error."""
        headers = {**self._auth(), **kwargs.pop("headers", {})}
        response = request_send(client, method, url, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise _graph_error(response)
        try:
            data = response.json()
        except ValueError:
            raise TransientError(
                _("WhatsApp answered with something that is not JSON."), code="bad_answer"
            ) from None
        return data if isinstance(data, dict) else {}

    # Egress -------------------------------------------------------------------------
    def _recipient(self, value: str) -> dict:
        value = (value or "").strip()
        if BSUID_RE.match(value):
            # Users who hide their number are written to by business-scoped user id.
            return {"recipient": value}
        digits = "".join(ch for ch in value if ch.isdigit())
        if not digits:
            raise PermanentError(
                _("“%(value)s” is not a WhatsApp number.") % {"value": value[:40]},
                code="recipient",
            )
        return {"to": self._international(digits)}

    def _international(self, digits: str) -> str:
        """A WhatsApp id is international already; a number typed without its country code
        (not valid as international) is read in the channel's default region."""
        region = str(self.settings.get("default_region") or "").strip().upper()
        if not region:
            return digits
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse("+" + digits)):
                return digits
        except phonenumbers.NumberParseException:
            pass
        try:
            local = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            return digits
        if not phonenumbers.is_valid_number(local):
            return digits
        return phonenumbers.format_number(local, phonenumbers.PhoneNumberFormat.E164)[1:]

    def send(self, message: OutboundMessage) -> SendResult:
        phone_id = self._setting("phone_number_id", _("phone number ID"))
        url = self._graph_url(f"{phone_id}/messages")
        recipient = self._recipient(message.recipient)
        with self.http() as client:
            if message.template:
                parts = [("template", self._template_body(message.template))]
            else:
                parts = self._parts(client, phone_id, message)
            if not parts:
                raise PermanentError(_("There is nothing to send."), code="empty")
            first_id = ""
            for index, (kind, body) in enumerate(parts):
                data = {
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    **recipient,
                    "type": kind,
                    kind: body,
                }
                if index == 0 and message.reply_to_external_id:
                    data["context"] = {"message_id": message.reply_to_external_id}
                answer = self._call(client, "POST", url, json=data)
                message_id = _str(_dict((_list(answer.get("messages")) or [{}])[0]).get("id"))
                if not message_id:
                    raise PermanentError(
                        _("WhatsApp accepted the message but gave no id for it."), code="no_id"
                    )
                first_id = first_id or message_id
        return SendResult(external_id=first_id)

    def _parts(
        self, client: httpx.Client, phone_id: str, message: OutboundMessage
    ) -> list[tuple[str, dict]]:
        """The WhatsApp messages this reply becomes: one per file, the text as the first
        file's caption where WhatsApp allows one, else as its own text message."""
        text = message.text or ""
        # Upload every file before sending anything, so a failed upload sends nothing.
        media = [(file, self._upload(client, phone_id, file)) for file in message.files]
        parts: list[tuple[str, dict]] = []
        for file, media_id in media:
            kind = self._media_kind(file.content_type)
            body: dict = {"id": media_id} if media_id else {"link": file.url}
            if kind == "document" and file.name:
                body["filename"] = file.name
            if text and kind in ("image", "video", "document") and len(text) <= MAX_CAPTION:
                body["caption"] = text
                text = ""
            parts.append((kind, body))
        if text:
            parts.append(("text", {"body": text, "preview_url": False}))
        return parts

    @staticmethod
    def _media_kind(content_type: str) -> str:
        mime = _mime(content_type)
        if mime in IMAGE_TYPES:
            return "image"
        if mime in VIDEO_TYPES:
            return "video"
        if mime in AUDIO_TYPES:
            return "audio"
        if mime in STICKER_TYPES:
            return "sticker"
        return "document"

    def _upload(self, client: httpx.Client, phone_id: str, file: OutboundFile) -> str:
        if not file.data:
            if file.url:
                return ""  # sent by link instead
            raise PermanentError(_("The file “%(name)s” is empty.") % {"name": file.name})
        mime = _mime(file.content_type) or "application/octet-stream"
        answer = self._call(
            client,
            "POST",
            self._graph_url(f"{phone_id}/media"),
            data={"messaging_product": "whatsapp", "type": mime},
            files={"file": (file.name or "file", file.data, mime)},
        )
        media_id = _str(answer.get("id"))
        if not media_id:
            raise PermanentError(
                _("WhatsApp took the file “%(name)s” but gave no id for it.") % {"name": file.name}
            )
        return media_id

    @staticmethod
    def _template_body(template: dict) -> dict:
        name = str(template.get("name") or "")
        if not name:
            raise PermanentError(_("The template has no name."), code="template")
        variables = template.get("variables") or []
        if isinstance(variables, dict):
            # Templates with named parameters ({{first_name}}).
            parameters = [
                {"type": "text", "parameter_name": str(key), "text": str(value)}
                for key, value in variables.items()
            ]
        else:
            parameters = [{"type": "text", "text": str(value)} for value in variables]
        body: dict = {"name": name, "language": {"code": str(template.get("language") or "en")}}
        if parameters:
            body["components"] = [{"type": "body", "parameters": parameters}]
        return body

    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        with self.http() as client:
            info = self._call(client, "GET", self._graph_url(media.ref))
            url = _str(info.get("url"))
            if not url:
                raise PermanentError(_("WhatsApp gave no address for this file."), code="media")
            size = info.get("file_size")
            limit = django_settings.CHANNEL_MEDIA_MAX_MB * MB
            if isinstance(size, int) and size > limit:
                raise PermanentError(
                    _("The file is larger than %(mb)s MB.")
                    % {"mb": django_settings.CHANNEL_MEDIA_MAX_MB},
                    code="too_large",
                )
            # The download link needs the same token.
            response = request_send(client, "GET", url, headers=self._auth())
            if response.status_code >= 400:
                raise _graph_error(response)
        content_type = (
            media.content_type
            or _str(info.get("mime_type"))
            or _mime(response.headers.get("Content-Type", ""))
            or "application/octet-stream"
        )
        name = media.name
        if not name:
            extension = mimetypes.guess_extension(_mime(content_type)) or ""
            name = f"whatsapp-{media.ref}{extension}"
        return FetchedMedia(data=response.content, content_type=content_type, name=name)

    def templates_fetch(self) -> list[dict]:
        waba_id = self._setting("business_account_id", _("WhatsApp Business Account ID"))
        url: str | None = self._graph_url(f"{waba_id}/message_templates")
        params: dict | None = {"fields": "name,language,status,category,components", "limit": 100}
        templates: list[dict] = []
        with self.http() as client:
            for _page in range(MAX_TEMPLATE_PAGES):
                answer = self._call(client, "GET", url, params=params)
                for item in _list(answer.get("data")):
                    item = _dict(item)
                    if _str(item.get("name")):
                        templates.append(self._template_row(item))
                next_url = _str(_dict(answer.get("paging")).get("next"))
                # The token goes only to Meta's own host.
                if not next_url.startswith(django_settings.META_GRAPH_URL + "/"):
                    break
                url, params = next_url, None
        return templates

    @staticmethod
    def _template_row(item: dict) -> dict:
        components = [c for c in _list(item.get("components")) if isinstance(c, dict)]
        body = next(
            (_str(c.get("text")) for c in components if _str(c.get("type")).upper() == "BODY"),
            "",
        )
        status = _str(item.get("status")).upper()
        status = {
            "APPROVED": "approved",
            "PENDING": "pending",
            "IN_APPEAL": "pending",
            "REJECTED": "rejected",
            "PAUSED": "paused",
        }.get(status, "disabled")
        return {
            "name": _str(item.get("name")),
            "language": _str(item.get("language")),
            "category": _str(item.get("category")).lower(),
            "status": status,
            "body": body,
            "components": components,
        }

    def test_connection(self) -> ConnectionCheck:
        try:
            phone_id = self._setting("phone_number_id", _("phone number ID"))
            with self.http() as client:
                answer = self._call(
                    client,
                    "GET",
                    self._graph_url(phone_id),
                    params={"fields": "display_phone_number,verified_name"},
                )
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        return ConnectionCheck(
            ok=True,
            message=_("Connected to %(number)s (%(name)s).")
            % {
                "number": _str(answer.get("display_phone_number")) or phone_id,
                "name": _str(answer.get("verified_name")) or "?",
            },
        )

    def connect(self, webhook_url: str) -> ConnectionCheck:
        """Subscribe the token's app to the account's webhooks and point this number's
        `messages` webhooks at our URL (Meta's phone-number callback override), so that
        several numbers of one app each reach their own channel."""
        try:
            waba_id = self._setting("business_account_id", _("WhatsApp Business Account ID"))
            phone_id = self._setting("phone_number_id", _("phone number ID"))
            with self.http() as client:
                self._call(client, "POST", self._graph_url(f"{waba_id}/subscribed_apps"))
                # Meta checks the URL with a GET to `handshake` before saving it.
                self._call(
                    client,
                    "POST",
                    self._graph_url(phone_id),
                    json={
                        "webhook_configuration": {
                            "override_callback_uri": webhook_url,
                            "verify_token": self.channel.webhook_secret,
                        }
                    },
                )
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        check = self.test_connection()
        if not check.ok:
            return check
        return ConnectionCheck(
            ok=True,
            message=_("%(check)s Webhooks for this number go to %(url)s.")
            % {"check": check.message, "url": webhook_url},
        )
