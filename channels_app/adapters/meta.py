"""Facebook Messenger and Instagram direct messages, plus comments on the account's posts.

Both speak Meta's Messenger Platform envelope: `{"object": "page"|"instagram", "entry": [
{"id", "time", "messaging": [...], "changes": [...]}]}`. Ingress is verified the Meta way:
a GET handshake (`hub.verify_token` = the channel's webhook secret) and an
`X-Hub-Signature-256` HMAC of the raw body with the app secret on every POST. `split` makes
one stored event per `messaging` item (a message, postback, reaction, receipt, edit ...) and
per `changes` item (a comment on a post), each carrying the object and entry it came from.

Egress goes to the Send API (`POST /{id}/messages`); answers to comments go either publicly
under the comment (`/{comment-id}/comments` on Facebook, `/{comment-id}/replies` on
Instagram) or privately as one message keyed by `recipient.comment_id`.

Instagram uses "Instagram API with Instagram Login" (graph.instagram.com, an Instagram user
token, no Facebook Page needed): Meta's setup for accounts without a Page and the one its
docs steer new apps to since July 2024. Setting `login` = "facebook" switches to the older
"Instagram API with Facebook Login" (graph.facebook.com, the linked Page's token).

Reference: developers.facebook.com/documentation/business-messaging/messenger-platform
(webhook events, Send API, attachment upload, private replies, error codes),
developers.facebook.com/docs/instagram-platform (webhooks and examples, messaging API,
comment moderation), developers.facebook.com/docs/graph-api (page feed webhooks, errors).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import httpx
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.enums import IdentityKind
from inbox.enums import DeliveryStatus

from .base import (
    Adapter,
    ChannelRules,
    Comment,
    ConnectionCheck,
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
    http_error,
    json_body,
    request_send,
    retry_after_seconds,
)
from .meta_webhooks import meta_handshake, meta_signature_verify

logger = logging.getLogger(__name__)

MB = 1024 * 1024
# InboundEvent.dedupe_key is 255 characters; longer keys are replaced by a digest.
MAX_KEY = 255

# Messenger takes image, video, audio and file attachments up to 25 MB ("Saving assets").
MESSENGER_MEDIA = {
    **dict.fromkeys(("image/jpeg", "image/png", "image/gif", "image/webp"), 25 * MB),
    **dict.fromkeys(("video/mp4", "video/quicktime", "video/webm", "video/3gpp"), 25 * MB),
    **dict.fromkeys(
        ("audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/wav", "audio/x-m4a"),
        25 * MB,
    ),
    **dict.fromkeys(
        (
            "application/pdf",
            "text/plain",
            "text/csv",
            "application/zip",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        25 * MB,
    ),
}
# Instagram's table: images png/jpeg 8 MB; video mp4/ogg/avi/mov/webm, audio
# aac/m4a/wav/mp4 and pdf files 25 MB.
INSTAGRAM_MEDIA = {
    "image/jpeg": 8 * MB,
    "image/png": 8 * MB,
    **dict.fromkeys(
        ("video/mp4", "video/ogg", "video/x-msvideo", "video/quicktime", "video/webm"), 25 * MB
    ),
    **dict.fromkeys(("audio/aac", "audio/mp4", "audio/x-m4a", "audio/wav", "audio/x-wav"), 25 * MB),
    "application/pdf": 25 * MB,
}

# Graph error codes Meta documents as temporary or throttling: worth trying again later.
TRANSIENT_CODES = frozenset(
    {
        1,  # API Unknown: "possibly a temporary issue due to downtime"
        2,  # API Service: temporary downtime
        4,  # Application request limit reached
        17,  # User request limit reached
        32,  # Page request limit reached
        341,  # Application limit reached
        613,  # Calls to this API have exceeded the rate limit
        1200,  # Messenger: temporary send message failure
    }
)
# Business Use Case rate limits (80001 Pages, 80002 Instagram, ... 80014).
BUC_THROTTLE_CODES = range(80001, 80015)

# Meta's reaction names, for the (older) events that carry no emoji.
REACTION_EMOJI = {
    "like": "👍",
    "love": "❤️",
    "smile": "😆",
    "laugh": "😆",
    "wow": "😮",
    "sad": "😢",
    "angry": "😠",
    "dislike": "👎",
}
# messaging item keys the Messenger Platform sends and we do not act on.
MESSAGING_EVENT_KEYS = (
    "message",
    "message_edit",
    "reaction",
    "read",
    "delivery",
    "postback",
    "referral",
    "optin",
    "account_linking",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
    "policy_enforcement",
    "game_play",
)


def _str(value) -> str:
    return "" if value is None else str(value)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _ts(value):
    """Meta mixes seconds (feed, Instagram entries) and milliseconds (messaging)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return from_timestamp(None)
    return from_timestamp(number, millis=number > 1e11)


def _digest(data) -> str:
    return body_digest(json.dumps(data, sort_keys=True, ensure_ascii=False).encode())


