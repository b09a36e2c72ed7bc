"""The floor of a navigation: what daphne and Channels cost for the frames of a visitor's page
with no White Panel logic, the presence ramp's counterpart of the bare relay (scenario e).

    python -m bench.floor --visitors 2000 3000 --out /tmp/floor

`application` answers the visitor socket's frames as White Panel does, with nothing behind them:
`hello` gets a `welcome`, `page` nothing, `ping` a `pong`; no database, no Redis command, no event
to a panel. It runs on the same daphne flags (whitepanel/launch.py), behind the same nginx and
with the same channel layer (one Redis channel per process, chat/layers.py) as the benchmark's
White Panel, and bench/load.py's presence visitors drive it as they drive White Panel, so
daphne's CPU per navigation here against scenario a's is White Panel's own share.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")

import django

django.setup()

from channels.exceptions import StopConsumer  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

WELCOME = json.dumps({"type": "welcome", "token": "t" * 43, "visitor": 1, "room": None})


class FloorVisitor(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict) -> None:
        # As White Panel's sockets do (chat/sockets.py): no hop to close database connections.
        handler = getattr(self, message["type"].replace(".", "_"))
        await handler(message)

    async def websocket_disconnect(self, message: dict) -> None:
        raise StopConsumer()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        kind = json.loads(text_data or "{}").get("type")
        if kind == "hello":
            await self.send(WELCOME)
        elif kind == "ping":
            await self.send('{"type":"pong"}')


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/visitor/", FloorVisitor.as_asgi())])})


def main(argv: list[str] | None = None) -> int:
    import argparse
    import shutil
    import time
    from pathlib import Path

    from bench.run import SITE, Gen, Meter, merged, quit_all, say
    from bench.stack import NGINX, Stack, python_speed, work_dir

    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--visitors", type=int, nargs="+", default=[2000])
    parser.add_argument("--nav", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--think", default="exponential")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    work = work_dir()
    stack = Stack(work)
    results = {"speed_before": python_speed(), "steps": []}
    try:
        redis_url = stack.start_redis()
        stack.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WP_") and k != "DATABASE_URL"},
            "REDIS_URL": redis_url,
            "WP_REDIS_PREFIX": "wpfloor",
            "WP_VAR_DIR": str(work / "var"),
            "DJANGO_SETTINGS_MODULE": "whitepanel.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
        }
        base = stack.start_daphne(app="bench.floor:application", name="daphne-floor")
        # Behind nginx as the presence ramp is, when it is installed (bench/run.py).
        front = stack.start_nginx([base]) if os.access(NGINX, os.X_OK) else base
        meter = Meter(stack, "")
        gen = Gen(stack, "gen-floor")
        held = 0
        try:
            for target in args.visitors:
                gen.ask(
                    "visitors", bases=[front], n=target - held, site=SITE, protocol="wp", nav=args.nav, think=args.think
                )
                held = target
                time.sleep(10)
                gen.ask("drain")
                meter.start()
                time.sleep(args.window)
                cpu = meter.stop()
                drain = merged([gen.ask("drain")])
                step = {"visitors": target, "navigations": drain["counts"].get("navigations", 0), **cpu}
                step["daphne_ms_per_navigation"] = round(
                    10 * cpu["cpu_daphne"] * args.window / max(1, step["navigations"]), 2
                )
                step["errors"] = drain["errors"]
                results["steps"].append(step)
                say(f"floor {target} visitors: {step}")
        finally:
            quit_all(stack, [gen])
        results["speed_after"] = python_speed()
    finally:
        stack.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "floor.json").write_text(json.dumps(results, indent=1))
    # As bench/run.py: the logs stay only when something failed (above) or when asked for.
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
