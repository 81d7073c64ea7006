"""LINE Messaging API (https://developers.line.biz/en/reference/messaging-api/).

One LINE Official Account (a Messaging API channel) is one channel. LINE signs each webhook
body with HMAC-SHA256 of the channel secret (base64, in X-Line-Signature) and batches events
in `events[]`, each with its own `webhookEventId`. Replies go through the free reply API
while the event's reply token is fresh, otherwise through the push API, which counts
against the account's monthly message quota.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from django.conf import settings as django_settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.enums import IdentityKind

from .base import (
    Adapter,
    ChannelRules,
    ConnectionCheck,
    ContactEvent,
    CredentialField,
    Event,
    FetchedMedia,
    Ignored,
    InboundMessage,
    Location,
    MediaRef,
    MessageDeletion,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    Postback,
    RawEvent,
    Sender,
    SendResult,
    SignatureInvalid,
    TransientError,
    body_digest,
    from_timestamp,
    json_body,
    request_send,
    retry_after_seconds,
    signatures_match,
)

MB = 1024 * 1024
SIGNATURE_HEADER = "X-Line-Signature"
MAX_TEXT = 5000
MAX_MESSAGES = 5  # message objects in one reply or push call
# LINE: "reply tokens must be used within one minute after receiving the webhook"; we stop
# trying them well before, since the outbox may take a few seconds to get to a message.
REPLY_TOKEN_USABLE = timedelta(seconds=45)
MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "file"}


class LineAdapter(Adapter):
    kind = "line"
    identity_kind = IdentityKind.LINE
    rules = ChannelRules(
        max_text_length=MAX_TEXT,
        # Image messages are links LINE fetches: JPEG or PNG, up to 10 MB, over HTTPS.
        media_limits={"image/jpeg": 10 * MB, "image/png": 10 * MB},
        reply_window_hours=None,
        # The reply and push endpoints take 2,000 requests a second per channel.
        rate_per_second=2000.0,
        # Five message objects a call: the text plus up to four images.
        max_files=MAX_MESSAGES - 1,
        text_with_files=True,
        files_by_url=True,
    )
    fields = (
        CredentialField(
            name="channel_secret",
            label=gettext_lazy("Channel secret"),
            secret=True,
            help_text=gettext_lazy(
                "LINE Developers console → your Messaging API channel → Basic settings."
            ),
        ),
        CredentialField(
            name="channel_access_token",
            label=gettext_lazy("Channel access token (long-lived)"),
            secret=True,
            help_text=gettext_lazy(
                "LINE Developers console → your channel → Messaging API → Channel access "
                "token (long-lived) → Issue."
            ),
        ),
    )

    # Ingress ------------------------------------------------------------------------
    def verify(self, request) -> None:
        secret = self.credentials.get("channel_secret") or ""
        if not secret:
            raise SignatureInvalid("The LINE channel secret is not set.")
        digest = hmac.new(secret.encode(), request.body, hashlib.sha256).digest()
        expected = base64.b64encode(digest)
        if not signatures_match(expected, request.headers.get(SIGNATURE_HEADER)):
            raise SignatureInvalid("The LINE signature is missing or wrong.")

    def split(self, body: bytes, request) -> list[RawEvent]:
        data = json_body(body)
        events = data.get("events")
        if not isinstance(events, list):
            raise PayloadMalformed("A LINE webhook body has an events list.")
        destination = data.get("destination") or ""
        raw = []
        # An empty list is the console's "Verify" (and the webhook test): nothing to store.
        for event in events:
            if not isinstance(event, dict):
                raise PayloadMalformed("A LINE event is a JSON object.")
            event_id = event.get("webhookEventId")
            key = (
                f"event:{event_id}"
                if event_id
                else body_digest(json.dumps(event, sort_keys=True).encode())
            )
            raw.append(
                RawEvent(dedupe_key=key, payload={"destination": destination, "event": event})
            )
        return raw

    def parse(self, payload: dict) -> list[Event]:
        try:
            return self._parse(payload.get("event") or {})
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return [Ignored(f"LINE event not understood: {exc!r}")]

    def _parse(self, event: dict) -> list[Event]:
        kind = event.get("type")
        if event.get("mode") == "standby":
            # Another channel is the active module of this account: it answers, not us.
            return [Ignored("LINE event in standby mode: another module is active.")]
        source = event.get("source") or {}
        if source.get("type") != "user":
            return [
                Ignored(
                    f"LINE {source.get('type')} chat: only one-to-one chats with the "
                    "account are served."
                )
            ]
        user_id = source.get("userId")
        if not user_id:
            return [Ignored("LINE event without a user id.")]
        sender = Sender(kind=self.identity_kind, value=str(user_id))
        at = from_timestamp(event.get("timestamp"), millis=True)
        reply_token = event.get("replyToken") or ""
        if kind == "message":
            return [self._message(event["message"], sender, at, reply_token)]
        if kind in ("follow", "unfollow"):
            return [ContactEvent(sender=sender, action=kind, at=at, reply_token=reply_token)]
        if kind == "postback":
            postback = event["postback"]
            extra = {"postback_params": postback["params"]} if postback.get("params") else {}
            return [
                InboundMessage(
                    external_id=f"postback:{event.get('webhookEventId') or at.timestamp()}",
                    sender=sender,
                    sent_at=at,
                    postback=Postback(payload=str(postback.get("data") or "")),
                    reply_token=reply_token,
                    extra=extra,
                )
            ]
        if kind == "unsend":
            return [
                MessageDeletion(external_id=str(event["unsend"]["messageId"]), sender=sender, at=at)
            ]
        return [Ignored(f"LINE {kind} events are not used.")]

    def _message(self, message: dict, sender: Sender, at: datetime, reply_token: str) -> Event:
        kind = message.get("type")
        message_id = str(message["id"])
        text = ""
        media: tuple[MediaRef, ...] = ()
        location = None
        sticker = ""
        extra: dict = {}
        if kind == "text":
            text = message.get("text") or ""
        elif kind in MEDIA_KINDS:
            provider = message.get("contentProvider") or {}
            # "external": the file lives at the sender's URL, not on LINE's servers.
            ref = (
                provider.get("originalContentUrl") or message_id
                if provider.get("type") == "external"
                else message_id
            )
            media = (
                MediaRef(
                    ref=ref,
                    name=message.get("fileName") or "",
                    size=message.get("fileSize"),
                    kind=MEDIA_KINDS[kind],
                ),
            )
            if message.get("imageSet"):
                extra["image_set"] = message["imageSet"]
        elif kind == "location":
            location = Location(
                latitude=float(message["latitude"]),
                longitude=float(message["longitude"]),
                name=message.get("title") or "",
                address=message.get("address") or "",
            )
        elif kind == "sticker":
            sticker = f"{message.get('packageId')}/{message.get('stickerId')}"
            # Only "message stickers" carry text the customer typed on them.
            text = message.get("text") or ""
            if message.get("keywords"):
                extra["sticker_keywords"] = message["keywords"]
        else:
            return Ignored(f"LINE {kind} messages are not shown.")
        return InboundMessage(
            external_id=message_id,
            sender=sender,
            sent_at=at,
            text=text,
            media=media,
            location=location,
            sticker=sticker,
            reply_to_external_id=str(message.get("quotedMessageId") or ""),
            reply_token=reply_token,
            extra=extra,
        )

    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        if media.ref.startswith(("https://", "http://")):
            if not media.ref.startswith("https://"):
                raise PermanentError(_("LINE gave a file link that is not HTTPS."))
            # The sender's own server: it never gets our token.
            with self.http() as client:
                response = request_send(client, "GET", media.ref)
        else:
            url = (
                f"{django_settings.LINE_DATA_API_URL}/v2/bot/message/"
                f"{quote(media.ref, safe='')}/content"
            )
            with self.http() as client:
                response = request_send(client, "GET", url, headers=self._auth())
        if response.status_code == 202:
            # Video and audio are transcoded first; LINE answers 202 until they are ready.
            raise TransientError(_("LINE is still preparing this file."), code="202")
        if response.status_code != 200:
            raise self._error(response)
        content_type = (
            response.headers.get("Content-Type", "").split(";")[0].strip()
            or media.content_type
            or "application/octet-stream"
        )
        # Only files carry a name; give pictures and recordings one from their type.
        name = media.name or (f"line-{media.kind}{mimetypes.guess_extension(content_type) or ''}")
        return FetchedMedia(data=response.content, content_type=content_type, name=name)

    # Egress -------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        messages = self._messages(message)
        if message.reply_token and _fresh(message.reply_token_at):
            response = self._post(
                "/v2/bot/message/reply",
                {"replyToken": message.reply_token, "messages": messages},
            )
            if response.status_code == 200:
                return SendResult(external_id=_sent_id(response))
            if not _invalid_reply_token(response):
                raise self._error(response)
            # Expired or already used after all: push instead, in this same attempt.
        headers = {}
        if message.idempotency_key:
            headers["X-Line-Retry-Key"] = _retry_key(message.idempotency_key)
        response = self._post(
            "/v2/bot/message/push", {"to": message.recipient, "messages": messages}, headers
        )
        # 409 with our retry key: an earlier attempt was accepted, so this one is sent.
        if response.status_code == 200 or (response.status_code == 409 and headers):
            return SendResult(external_id=_sent_id(response))
        raise self._error(response)

    def _messages(self, message: OutboundMessage) -> list[dict]:
        out: list[dict] = []
        for file in message.files:
            if file.content_type not in self.rules.media_limits:
                raise PermanentError(
                    _("LINE accepts only JPEG and PNG images from us, not %(type)s.")
                    % {"type": file.content_type or file.name}
                )
            if not file.url:
                raise PermanentError(
                    _(
                        "LINE fetches images from a public HTTPS link, and this server has "
                        "none: set PUBLIC_URL to its https:// address to send files to LINE."
                    ),
                    code="no_public_url",
                )
            if not file.url.startswith("https://"):
                raise PermanentError(
                    _("LINE fetches images over HTTPS only: PUBLIC_URL must start with https://."),
                    code="no_https",
                )
            # The preview is the same picture; LINE's apps scale it down.
            out.append(
                {"type": "image", "originalContentUrl": file.url, "previewImageUrl": file.url}
            )
        if message.text:
            out.append({"type": "text", "text": message.text})
        if not out:
            raise PermanentError(_("There is nothing to send."))
        if len(out) > MAX_MESSAGES:
            raise PermanentError(
                _("LINE takes at most %(n)d messages at once (text and images together).")
                % {"n": MAX_MESSAGES}
            )
        return out

    def profile_fetch(self, user_id: str) -> Sender:
        """The customer's display name, picture and language (a separate call: the webhook
        carries none). Only works while they are a friend of the account."""
        response = self._get(f"/v2/bot/profile/{quote(user_id, safe='')}")
        if response.status_code != 200:
            raise self._error(response)
        profile = _json(response)
        return Sender(
            kind=self.identity_kind,
            value=str(profile.get("userId") or user_id),
            name=profile.get("displayName") or "",
            avatar_url=profile.get("pictureUrl") or "",
            language=profile.get("language") or "",
        )

    def test_connection(self) -> ConnectionCheck:
        try:
            response = self._get("/v2/bot/info")
            if response.status_code != 200:
                raise self._error(response)
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        info = _json(response)
        return ConnectionCheck(
            ok=True,
            message=_("Connected to %(name)s")
            % {"name": info.get("displayName") or info.get("basicId", "")},
        )

    def connect(self, webhook_url: str) -> ConnectionCheck:
        check = self.test_connection()
        if not check.ok:
            return check
        try:
            response = self._request(
                "PUT", "/v2/bot/channel/webhook/endpoint", json={"endpoint": webhook_url}
            )
            if response.status_code != 200:
                raise self._error(response)
            current = self._get("/v2/bot/channel/webhook/endpoint")
            active = current.status_code == 200 and bool(_json(current).get("active"))
            # LINE calls our webhook with an empty event list and tells us how it went.
            test = self._post("/v2/bot/channel/webhook/test", {"endpoint": webhook_url})
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(
                ok=False, message=_("LINE refused the webhook: %(reason)s") % {"reason": exc.reason}
            )
        message = _("%(check)s; webhook set to %(url)s.") % {
            "check": check.message,
            "url": webhook_url,
        }
        result = _json(test)
        if test.status_code == 200 and not result.get("success", False):
            return ConnectionCheck(
                ok=False,
                message=message
                + " "
                + _("LINE could not reach it: %(reason)s (%(detail)s).")
                % {"reason": result.get("reason", ""), "detail": result.get("detail", "")},
            )
        if not active:
            return ConnectionCheck(
                ok=False,
                message=message
                + " "
                + _(
                    'Turn on "Use webhook" in the LINE Developers console (Messaging API tab), '
                    "or LINE will not send events."
                ),
            )
        return ConnectionCheck(ok=True, message=message)

    # HTTP ---------------------------------------------------------------------------
    def _auth(self) -> dict:
        token = self.credentials.get("channel_access_token") or ""
        if not token:
            raise PermanentError(_("The LINE channel access token is not set."), code="config")
        return {"Authorization": f"Bearer {token}"}

    def _request(
        self, method: str, path: str, *, headers: dict | None = None, **kwargs
    ) -> httpx.Response:
        url = f"{django_settings.LINE_API_URL}{path}"
        with self.http() as client:
            return request_send(
                client, method, url, headers={**self._auth(), **(headers or {})}, **kwargs
            )

    def _get(self, path: str) -> httpx.Response:
        return self._request("GET", path)

    def _post(self, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
        return self._request("POST", path, json=body, headers=headers)

    def _error(self, response: httpx.Response) -> Exception:
        reason = _("LINE said: %(message)s") % {"message": _line_message(response)}
        status = response.status_code
        if status == 429 and "monthly limit" in reason.lower():
            # The push quota, not a rate: waiting seconds does not help.
            explanation = _(
                "This LINE Official Account has used its monthly message quota; push messages "
                "resume next month or after upgrading the plan. Replies within a minute of the "
                "customer's message are free."
            )
            return PermanentError(f"{explanation} {reason}", code="quota")
        if status == 429 or status >= 500:
            return TransientError(
                reason, retry_after=retry_after_seconds(response), code=str(status)
            )
        if status == 401:
            explanation = _("LINE refused the channel access token: issue a new one.")
            return PermanentError(f"{explanation} {reason}", code="401")
        return PermanentError(reason, code=str(status))


def _fresh(issued_at: datetime | None) -> bool:
    if issued_at is None:
        return False
    if issued_at.tzinfo is None:
        issued_at = issued_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - issued_at < REPLY_TOKEN_USABLE


def _invalid_reply_token(response: httpx.Response) -> bool:
    return response.status_code == 400 and "reply token" in _line_message(response).lower()


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _line_message(response: httpx.Response) -> str:
    body = _json(response)
    text = str(body.get("message") or f"HTTP {response.status_code}")
    details = [
        f"{d.get('property')}: {d.get('message')}" if d.get("property") else str(d.get("message"))
        for d in body.get("details") or []
        if isinstance(d, dict)
    ]
    return f"{text} ({'; '.join(details)})" if details else text


def _sent_id(response: httpx.Response) -> str:
    """The first message's id when LINE lists them (reply, push, and a 409 on a retried
    push), else the id of the request that was accepted."""
    sent = _json(response).get("sentMessages")
    if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id"):
        return str(sent[0]["id"])
    return response.headers.get("x-line-accepted-request-id") or response.headers.get(
        "x-line-request-id", ""
    )


def _retry_key(key: str) -> str:
    # LINE takes a UUID in hex form; any other key becomes a stable UUID of itself.
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, key))
