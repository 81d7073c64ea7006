"""The product's ASGI application plus one test-only websocket, /ws/_probe/, behind the
same origin check and authentication as the product's: it says who the connection is
signed in as and echoes what it receives. Lets the harness prove its websocket client
before the product has websocket routes of its own.

    start_servers(app="tests.live.probe_asgi:application")"""

import json
import os

from config.asgi import application as product_application  # sets Django up first

# isort: split
from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import WebsocketConsumer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

PROBE_PREFIX = "/ws/_probe/"


class WhoAmIConsumer(WebsocketConsumer):
    def connect(self):
        self.accept()
        user = self.scope["user"]
        self.send(
            text_data=json.dumps(
                {
                    "email": user.email if user.is_authenticated else None,
                    "pid": os.getpid(),
                }
            )
        )

    def receive(self, text_data=None, bytes_data=None):
        self.send(text_data=text_data, bytes_data=bytes_data)


probe_application = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter([path("ws/_probe/", WhoAmIConsumer.as_asgi())]))
)


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == PROBE_PREFIX:
        return await probe_application(scope, receive, send)
    return await product_application(scope, receive, send)
