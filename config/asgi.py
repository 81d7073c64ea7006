"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
django_asgi_app = get_asgi_application()  # set up Django before importing consumers

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from channels_app.widget.consumers import WidgetConsumer  # noqa: E402
from inbox.consumers import ConsoleConsumer  # noqa: E402

websocket_urlpatterns = [
    path("ws/console/", ConsoleConsumer.as_asgi()),
    # The widget's page is framed from our own origin, so the origin check holds for it too.
    path("ws/widget/<str:public_key>/", WidgetConsumer.as_asgi()),
]
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send Origin on websockets; only our own hosts may open one.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
