"""ASGI entry point: HTTP through Django, the two sockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from operators.consumers import OperatorConsumer  # noqa: E402
from visitors.consumers import VisitorConsumer  # noqa: E402

websocket_urls = URLRouter(
    [
        # Visitors are anonymous: no session lookup on the busiest socket.
        path("ws/visitor/", VisitorConsumer.as_asgi()),
        path("ws/operator/", AuthMiddlewareStack(OperatorConsumer.as_asgi())),
    ]
)

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_urls})
