"""ASGI entry point: HTTP through Django, the two sockets through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from chat.operator_socket import OperatorConsumer  # noqa: E402
from chat.visitor_socket import VisitorConsumer  # noqa: E402
from whitepanel import patches  # noqa: E402

patches.install()

websocket_urls = URLRouter(
    [
        # Visitors are anonymous: no session lookup on the busiest socket.
        path("ws/visitor/", VisitorConsumer.as_asgi()),
        path("ws/operator/", AuthMiddlewareStack(OperatorConsumer.as_asgi())),
    ]
)

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_urls})

# The collector's thresholds, raised: with the defaults (700, 10, 10) a daphne process
# under load promoted so many short-lived objects (a message's queries, futures, frames)
# that full collections ran every few seconds, each holding every socket of the process
# 100-190 ms (the relay's p99: 110-520 ms at 150 msg/s). Young collections about 3 times
# and middle ones 6 times rarer give the objects time to die first: p99 22 ms at 150 msg/s
# (docs/benchmarks.md). Higher thresholds (5000, 50) cost 20-40 KB more memory a socket.
# Full collections (the third number) 10 times rarer still: closed connections leave no
# garbage in cycles any more (closed_connections), so a full pass, 0.3-1 s at 1,500
# sockets on this machine, found next to nothing. What was loaded at startup is left out
# of every pass (freeze): a third of the objects a full pass went through at 1,000 sockets.
gc.set_threshold(2000, 20, 100)
gc.freeze()