def _key(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    prefix = key.split(":", 1)[0]
    return f"{prefix}:{body_digest(key.encode())}"


def _attachment_type(content_type: str) -> str:
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


def _url_name(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) if path else ""


class MetaAdapter(Adapter):
    """What Messenger and Instagram share: the envelope, signatures, the Send API."""

    # The webhook `object` this kind receives, and the platform name comments carry.
    object_name: ClassVar[str]
    platform: ClassVar[str]
    # Webhook fields subscribed by `connect`.
    subscribed_fields: ClassVar[tuple[str, ...]]

    # Configuration -------------------------------------------------------------------
    def _token(self) -> str:
        raise NotImplementedError

    def _graph(self) -> str:
        """The Graph host and version requests go to."""
        return f"{django_settings.META_GRAPH_URL}/{django_settings.META_GRAPH_VERSION}"

    def _sender_id(self) -> str:
        """The node whose `/messages` edge sends (a Page, an Instagram account)."""
        raise NotImplementedError

    def _account_id(self) -> str:
        """The id Meta puts in `entry.id` for this channel's Page or Instagram account."""
        raise NotImplementedError

    def _own_ids(self, entry: dict) -> set[str]:
        """Ids that are this account itself (a comment by them is ours, not a customer's)."""
        return {i for i in (_str(entry.get("id")), self._account_id()) if i}

    def _headers(self) -> dict:
        # A header rather than `?access_token=`: URLs end up in logs, headers do not.
        return {"Authorization": f"Bearer {self._token()}"}

    # Ingress ---------------------------------------------------------------------------
    def handshake(self, request) -> HttpResponse:
        return meta_handshake(request, verify_token=self.channel.webhook_secret or "")

    def verify(self, request) -> None:
        meta_signature_verify(request, app_secret=self.credentials.get("app_secret") or "")

    def split(self, body: bytes, request) -> list[RawEvent]:
        data = json_body(body)
        if data.get("object") != self.object_name:
            raise PayloadMalformed(
                f"Expected object {self.object_name!r}, got {data.get('object')!r}."
            )
        entries = data.get("entry")
        if not isinstance(entries, list):
            raise PayloadMalformed("The body has no entry list.")
        events: list[RawEvent] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise PayloadMalformed("An entry is not an object.")
            envelope = {"id": _str(entry.get("id")), "time": entry.get("time")}
            for list_name in ("messaging", "standby"):
                for item in _list(entry.get(list_name)):
                    if isinstance(item, dict):
                        events.append(
                            RawEvent(
                                dedupe_key=_key(self._messaging_key(item)),
                                payload={
                                    "object": self.object_name,
                                    "entry": envelope,
                                    "messaging": item,
                                    "standby": list_name == "standby",
                                },
                            )
                        )
            for change in self._changes(entry):
                events.append(
                    RawEvent(
                        dedupe_key=_key(self._change_key(change)),
                        payload={"object": self.object_name, "entry": envelope, "change": change},
                    )
                )
        return events

    @staticmethod
    def _changes(entry: dict) -> Iterator[dict]:
        for change in _list(entry.get("changes")):
            if isinstance(change, dict):
                yield change
        # Meta's Instagram Login examples put one change straight on the entry.
        if "field" in entry and "value" in entry:
            yield {"field": entry.get("field"), "value": entry.get("value")}

    @staticmethod
    def _messaging_key(item: dict) -> str:
        sender = _str(_dict(item.get("sender")).get("id"))
        stamp = _str(item.get("timestamp"))
        message = _dict(item.get("message"))
        if message.get("mid"):
            mid = message["mid"]
            # An Instagram unsend repeats the deleted message's mid.
            return f"deleted:{mid}" if message.get("is_deleted") else mid
        if "message_edit" in item:
            edit = _dict(item["message_edit"])
            return f"edit:{_str(edit.get('mid'))}:{_str(edit.get('num_edit'))}"
        if "reaction" in item:
            reaction = _dict(item["reaction"])
            emoji = reaction.get("emoji") or reaction.get("reaction") or ""
            # The timestamp keeps react → unreact → react again three events.
            return f"reaction:{_str(reaction.get('mid'))}:{reaction.get('action')}:{emoji}:{stamp}"
        if "read" in item:
            read = _dict(item["read"])
            if read.get("mid"):
                return f"read:{read['mid']}"
            return f"read:{sender}:{_str(read.get('watermark'))}"
        if "delivery" in item:
            delivery = _dict(item["delivery"])
            mids = [_str(mid) for mid in _list(delivery.get("mids"))]
            if mids:
                return "delivery:" + ",".join(mids)
            return f"delivery:{sender}:{_str(delivery.get('watermark'))}"
        if "postback" in item:
            postback = _dict(item["postback"])
            if postback.get("mid"):
                return f"postback:{postback['mid']}"
            return "postback:" + _digest(item)
        if "referral" in item:
            return f"referral:{sender}:{stamp}"
        return "event:" + _digest(item)

    def _change_key(self, change: dict) -> str:
        field = _str(change.get("field"))
        value = _dict(change.get("value"))
        if field == "feed" and value.get("item") == "comment" and value.get("comment_id"):
            verb = _str(value.get("verb"))
            key = f"comment:{value['comment_id']}:{verb}"
            # A comment can be edited more than once.
            return f"{key}:{_str(value.get('created_time'))}" if verb == "edited" else key
        if field in ("comments", "live_comments") and value.get("id"):
            return f"comment:{value['id']}"
        if field == "mentions" and (value.get("comment_id") or value.get("media_id")):
            return f"mention:{value.get('comment_id') or value.get('media_id')}"
        if value.get("sender") and any(key in value for key in MESSAGING_EVENT_KEYS):
            # The App Dashboard's "Test" button sends messaging events as changes.
            return self._messaging_key(value)
        return f"change:{field}:{_digest(change)}"

    def parse(self, payload: dict) -> list[Event]:
        try:
            entry = _dict(payload.get("entry"))
            entry_id, own_id = _str(entry.get("id")), self._account_id()
            if entry_id and own_id and entry_id != own_id:
                # One app-wide callback URL serves every Page or account of the app; events
                # of another one are kept but not put into this channel's inbox.
                return [Ignored(f"event for account {entry_id}, not this channel's {own_id}")]
            if isinstance(payload.get("messaging"), dict):
                return self._parse_messaging(
                    payload["messaging"], entry, standby=bool(payload.get("standby"))
                )
            if isinstance(payload.get("change"), dict):
                return self._parse_change(payload["change"], entry)
            return [Ignored("Not a Meta messaging event or change.")]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # parse must be total; a shape Meta never documented is stored, not retried.
            logger.warning("Unreadable %s event: %s", self.kind, exc)
            return [Ignored(f"Unreadable {self.kind} event: {exc}")]

    def _sender(self, item: dict) -> Sender | None:
        sender_id = _str(_dict(item.get("sender")).get("id"))
        if not sender_id:
            return None
        return Sender(kind=self.identity_kind, value=sender_id)

    def _parse_messaging(self, item: dict, entry: dict, *, standby: bool) -> list[Event]:
        at = _ts(item.get("timestamp") or entry.get("time"))
        message = item.get("message")
        if isinstance(message, dict) and message.get("is_echo"):
            return [Ignored("echo of our own message")]
        sender = self._sender(item)
        if sender is None:
            # Chat plugin visitors come as `sender.user_ref`, which cannot be messaged back.
            return [Ignored("Sender has no id (a chat plugin user_ref).")]
        if isinstance(message, dict):
            if message.get("is_deleted"):
                return [MessageDeletion(external_id=_str(message.get("mid")), sender=sender, at=at)]
            return [self._message(item, message, sender, at, standby=standby)]
        if "message_edit" in item:
            edit = _dict(item["message_edit"])
            return [
                MessageEdit(
                    external_id=_str(edit.get("mid")),
                    sender=sender,
                    text=_str(edit.get("text")),
                    at=at,
                )
            ]
        if "reaction" in item:
            reaction = _dict(item["reaction"])
            emoji = ""
            if reaction.get("action") != "unreact":
                name = _str(reaction.get("reaction"))
                emoji = _str(reaction.get("emoji")) or REACTION_EMOJI.get(name, name)
            return [
                Reaction(external_id=_str(reaction.get("mid")), sender=sender, emoji=emoji, at=at)
            ]
        if "read" in item:
            read = _dict(item["read"])
            if read.get("mid"):
                return [StatusUpdate(_str(read["mid"]), DeliveryStatus.READ, at)]
            # Messenger's message_reads name no message, only "all before this time".
            return [Ignored("read receipt with a watermark only (no message ids)")]
        if "delivery" in item:
            delivery = _dict(item["delivery"])
            mids = [_str(mid) for mid in _list(delivery.get("mids")) if mid]
            if not mids:
                return [Ignored("delivery receipt with a watermark only (no message ids)")]
            when = _ts(delivery.get("watermark") or item.get("timestamp"))
            return [StatusUpdate(mid, DeliveryStatus.DELIVERED, when) for mid in mids]
        if "postback" in item:
            postback = _dict(item["postback"])
            title = _str(postback.get("title"))
            return [
                InboundMessage(
                    external_id=_str(postback.get("mid")) or "postback:" + _digest(item),
                    sender=sender,
                    sent_at=at,
                    text=title,
                    postback=Postback(payload=_str(postback.get("payload")), title=title),
                    referral=self._referral(postback.get("referral")),
                    extra=self._extra(standby=standby),
                )
            ]
        if "referral" in item:
            # The customer came back into an existing thread from an ad or a link.
            return [
                InboundMessage(
                    external_id=f"referral:{sender.value}:{_str(item.get('timestamp'))}",
                    sender=sender,
                    sent_at=at,
                    referral=self._referral(item["referral"]),
                    extra={**self._extra(standby=standby), "event": "referral"},
                )
            ]
        keys = sorted(k for k in item if k not in ("sender", "recipient", "timestamp"))
        return [Ignored(f"{self.kind} event we do not use: {', '.join(keys) or 'empty'}")]

    @staticmethod
    def _extra(*, standby: bool) -> dict:
        # Standby: another app of the Page's handover protocol owns the thread.
        return {"standby": True} if standby else {}

    def _message(
        self, item: dict, message: dict, sender: Sender, at, *, standby: bool
    ) -> InboundMessage:
        text = _str(message.get("text"))
        extra = self._extra(standby=standby)
        media: list[MediaRef] = []
        location = None
        sticker = _str(message.get("sticker_id") or "")
        for attachment in _list(message.get("attachments")):
            attachment = _dict(attachment)
            kind = _str(attachment.get("type"))
            body = _dict(attachment.get("payload"))
            url = _str(body.get("url"))
            if kind == "location":
                coordinates = _dict(body.get("coordinates"))
                try:
                    location = Location(
                        latitude=float(coordinates["lat"]),
                        longitude=float(coordinates["long"]),
                        name=_str(attachment.get("title")),
                        url=_str(attachment.get("url")),
                    )
                except (KeyError, TypeError, ValueError):
                    extra.setdefault("unreadable_attachments", []).append(attachment)
            elif kind == "fallback":
                # A shared link; Meta sends a fallback without payload for shares it hides.
                link = _str(attachment.get("url")) or url
                title = _str(attachment.get("title") or body.get("title"))
                if link:
                    extra.setdefault("links", []).append({"url": link, "title": title})
                    if not text:
                        text = f"{title}\n{link}" if title else link
            elif kind == "story_mention":
                # The customer mentioned the account in their story (a CDN link, ~24 h).
                extra["story_mention"] = {"url": url, "id": _str(body.get("id"))}
                if url:
                    media.append(MediaRef(ref=url, kind="file"))
            elif url and kind in ("image", "video", "audio", "file"):
                if body.get("sticker_id"):
                    sticker = _str(body["sticker_id"])
                    media.append(MediaRef(ref=url, kind="sticker"))
                else:
                    media.append(MediaRef(ref=url, kind=kind, name=_url_name(url)))
            elif url and kind in ("reel", "ig_reel", "share", "ig_post", "post"):
                # Shared reels and posts: the payload carries the media's own CDN link.
                extra.setdefault("shares", []).append(
                    {"type": kind, "url": url, "title": _str(body.get("title"))}
                )
                media.append(MediaRef(ref=url, kind="video" if "reel" in kind else "image"))
            else:
                extra.setdefault("unsupported_attachments", []).append(kind or "unknown")
        if message.get("is_unsupported"):
            # Instagram: a GIF, sticker or other content its API does not deliver.
            extra["unsupported"] = True
        reply_to = _dict(message.get("reply_to"))
        story = _dict(reply_to.get("story"))
        if story:
            extra["story_reply"] = {"id": _str(story.get("id")), "url": _str(story.get("url"))}
        quick_reply = _dict(message.get("quick_reply"))
        postback = None
        if quick_reply.get("payload") is not None:
            postback = Postback(payload=_str(quick_reply["payload"]), title=text)
        referral = self._referral(item.get("referral") or message.get("referral"))
        return InboundMessage(
            external_id=_str(message.get("mid")),
            sender=sender,
            sent_at=at,
            text=text,
            media=tuple(media),
            location=location,
            postback=postback,
            referral=referral,
            sticker=sticker,
            reply_to_external_id=_str(reply_to.get("mid")),
            extra=extra,
        )

    @staticmethod
    def _referral(data) -> Referral | None:
        if not isinstance(data, dict) or not data:
            return None
        source = _str(data.get("source")).upper()
        ads = _dict(data.get("ads_context_data"))
        product = _dict(data.get("product"))
        if source == "ADS" or data.get("ad_id"):
            return Referral(
                source="ad",
                source_id=_str(data.get("ad_id")),
                source_url=_str(ads.get("photo_url") or ads.get("video_url")),
                headline=_str(ads.get("ad_title")),
                # The ad's post: where the customer clicked "Send message".
                body=_str(ads.get("post_id")),
                ref=_str(data.get("ref")),
            )
        if product.get("id"):
            return Referral(source="product", source_id=_str(product["id"]))
        if source == "SHORTLINK":
            return Referral(source="shortlink", ref=_str(data.get("ref")))
        if source == "CUSTOMER_CHAT_PLUGIN":
            return Referral(
                source="chat_plugin",
                source_url=_str(data.get("referer_uri")),
                ref=_str(data.get("ref")),
            )
        return Referral(
            source=source.lower() or "link",
            source_url=_str(data.get("referer_uri")),
            ref=_str(data.get("ref")),
        )

    def _parse_change(self, change: dict, entry: dict) -> list[Event]:
        field = _str(change.get("field"))
        value = change.get("value")
        if not isinstance(value, dict):
            return [Ignored(f"{self.kind} change {field!r} without a value")]
        if value.get("sender") and any(key in value for key in MESSAGING_EVENT_KEYS):
            return self._parse_messaging(value, entry, standby=False)
        return self._parse_comment(field, value, entry)

    def _parse_comment(self, field: str, value: dict, entry: dict) -> list[Event]:
        raise NotImplementedError

    # Egress ----------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        options = message.options or {}
        reply_mode = options.get("reply_mode") or ""
        if reply_mode in ("public", "private"):
            return self._send_comment_reply(message, reply_mode)
        if reply_mode:
            raise PermanentError(
                _("Unknown reply mode %(mode)s.") % {"mode": reply_mode}, code="reply_mode"
            )
        if not message.text.strip() and not message.files:
            raise PermanentError(_("There is nothing to send."), code="empty")
        self._check_text(message.text)
        envelope = self._envelope({"id": message.recipient}, options)
        ids: list[str] = []
        # One attachment per Send API call: the text goes first, then each file.
        if message.text.strip():
            ids.append(self._send_json({**envelope, "message": {"text": message.text}}))
        for file in message.files:
            ids.append(self._send_file(envelope, file))
        return SendResult(external_id=next((i for i in ids if i), ""))

    def _check_text(self, text: str) -> None:
        if len(text) > self.rules.max_text_length:
            raise PermanentError(
                _("The text is longer than %(limit)s characters, the most %(kind)s takes.")
                % {"limit": self.rules.max_text_length, "kind": self.kind},
                code="text_too_long",
            )

    def _envelope(self, recipient: dict, options: dict) -> dict:
        tag = options.get("message_tag") or ""
        if tag == "HUMAN_AGENT":
            # Lets a human agent answer up to 7 days after the customer's last message.
            return {"recipient": recipient, "messaging_type": "MESSAGE_TAG", "tag": tag}
        if tag:
            raise PermanentError(
                _("Message tag %(tag)s is not supported; only HUMAN_AGENT is.") % {"tag": tag},
                code="message_tag",
            )
        return {"recipient": recipient, "messaging_type": "RESPONSE"}

    def _messages_url(self) -> str:
        return f"{self._graph()}/{self._sender_id()}/messages"

    def _send_json(self, body: dict) -> str:
        answer = self._post(self._messages_url(), json=body)
        return _str(answer.get("message_id"))

    def _send_file(self, envelope: dict, file: OutboundFile) -> str:
        raise NotImplementedError

    def _send_comment_reply(self, message: OutboundMessage, mode: str) -> SendResult:
        comment_id = message.reply_to_external_id
        if not comment_id:
            raise PermanentError(
                _("This reply should answer a comment, but no comment was given."),
                code="no_comment",
            )
        if message.files:
            # A private reply is a single message; public replies here carry text only.
            raise PermanentError(
                _("Replies to comments carry text only; send files in the direct messages."),
                code="comment_files",
            )
        if not message.text.strip():
            raise PermanentError(_("There is nothing to send."), code="empty")
        self._check_text(message.text)
        if mode == "private":
            body = {"recipient": {"comment_id": comment_id}, "message": {"text": message.text}}
            return SendResult(external_id=self._send_json(body))
        answer = self._post(self._public_reply_url(comment_id), data={"message": message.text})
        return SendResult(external_id=_str(answer.get("id")))

    def _public_reply_url(self, comment_id: str) -> str:
        raise NotImplementedError

    def _post(self, url: str, **kwargs) -> dict:
        with self.http() as client:
            response = request_send(client, "POST", url, headers=self._headers(), **kwargs)
        return self._answer(response)

    def _get(self, url: str, **kwargs) -> dict:
        with self.http() as client:
            response = request_send(client, "GET", url, headers=self._headers(), **kwargs)
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> dict:
        if not response.is_success:
            raise self._error(response)
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _error(self, response: httpx.Response) -> Exception:
        """Meta's error object → retry or give up, with Meta's own words for the agent."""
        try:
            error = _dict(_dict(response.json()).get("error"))
        except ValueError:
            error = {}
        if not error:
            return http_error(
                response, _("Meta answered HTTP %(status)s.") % {"status": response.status_code}
            )
        try:
            code = int(error.get("code") or 0)
            subcode = int(error.get("error_subcode") or 0)
        except (TypeError, ValueError):
            code = subcode = 0
        meta_message = _str(error.get("error_user_msg") or error.get("message"))
        code_text = f"{code}/{subcode}" if subcode else str(code)
        transient = (
            response.status_code == 429
            or response.status_code >= 500
            or bool(error.get("is_transient"))
            or (code in TRANSIENT_CODES and not (code == 1 and subcode == 99))
            or code in BUC_THROTTLE_CODES
        )
        if transient:
            reason = _("Meta is busy or throttling us; the message will be retried.")
            return TransientError(
                f"{reason} Meta: {meta_message} ({code_text})",
                retry_after=retry_after_seconds(response),
                code=code_text,
            )
        explanation = self._explain(code, subcode, meta_message)
        return PermanentError(f"{explanation} Meta: {meta_message} ({code_text})", code=code_text)

    @staticmethod
    def _explain(code: int, subcode: int, meta_message: str) -> str:
        if subcode in (2018278, 2534022) or "outside of allowed window" in meta_message.lower():
            return _(
                "The customer's last message is too old: Meta allows replies for 24 hours "
                "after it (7 days with the human agent tag)."
            )
        if code == 551 or subcode == 1545041:
            return _("This person can't be reached right now (they may have blocked the account).")
        if code == 190:
            return _("The access token is invalid or expired: paste a new one in the channel.")
        if code == 100 and subcode == 2018001:
            return _("Meta found no user with this id for this account.")
        if code == 368:
            return _("Meta has temporarily blocked this account from sending for policy reasons.")
        if code == 10900:
            return _("This comment has already received its one private reply.")
        if code in (10903, 2534023):
            return _("Meta does not allow replying to this comment or activity.")
        if code in (3, 10, 200, 230) or 200 <= code <= 299:
            return _("The app or token lacks a permission Meta requires for this.")
        return _("Meta refused the message.")

    # Media ------------------------------------------------------------------------------
    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        url = media.ref
        if not url.startswith(("https://", "http://")):
            raise PermanentError(_("This attachment has no downloadable link."), code="no_url")
        # Attachment links are public CDN (or lookaside) URLs that may redirect; no token.
        with httpx.Client(timeout=self.timeout, follow_redirects=True) as client:
            response = request_send(client, "GET", url)
        if response.status_code in (403, 404, 410):
            raise PermanentError(
                _("Meta no longer serves this file; its link has expired."),
                code=str(response.status_code),
            )
        if not response.is_success:
            raise http_error(
                response,
                _("Downloading the file failed with HTTP %(status)s.")
                % {"status": response.status_code},
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return FetchedMedia(
            data=response.content,
            content_type=content_type or media.content_type or "application/octet-stream",
            name=media.name or _url_name(str(response.url)),
        )

    # Setup -----------------------------------------------------------------------------
    def _subscription_fields(self) -> tuple[str, ...]:
        return self.subscribed_fields

    def connect(self, webhook_url: str) -> ConnectionCheck:
        check = self.test_connection()
        if not check.ok:
            return check
        url = f"{self._graph()}/{self._sender_id()}/subscribed_apps"
        fields = ",".join(self._subscription_fields())
        try:
            answer = self._post(url, params={"subscribed_fields": fields})
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        if not answer.get("success"):
            return ConnectionCheck(ok=False, message=_("Meta did not confirm the subscription."))
        return ConnectionCheck(
            ok=True,
            message=_(
                "%(check)s. Subscribed to %(fields)s. In the Meta app's Webhooks settings the "
                "callback URL must be %(url)s and the verify token this channel's webhook "
                "secret."
            )
            % {"check": check.message, "fields": fields, "url": webhook_url},
        )


class MessengerAdapter(MetaAdapter):
    kind = "messenger"
    object_name = "page"
    platform = "facebook"
    identity_kind = IdentityKind.MESSENGER
    rules = ChannelRules(
        max_text_length=2000,
        media_limits=MESSENGER_MEDIA,
        reply_window_hours=24,
        outside_window="message_tag",
        tag_window_hours=24 * 7,
        # The Send API takes 300/s for text but 10/s for audio and video: the lower bound.
        rate_per_second=10.0,
    )
    fields = (
        CredentialField(
            "page_access_token",
            gettext_lazy("Page access token"),
            secret=True,
            help_text=gettext_lazy(
                "A long-lived Page access token with pages_messaging (and "
                "pages_manage_engagement to answer comments publicly)."
            ),
        ),
        CredentialField(
            "app_secret",
            gettext_lazy("App secret"),
            secret=True,
            help_text=gettext_lazy("Meta app → App settings → Basic; signs every webhook."),
        ),
        CredentialField(
            "page_id",
            gettext_lazy("Page id"),
            help_text=gettext_lazy("The numeric id of the Facebook Page."),
        ),
    )
    subscribed_fields = (
        "messages",
        "messaging_postbacks",
        "message_reactions",
        "message_reads",
        "message_deliveries",
        "messaging_referrals",
        "message_echoes",
        "message_edits",
        "feed",
    )

    def _token(self) -> str:
        return self.credentials.get("page_access_token") or ""

    def _sender_id(self) -> str:
        return _str(self.settings.get("page_id"))

    def _account_id(self) -> str:
        return self._sender_id()

    def _public_reply_url(self, comment_id: str) -> str:
        return f"{self._graph()}/{comment_id}/comments"

    def _send_file(self, envelope: dict, file: OutboundFile) -> str:
        kind = _attachment_type(file.content_type)
        if not file.data and file.url:
            attachment = {"type": kind, "payload": {"url": file.url, "is_reusable": False}}
            return self._send_json({**envelope, "message": {"attachment": attachment}})
        # Upload and send in one multipart call: Meta needs no public link to our files.
        form = {
            key: json.dumps(value) if isinstance(value, dict) else value
            for key, value in envelope.items()
        }
        form["message"] = json.dumps(
            {"attachment": {"type": kind, "payload": {"is_reusable": False}}}
        )
        answer = self._post(
            self._messages_url(),
            data=form,
            files={"filedata": (file.name or "file", file.data, file.content_type)},
        )
        return _str(answer.get("message_id"))

    def _parse_comment(self, field: str, value: dict, entry: dict) -> list[Event]:
        if field != "feed":
            return [Ignored(f"Page webhook field {field!r} is not used")]
        item = _str(value.get("item"))
        verb = _str(value.get("verb"))
        if item != "comment":
            return [Ignored(f"Page feed {item or 'change'} ({verb}) is not used")]
        author = _dict(value.get("from"))
        if not author.get("id"):
            return [Ignored("comment without an author the Page may see")]
        if _str(author["id"]) in self._own_ids(entry):
            return [Ignored("our own Page's comment")]
        comment_id = _str(value.get("comment_id"))
        post_id = _str(value.get("post_id"))
        sender = Sender(
            kind=self.identity_kind,
            value=_str(author["id"]),
            name=_str(author.get("name")),
            details={"source": "facebook_comment"},
        )
        at = _ts(value.get("created_time") or entry.get("time"))
        if verb == "add":
            parent = _str(value.get("parent_id"))
            media = []
            if value.get("photo"):
                media.append(MediaRef(ref=_str(value["photo"]), kind="image"))
            if value.get("video"):
                media.append(MediaRef(ref=_str(value["video"]), kind="video"))
            return [
                InboundMessage(
                    external_id=comment_id,
                    sender=sender,
                    sent_at=at,
                    text=_str(value.get("message")),
                    media=tuple(media),
                    comment=Comment(
                        comment_id=comment_id,
                        post_id=post_id,
                        # A top-level comment's parent is the post itself.
                        parent_id=parent if parent != post_id else "",
                        permalink=_str(_dict(value.get("post")).get("permalink_url")),
                        platform=self.platform,
                    ),
                )
            ]
        if verb == "edited":
            return [
                MessageEdit(
                    external_id=comment_id, sender=sender, text=_str(value.get("message")), at=at
                )
            ]
        if verb == "remove":
            return [MessageDeletion(external_id=comment_id, sender=sender, at=at)]
        return [Ignored(f"comment {verb or 'change'} is not used")]

    def test_connection(self) -> ConnectionCheck:
        page_id = self._sender_id()
        if not page_id or not self._token():
            return ConnectionCheck(ok=False, message=_("The Page id and token are required."))
        try:
            answer = self._get(f"{self._graph()}/{page_id}", params={"fields": "name"})
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        name = _str(answer.get("name")) or page_id
        return ConnectionCheck(ok=True, message=_("Connected to %(name)s") % {"name": name})


class InstagramAdapter(MetaAdapter):
    kind = "instagram"
    object_name = "instagram"
    platform = "instagram"
    identity_kind = IdentityKind.INSTAGRAM
    rules = ChannelRules(
        # Meta: "Message text must be UTF-8 and be 1000 bytes or less" (checked in bytes too).
        max_text_length=1000,
        media_limits=INSTAGRAM_MEDIA,
        reply_window_hours=24,
        outside_window="message_tag",
        tag_window_hours=24 * 7,
        rate_per_second=10.0,
    )
    fields = (
        CredentialField(
            "access_token",
            gettext_lazy("Access token"),
            secret=True,
            help_text=gettext_lazy(
                "Instagram Login: a long-lived Instagram user token with "
                "instagram_business_manage_messages and instagram_business_manage_comments. "
                "Facebook Login: the linked Page's access token."
            ),
        ),
        CredentialField(
            "app_secret",
            gettext_lazy("App secret"),
            secret=True,
            help_text=gettext_lazy(
                "Instagram Login: the Instagram app secret (Instagram → API setup with "
                "Instagram login). Facebook Login: the Meta app secret."
            ),
        ),
        CredentialField(
            "instagram_account_id",
            gettext_lazy("Instagram account id"),
            help_text=gettext_lazy("The professional account's id (user_id from /me)."),
        ),
        CredentialField(
            "login",
            gettext_lazy("API setup"),
            required=False,
            default="instagram",
            help_text=gettext_lazy(
                "instagram (Instagram API with Instagram Login, recommended) or facebook "
                "(Instagram API with Facebook Login, through a linked Page)."
            ),
        ),
        CredentialField(
            "page_id",
            gettext_lazy("Linked Page id"),
            required=False,
            help_text=gettext_lazy("Only for the Facebook Login setup."),
        ),
    )
    subscribed_fields = (
        "messages",
        "messaging_postbacks",
        "messaging_seen",
        "message_reactions",
        "messaging_referral",
        "message_edit",
        "comments",
        "live_comments",
    )

    @property
    def facebook_login(self) -> bool:
        return self.settings.get("login") == "facebook"

    def _token(self) -> str:
        return self.credentials.get("access_token") or ""

    def _graph(self) -> str:
        if self.facebook_login:
            return super()._graph()
        return f"{django_settings.INSTAGRAM_GRAPH_URL}/{django_settings.META_GRAPH_VERSION}"

    def _account_id(self) -> str:
        return _str(self.settings.get("instagram_account_id"))

    def _sender_id(self) -> str:
        if self.facebook_login:
            return _str(self.settings.get("page_id"))
        return self._account_id()

    def _subscription_fields(self) -> tuple[str, ...]:
        if self.facebook_login:
            # Facebook Login: Instagram fields are chosen in the App Dashboard; the linked
            # Page only has to be subscribed to some Page field.
            return ("feed",)
        return self.subscribed_fields

    def _envelope(self, recipient: dict, options: dict) -> dict:
        envelope = super()._envelope(recipient, options)
        if envelope["messaging_type"] == "RESPONSE":
            # Instagram's examples send only recipient and message for a plain reply.
            del envelope["messaging_type"]
        return envelope

    def _check_text(self, text: str) -> None:
        super()._check_text(text)
        if len(text.encode()) > 1000:
            raise PermanentError(
                _("Instagram takes at most 1000 bytes of text; shorten the message."),
                code="text_too_long",
            )

    def _public_reply_url(self, comment_id: str) -> str:
        return f"{self._graph()}/{comment_id}/replies"

    def _send_file(self, envelope: dict, file: OutboundFile) -> str:
        if not file.url:
            # Instagram fetches attachments from a link; it takes no upload of images.
            raise PermanentError(
                _(
                    "Instagram only takes files by link, and this server has no public "
                    "address (PUBLIC_URL) to give one."
                ),
                code="no_public_url",
            )
        attachment = {"type": _attachment_type(file.content_type), "payload": {"url": file.url}}
        return self._send_json({**envelope, "message": {"attachment": attachment}})

    def _parse_comment(self, field: str, value: dict, entry: dict) -> list[Event]:
        if field == "mentions":
            return [
                Ignored(
                    "@mention: Meta sends only ids; reading the mentioning comment "
                    "is not supported yet"
                )
            ]
        if field not in ("comments", "live_comments"):
            return [Ignored(f"Instagram webhook field {field!r} is not used")]
        author = _dict(value.get("from"))
        if not author.get("id"):
            return [Ignored("comment without an author")]
        if _str(author["id"]) in self._own_ids(entry):
            return [Ignored("our own account's comment")]
        comment_id = _str(value.get("id"))
        media = _dict(value.get("media"))
        username = _str(author.get("username"))
        extra = {"media_product_type": _str(media.get("media_product_type"))}
        if field == "live_comments":
            extra["live"] = True
        if media.get("ad_id"):
            extra["ad"] = {"id": _str(media["ad_id"]), "title": _str(media.get("ad_title"))}
        return [
            InboundMessage(
                external_id=comment_id,
                sender=Sender(
                    kind=self.identity_kind,
                    value=_str(author["id"]),
                    name=username,
                    details={"username": username, "source": "instagram_comment"},
                ),
                # Comment notifications carry no time of their own, only the entry's.
                sent_at=_ts(entry.get("time")),
                text=_str(value.get("text")),
                comment=Comment(
                    comment_id=comment_id,
                    post_id=_str(media.get("id")),
                    parent_id=_str(value.get("parent_id")),
                    platform=self.platform,
                ),
                extra=extra,
            )
        ]

    def test_connection(self) -> ConnectionCheck:
        account_id = self._account_id()
        if not account_id or not self._token():
            return ConnectionCheck(
                ok=False, message=_("The Instagram account id and token are required.")
            )
        if self.facebook_login and not self._sender_id():
            return ConnectionCheck(
                ok=False, message=_("The Facebook Login setup needs the linked Page id.")
            )
        try:
            if self.facebook_login:
                answer = self._get(f"{self._graph()}/{account_id}", params={"fields": "username"})
            else:
                answer = self._get(f"{self._graph()}/me", params={"fields": "user_id,username"})
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        user_id = _str(answer.get("user_id"))
        if user_id and user_id != account_id:
            return ConnectionCheck(
                ok=False,
                message=_(
                    "The token belongs to account %(token_id)s, not %(account_id)s: webhooks "
                    "would not match this channel."
                )
                % {"token_id": user_id, "account_id": account_id},
            )
        name = _str(answer.get("username"))
        name = f"@{name}" if name else account_id
        return ConnectionCheck(ok=True, message=_("Connected to %(name)s") % {"name": name})
