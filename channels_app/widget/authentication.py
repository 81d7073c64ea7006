from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from .services import visitor_session_get


class VisitorTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Visitor <token>`, the token `POST .../session` gave the widget.
    The request's `auth` is then the VisitorSession; there is no Django user."""

    keyword = "Visitor"

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        keyword, _sep, token = header.partition(" ")
        if keyword != self.keyword or not token.strip():
            return None
        view = request.parser_context["view"]
        session = visitor_session_get(channel=view.channel, token=token.strip())
        if session is None:
            raise exceptions.AuthenticationFailed(_("This chat session is no longer valid."))
        return AnonymousUser(), session

    def authenticate_header(self, request):
        return self.keyword


class VisitorTokenScheme(OpenApiAuthenticationExtension):
    target_class = VisitorTokenAuthentication
    name = "visitorAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Visitor <token>`, as returned by the widget's session endpoint.",
        }


class WidgetIpThrottle(throttling.SimpleRateThrottle):
    """Per client IP; generous, so that a whole office behind one address still chats."""

    scope = "widget_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WidgetVisitorThrottle(throttling.SimpleRateThrottle):
    """Per visitor, on every request that carries a session."""

    scope = "widget_visitor"

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        ident = request.auth.identity.value
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WidgetSendThrottle(WidgetVisitorThrottle):
    """Per visitor, on messages and files."""

    scope = "widget_send"


class WidgetNewVisitorThrottle(WidgetIpThrottle):
    """Per IP, on sessions that start a new visitor (checked by the session view)."""

    scope = "widget_new_visitor"
