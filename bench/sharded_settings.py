"""Scenario d's settings: White Panel's own, with the channel layer sharded over several Redis servers
(channels-redis spreads channels and groups over its `hosts`). BENCH_LAYER_HOSTS: comma-separated URLs.
Celery's broker, presence and rate limits stay on REDIS_URL."""

import os

from whitepanel.settings import *  # noqa: F403
from whitepanel.settings import CHANNEL_LAYERS

_layer = CHANNEL_LAYERS["default"]
CHANNEL_LAYERS = {
    "default": {**_layer, "CONFIG": {**_layer["CONFIG"], "hosts": os.environ["BENCH_LAYER_HOSTS"].split(",")}}
}
